"""Loading models: the recipe's `model:` section (ModelArgs) and its checks, then a model name (any form
model_names.py knows: a Hub id, a local folder, a .gguf file, the embedded default, or `tiny:<arch>`) turned into a
tokenizer and a model ready to train or generate.

Everything is turned into a plain Hugging Face folder first (`materialize`): TRL's trainers rebuild the reference
model from `config._name_or_path`, and loading the embedded GGUF (dequantizing it) costs ~40 s, so it is converted
once into the cache (`$R1LITE_CACHE`, default ~/.cache/r1lite) and reused.

Top to bottom: ModelArgs and the checks validate() runs (check_model, check_model_name, check_model_path);
materialize (a tiny model built in code, a GGUF dequantized, R1's sampling defaults written); the tokenizer (ChatML
added when it has no chat template); the model (dtype, quantization, model_init_kwargs, LoRA adapter folders merged),
load_model for training and load_inference_model for eval and generation.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import json
import os
import shutil
import string
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trl.trainer.model_config import ModelConfig  # a plain dataclass module: importing it loads no transformers

from r1lite.jsonl import write_atomic
from r1lite.models.model_names import EMBEDDED, TINY_ARCHS, ModelSource, check_model_source, module_names, resolve
from r1lite.recipe import ConfigError, check_positive

CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (  # ChatML, with {% generation %} markers so SFT can train on assistant tokens only
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class ModelArgs(ModelConfig):
    """TRL's ModelConfig (model_name_or_path, dtype, use_peft, lora_*, load_in_4bit, ...) plus what r1lite adds.

    model_name_or_path also takes a local folder, a .gguf file, an embedded name (smollm2-135m) or tiny:<arch>;
    dtype "auto" means bf16 on a GPU and fp32 on CPU.
    """

    model_name_or_path: str | None = "smollm2-135m"
    dtype: str | None = "auto"
    trust_remote_code: bool = False  # executing a model repo's code is opt-in


def check_dtype(dtype: Any, where: str) -> None:
    dtypes = ("auto", "bfloat16", "float16", "float32")
    if dtype not in dtypes:
        raise ConfigError(f"{where}: {dtype!r} is not allowed; allowed values: {', '.join(dtypes)}")


def check_model_name(name: Any, where: str, served: bool = False) -> None:
    """A model name is given (null would fail later as a TypeError); `served`: it names a model on an
    OpenAI-compatible server, not one r1lite loads."""
    if not name:
        what = ("the model's name on the openai backend's server, e.g. deepseek-reasoner" if served else
                f"a Hub id, a local folder, a .gguf file, {', '.join(EMBEDDED)} or tiny:<{'|'.join(TINY_ARCHS)}>")
        raise ConfigError(f"{where}: required ({what})")


def check_model(model: Any, where: str = "model") -> None:
    check_model_name(model.model_name_or_path, f"{where}.model_name_or_path")
    check_model_path(model.model_name_or_path, f"{where}.model_name_or_path")
    check_dtype(model.dtype, f"{where}.dtype")
    if model.use_peft:
        check_positive(f"{where}.lora_r", model.lora_r)
        targets = model.lora_target_modules
        targets = [targets] if isinstance(targets, str) else (targets or [])
        wanted = [t for t in targets if t != "all-linear"]
        present = module_names(model.model_name_or_path) if wanted else None  # None: unknown offline
        missing = [t for t in wanted if present is not None and t not in present]
        if missing:
            raise ConfigError(f"{where}.lora_target_modules: {missing} not in the model; allowed values: "
                              f"all-linear, {', '.join(sorted(present))}")


_PLANNED_OUTPUTS: contextvars.ContextVar[frozenset[Path]] = contextvars.ContextVar("planned", default=frozenset())


@contextlib.contextmanager
def planned_outputs(paths: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Validate a pipeline's recipes up front: inside, a model path that an earlier stage will write is accepted."""
    token = _PLANNED_OUTPUTS.set(frozenset(Path(p).expanduser().resolve() for p in paths))
    try:
        yield
    finally:
        _PLANNED_OUTPUTS.reset(token)


def check_model_path(name: str, where: str) -> None:
    """A model name that can't load fails here, not after minutes of Hub retries: a missing path, a typo of a known
    name, a .gguf that is not one, a folder without a model."""
    if Path(name).expanduser().resolve() in _PLANNED_OUTPUTS.get():
        return
    try:
        problem = check_model_source(name)
    except ValueError as e:
        problem = str(e)
    if problem:
        raise ConfigError(f"{where}: {problem}")


# ---------------------------------------------------------------------------------------------------------------------
# a name -> a plain Hugging Face folder


def cache_dir() -> Path:
    return Path(os.environ.get("R1LITE_CACHE", Path.home() / ".cache" / "r1lite"))


def tiny_tokenizer() -> Any:
    """A character-level tokenizer over printable ASCII with ChatML special tokens, built in code (no download)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(set(string.printable)))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one char = one token
    backend.decoder = decoders.Fuse()  # without it decode joins characters with spaces
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                  unk_token="<unk>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _build_tiny(arch: str, seed: int = 0) -> tuple[Any, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tok = tiny_tokenizer()
    config = AutoConfig.for_model(arch, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                                  eos_token_id=tok.eos_token_id, bos_token_id=None, **TINY_ARCHS[arch])
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config), tok


def _convert_gguf(source: ModelSource) -> tuple[Any, Any]:
    """Dequantize a GGUF into a plain model. Its config keeps a GGUF quantization_config that save_pretrained
    refuses, so the weights move into a model built fresh from the cleaned config."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    return model, tok


def materialize(name: str) -> str:
    """A local folder (or Hub id) that `from_pretrained` loads fast. GGUF and tiny models are converted once."""
    source = resolve(name)
    if source.kind in ("hub", "folder"):
        return source.path
    key = f"tiny-{source.path}" if source.kind == "tiny" else Path(source.gguf_file).stem
    target = cache_dir() / "models" / key
    if (target / "config.json").is_file():
        _set_sampling_defaults(target)  # folders converted before r1lite wrote these
        return str(target)
    model, tok = _build_tiny(source.path) if source.kind == "tiny" else _convert_gguf(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{key}-"))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    _set_sampling_defaults(tmp)
    try:
        tmp.rename(target)  # atomic: a concurrent or killed conversion never leaves a half-written folder
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
    return str(target)


# R1's sampling. Servers such as `transformers serve` ignore a request's temperature/top_p unless the model's own
# generation config samples, so a folder without these gives k identical samples. r1lite's backends always pass
# their own settings, so these only change what a server does with the folder.
SAMPLING_DEFAULTS = {"do_sample": True, "temperature": 0.6, "top_p": 0.95}


def _set_sampling_defaults(folder: Path) -> None:
    path = folder / "generation_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    if all(k in config for k in SAMPLING_DEFAULTS):
        return
    write_atomic(path, json.dumps({**SAMPLING_DEFAULTS, **config}, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------------------------
# loading: tokenizer and model


def resolve_dtype(dtype: str | None) -> Any:
    """The torch dtype of a recipe's dtype; "auto" means bf16 on a GPU that has it, fp32 otherwise."""
    import torch

    if dtype in (None, "auto"):
        dtype = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    return getattr(torch, dtype)


def load_tokenizer(name: str, revision: str = "main", trust_remote_code: bool = False,
                   padding_side: str = "left") -> Any:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    folder = materialize(name)
    # AutoTokenizer picks the model family's class (Qwen2Tokenizer, ...), which rebuilds a BPE pre-tokenizer and would
    # mangle a word-level tokenizer such as tiny_tokenizer's: load those exactly as saved.
    cls = PreTrainedTokenizerFast if _is_word_level(Path(folder)) else AutoTokenizer
    tok = cls.from_pretrained(folder, revision=revision, trust_remote_code=trust_remote_code)
    tok.padding_side = padding_side
    if tok.chat_template is None:
        add_chat_template(tok)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def add_chat_template(tokenizer: Any) -> None:
    """ChatML for a tokenizer that has no chat template, set up as TRL's clone_chat_template does: the markers are
    added as special tokens (one id each, never split into text pieces) and <|im_end|> becomes eos, so generation
    stops at the end of the assistant turn. The model must grow to match: fit_to_tokenizer."""
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    tokenizer.add_tokens([AddedToken(m, special=True, normalized=False) for m in CHATML_MARKERS if m not in vocab])
    tokenizer.eos_token = CHATML_MARKERS[1]
    tokenizer.chat_template = CHAT_TEMPLATE


def fit_to_tokenizer(model: Any, tokenizer: Any) -> None:
    """The model half of clone_chat_template, for a tokenizer given r1lite's ChatML: embeddings resized to cover the
    added markers, and eos synced so generation (GRPO, eval) stops at <|im_end|>."""
    if tokenizer.chat_template != CHAT_TEMPLATE:
        return  # the model's own template: nothing was added
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    model.config.eos_token_id = tokenizer.eos_token_id
    if model.generation_config is not None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id


def _is_word_level(folder: Path) -> bool:
    path = folder / "tokenizer.json"
    return path.is_file() and json.loads(path.read_text()).get("model", {}).get("type") == "WordLevel"


def parse_init_kwargs(value: dict[str, Any] | str | None) -> dict[str, Any]:
    """trainer.model_init_kwargs as a dict (the command line may give it as a JSON string, as TRL accepts)."""
    return dict(json.loads(value) if isinstance(value, str) else value or {})


def check_model_loading(model: ModelArgs, trainer: dict[str, Any], on_gpu: bool) -> None:
    """Fail before loading anything when a training recipe (its model: section and trainer: fields) asks for what
    this machine cannot do."""
    init = parse_init_kwargs(trainer.get("model_init_kwargs"))
    if model.load_in_4bit or model.load_in_8bit:
        bits = "load_in_4bit" if model.load_in_4bit else "load_in_8bit"
        if not on_gpu:
            raise ConfigError(f"model.{bits}: bitsandbytes quantization (QLoRA) needs a CUDA GPU and none is "
                              f"available; set model.{bits} false to train in full precision (with use_peft for LoRA)")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(f"model.{bits}: needs the bitsandbytes package (pip install bitsandbytes)")
        if not model.use_peft:
            raise ConfigError(f"model.{bits}: quantized weights cannot be trained directly; set model.use_peft true "
                              "(QLoRA trains LoRA adapters on the quantized model)")
    if init.get("use_kernels") and importlib.util.find_spec("kernels") is None:
        raise ConfigError("trainer.model_init_kwargs.use_kernels: needs the kernels package (pip install kernels); "
                          "or remove use_kernels")
    if trainer.get("use_liger_kernel") and importlib.util.find_spec("liger_kernel") is None:
        raise ConfigError("trainer.use_liger_kernel: needs the liger-kernel package (pip install 'r1lite[liger]'); "
                          "TRL deprecates it for model_init_kwargs: {use_kernels: true}")


def load_model(model_args: Any, device: str | None = None, init_kwargs: dict[str, Any] | str | None = None) -> Any:
    """The model of a recipe's `model:` section to train (quantized when load_in_4bit/8bit; PEFT is applied by the
    trainer). `init_kwargs` is the recipe's trainer.model_init_kwargs (a dict, or JSON text from the command line):
    TRL applies it only to models it loads itself, and r1lite loads them (GGUF, tiny:<arch>, adapter folders)."""
    from trl import get_quantization_config

    kwargs: dict[str, Any] = {"revision": model_args.model_revision, "dtype": resolve_dtype(model_args.dtype),
                              "trust_remote_code": model_args.trust_remote_code}
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    init = parse_init_kwargs(init_kwargs)
    if "dtype" in init:
        init["dtype"] = resolve_dtype(init["dtype"])
    kwargs.update(init)
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}  # one whole copy per process
    model = from_pretrained(model_args.model_name_or_path, **kwargs)
    fit_to_tokenizer(model, load_tokenizer(model_args.model_name_or_path, model_args.model_revision,
                                           model_args.trust_remote_code))
    if device:
        model.to(device)
    return model


def from_pretrained(name: str, **kwargs: Any) -> Any:
    """AutoModelForCausalLM for any accepted name. A training output folder holding a LoRA adapter
    (adapter_config.json) loads its base model with the adapter merged in, so stages chain: sft -> grpo -> eval."""
    from transformers import AutoModelForCausalLM

    adapter_config = Path(name) / "adapter_config.json"
    if not adapter_config.is_file():
        return AutoModelForCausalLM.from_pretrained(materialize(name), **kwargs)
    from peft import PeftModel

    base = json.loads(adapter_config.read_text())["base_model_name_or_path"]
    model = from_pretrained(base, **kwargs)  # the base may itself be an adapter folder (sft -> grpo -> eval)
    model = PeftModel.from_pretrained(model, name).merge_and_unload()
    # TRL rebuilds the beta>0 reference from config._name_or_path, and peft records name_or_path as the base of
    # the next adapter trained on top: both must point at this tuned model, not at the original base
    model.config._name_or_path = model.name_or_path = str(Path(name).resolve())
    return model


def load_inference_model(name: str, dtype: str | None = "auto", device: str | None = None,
                         trust_remote_code: bool = False, revision: str | None = "main",
                         attn_implementation: str | None = None) -> Any:
    """A model ready to generate (eval mode), from any accepted name or a training output folder: `load_model` on a
    `model:` section naming it, so eval, generate and the difficulty filter load exactly what the trainers load."""
    args = ModelArgs(model_name_or_path=name, model_revision=revision or "main", dtype=dtype or "auto",
                     trust_remote_code=trust_remote_code, attn_implementation=attn_implementation)
    return load_model(args, device).eval()
