"""Recipes: one YAML file -> typed, validated dataclasses, before any model loads.

A recipe has sections. r1lite's own sections are dataclasses here; `model:` is TRL's own `ModelConfig`; `trainer:`
holds TRL's `GRPOConfig` / `SFTConfig` fields unchanged (checked against TRL's source, see trl_schema.py).

    model:   {model_name_or_path: smollm2-135m, use_peft: true, lora_r: 16}
    data:    {sources: [{path: bundled:gsm8k_train_256}], system_prompt: r1}
    rewards: [{name: accuracy, weight: 1.0}, {name: format, weight: 0.1}]
    trainer: {learning_rate: 1.0e-6, num_generations: 8, output_dir: runs/x}

Command-line overrides use the field name (`--learning_rate 1e-6`) or, when a name is in several sections, the dotted
path (`--data.seed 3`). Unknown keys are errors with a did-you-mean suggestion; nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from trl.trainer.model_config import ModelConfig  # a plain dataclass module: importing it loads no transformers

from r1lite.trl_schema import NO_DEFAULT, trainer_fields


class ConfigError(ValueError):
    """A recipe problem, always naming the field and, where there is a closed set, the allowed values."""


def _suggest(name: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


# ---------------------------------------------------------------------------------------------------------------------
# r1lite's own sections


@dataclass
class DataSource:
    """One dataset in a mixture."""

    path: str  # Hub dataset id, local .jsonl/.json/.parquet/.csv file or folder, or "synthetic:<task>"
    name: str | None = None  # Hub dataset config name
    split: str = "train"
    weight: float = 1.0  # share of the mixture, relative to the other sources
    num_samples: int | None = None  # rows taken from this source (after its own seeded shuffle)
    columns: dict[str, str] = field(default_factory=dict)  # source column -> r1lite column, e.g. {question: problem}
    task_args: dict[str, Any] = field(default_factory=dict)  # synthetic tasks only: n, difficulty, seed, ...
    where: dict[str, Any] = field(default_factory=dict)  # keep rows whose column equals a value or is in a list,
    # e.g. {level: [3, 4, 5]} (MATH levels 3-5, as the R1-Zero papers train on); matched as text, so 3 == "3"


@dataclass
class DataArgs:
    sources: list[DataSource] = field(default_factory=list)  # the datasets mixed into one (see DataSource)
    system_prompt: str | None = "r1"  # a name in prompts.SYSTEM_PROMPTS, literal text, or null for none
    prompt_template: str = "{problem}"  # user turn; {problem} is the problem text
    num_samples: int | None = None  # rows in the final mixture (default: all rows of all sources)
    max_prompt_tokens: int | None = 512  # drop prompts longer than this (TRL never truncates prompts)
    wrap_in_think: bool = False  # SFT from problem + solution: write a solution with no </think> in R1's format,
    # <think>solution</think> then \boxed{answer}; off: the solution is the assistant turn as written
    shuffle: bool = True  # shuffle each source and the mixture (seeded)
    seed: int = 0  # seed of shuffling and of repeated rows in the mixture


@dataclass
class RewardSpec:
    name: str  # a registry name (rewards.REWARDS), or your own function: module.path:function or file.py:function
    weight: float = 1.0  # its share of the total reward (TRL's reward_weights)
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the factory, or of your own function


@dataclass
class ScoringArgs:
    timeout_s: float = 5.0  # every completion gets a score within this wall-clock time
    num_workers: int | None = None  # scoring processes; default: all CPU cores


def _trainer(kind: str) -> Any:
    return field(default_factory=dict, metadata={"trl": kind})


@dataclass
class ModelArgs(ModelConfig):
    """TRL's ModelConfig (model_name_or_path, dtype, use_peft, lora_*, load_in_4bit, ...) plus what r1lite adds.

    model_name_or_path also takes a local folder, a .gguf file, an embedded name (smollm2-135m) or tiny:<arch>;
    dtype "auto" means bf16 on a GPU and fp32 on CPU.
    """

    model_name_or_path: str | None = "smollm2-135m"
    dtype: str | None = "auto"
    trust_remote_code: bool = False  # executing a model repo's code is opt-in


@dataclass
class DifficultyFilterArgs:
    """Before training, keep only prompts whose pass rate under the starting policy lies in `band` (difficulty.py)."""

    num_samples: int = 8  # completions sampled per training prompt
    band: list[float] = field(default_factory=lambda: [0.0, 1.0])  # [low, high]: keep low < pass rate < high
    inclusive: bool = False  # true: keep low <= pass rate <= high
    pass_reward: str = "accuracy"  # a completion passes when this reward gives it full credit (1.0)
    temperature: float | None = None  # default: trainer.temperature (sample as training will)
    top_p: float = 1.0
    max_new_tokens: int | None = None  # default: trainer.max_completion_length
    backend: str = "hf"  # hf | vllm | openai (the eval backends)
    backend_args: dict[str, Any] = field(default_factory=dict)  # e.g. base_url, model for a served policy
    batch_size: int = 64  # hf backend: sequences generated together
    pass_rates: str | None = None  # JSONL of pass rates, resumed and reused; default <output_dir>/pass_rates.jsonl
    seed: int = 0


@dataclass
class GRPORecipe:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    rewards: list[RewardSpec] = field(default_factory=lambda: [RewardSpec("accuracy")])
    scoring: ScoringArgs = field(default_factory=ScoringArgs)
    difficulty_filter: DifficultyFilterArgs | None = None  # off unless the recipe has the section
    trainer: dict[str, Any] = _trainer("grpo")
    overwrite_output_dir: bool = False  # a fresh run refuses an output_dir holding checkpoints unless this is set


@dataclass
class SFTRecipe:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    trainer: dict[str, Any] = _trainer("sft")
    overwrite_output_dir: bool = False


LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo")  # TRL 1.16
SCALE_REWARDS = ("group", "batch", "none", True, False)


# ---------------------------------------------------------------------------------------------------------------------
# strict building


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the type hint `tp`, converting CLI/YAML strings ("1e-6", "true") where unambiguous."""
    if tp is Any or tp is typing.Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} is none of {tp}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")
        return value
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # --benchmarks gsm8k,math500 / --thinking_budgets 512,1024
            value = [v.strip() for v in value.split(",")] if "," in value else [value]
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and item_tp in (int, float):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if _is_dataclass_type(tp):
        return build(tp, value, where)
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def _parse_scalar(text: str) -> Any:
    """A command-line value: YAML syntax (true, 3, [a, b], {k: v}), with 1e-6 read as a float (YAML 1.1 reads a str)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value) else value
        except ValueError:
            return value
    return value


def _coerce_trainer_value(value: Any, annotation: str, where: str) -> Any:
    """TRL fields are known by their annotation text only (see trl_schema): convert strings the annotation admits."""
    if isinstance(value, str):
        parsed = _parse_scalar(value)
        if "float" in annotation and isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            return float(parsed) if "int" not in annotation or isinstance(parsed, float) else parsed
        if "int" in annotation and isinstance(parsed, int) and not isinstance(parsed, bool):
            return parsed
        if "bool" in annotation and isinstance(parsed, bool):
            return parsed
        if ("dict" in annotation or "list" in annotation) and isinstance(parsed, (dict, list)):
            return parsed
        if parsed is None and "None" in annotation:
            return None
        return value
    if annotation.strip() == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, strictly: unknown keys fail, values are type-checked."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of fields of {cls.__name__}, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in raw.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ConfigError(f"{path}: unknown field{_suggest(str(key), fields)}; allowed fields: {', '.join(fields)}")
        f = fields[key]
        if "trl" in f.metadata:
            kwargs[key] = build_trainer(f.metadata["trl"], value, path)
        else:
            kwargs[key] = _coerce(value, hints[f.name], path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{where or cls.__name__}: {e}") from e


def build_trainer(kind: str, raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of TRL {kind.upper()}Config fields, got {raw!r}")
    schema = trainer_fields(kind)
    out = {}
    for key, value in raw.items():
        if key not in schema:
            raise ConfigError(f"{where}.{key}: not a field of trl.{kind.upper()}Config{_suggest(key, schema)}")
        out[key] = _coerce_trainer_value(value, schema[key].annotation, f"{where}.{key}")
        _check_trainer_type(out[key], schema[key].annotation, f"{where}.{key}")
        _check_trainer_range(key, out[key], f"{where}.{key}")
    return out


def _annotation_parts(annotation: str) -> list[str]:
    """Top-level alternatives of an annotation's text: "dict[str, Any] | str | None" -> [dict[str, Any], str, None]."""
    parts, depth, current = [], 0, ""
    for ch in annotation:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


_TYPE_WORDS = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
               "None": "null", "dict": "a mapping", "list": "a list", "Literal[False]": "false"}


def _matches(value: Any, part: str) -> bool | None:
    """Whether `value` fits one annotation alternative; None when the alternative is a class we can't check."""
    base = part.split("[")[0].strip()
    if part == "Literal[False]":
        return value is False
    if base == "None":
        return value is None
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "str":
        return isinstance(value, str)
    if base in ("dict", "Dict"):
        return isinstance(value, dict)
    if base in ("list", "List"):
        inner = part[len(base) + 1:-1].strip() if "[" in part else ""
        return isinstance(value, list) and (not inner or all(_matches(v, inner) is not False for v in value))
    return None  # an enum (accepted as its str alternative) or a config class


def _check_trainer_type(value: Any, annotation: str, where: str) -> None:
    """TRL fields are typed by their annotation text: a value of another type would crash minutes into training."""
    parts = _annotation_parts(annotation)
    results = [_matches(value, p) for p in parts]
    if any(r is not False for r in results):
        return
    wanted = " or ".join(dict.fromkeys(_TYPE_WORDS.get(p, _TYPE_WORDS.get(p.split("[")[0].strip(), p)) for p in parts))
    raise ConfigError(f"{where}: expected {wanted}, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


MAX_TOKENS = 1 << 20  # longer than any model's context: a larger length is a typo (1e9), not a setting

# Ranges of the TRL fields r1lite relies on: (test, what is allowed). None values are TRL's "unset" and pass.
TRAINER_RANGES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    "learning_rate": (lambda v: v > 0, "a number > 0"),
    "max_steps": (lambda v: v >= 1 or v == -1, "a positive integer, or -1 to train for num_train_epochs"),
    "num_train_epochs": (lambda v: v > 0, "a number > 0"),
    "save_steps": (lambda v: v > 0, "a number > 0 (steps between checkpoints, or a fraction of the run below 1)"),
    "logging_steps": (lambda v: v > 0, "a number > 0 (steps between log rows, or a fraction of the run below 1)"),
    "eval_steps": (lambda v: v > 0, "a number > 0"),
    "save_total_limit": (lambda v: v >= 1, "a positive integer, or null to keep every checkpoint"),
    "temperature": (lambda v: v > 0, "a number > 0 (GRPO samples; it also scales the training log-probs)"),
    "top_p": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "top_k": (lambda v: v >= 0, "an integer >= 0 (0 disables it)"),
    "min_p": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "repetition_penalty": (lambda v: v > 0, "a number > 0"),
    "max_completion_length": (lambda v: 1 <= v <= MAX_TOKENS, f"a positive integer of at most {MAX_TOKENS}"),
    "max_length": (lambda v: 1 <= v <= MAX_TOKENS, f"a positive integer of at most {MAX_TOKENS}"),
    "per_device_train_batch_size": (lambda v: v >= 1, "a positive integer"),
    "gradient_accumulation_steps": (lambda v: v >= 1, "a positive integer"),
    "num_iterations": (lambda v: v >= 1, "a positive integer"),
    "steps_per_generation": (lambda v: v >= 1, "a positive integer"),
    "generation_batch_size": (lambda v: v >= 1, "a positive integer"),
    "warmup_steps": (lambda v: v >= 0, "a number >= 0 (a fraction of the run when below 1)"),
    "weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "max_grad_norm": (lambda v: v >= 0, "a number >= 0"),
    "beta": (lambda v: v >= 0, "a number >= 0"),
    "epsilon": (lambda v: v > 0, "a number > 0"),
    "epsilon_high": (lambda v: v > 0, "a number > 0"),
    "save_strategy": (lambda v: v in ("no", "steps", "epoch", "best"), "one of no, steps, epoch, best"),
    "eval_strategy": (lambda v: v in ("no", "steps", "epoch"), "one of no, steps, epoch"),
    "logging_strategy": (lambda v: v in ("no", "steps", "epoch"), "one of no, steps, epoch"),
}


def _check_trainer_range(name: str, value: Any, where: str) -> None:
    if name not in TRAINER_RANGES or value is None:
        return
    test, allowed = TRAINER_RANGES[name]
    try:
        ok = test(value)
    except TypeError:  # a type the annotation admits but the range can't compare (e.g. an enum given as text)
        ok = False
    if not ok:
        raise ConfigError(f"{where}: must be {allowed}, got {_short(value)}")


def trainer_value(recipe: Any, name: str) -> Any:
    """A trainer field as TRL will see it: the recipe's value or TRL's own default."""
    if name in recipe.trainer:
        return recipe.trainer[name]
    kind = next(f.metadata["trl"] for f in dataclasses.fields(recipe) if "trl" in f.metadata)
    default = trainer_fields(kind)[name].default
    return None if default is NO_DEFAULT else default


# ---------------------------------------------------------------------------------------------------------------------
# loading: YAML + command-line overrides


def _section_names(cls: type) -> dict[str, set[str]]:
    """Section name -> its field names; "" holds the recipe's own scalar fields."""
    sections: dict[str, set[str]] = {"": set()}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "trl" in f.metadata:
            sections[f.name] = set(trainer_fields(f.metadata["trl"]))
        elif _is_dataclass_type(section := hints[f.name]):
            sections[f.name] = {g.name for g in dataclasses.fields(section)}
        else:
            sections[""].add(f.name)
    return sections


def parse_overrides(argv: list[str]) -> dict[str, Any]:
    """`--a 1 --b=x --flag` -> {"a": 1, "b": "x", "flag": True}. Values use YAML syntax."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"unexpected argument {token!r}: overrides look like --field value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value, i = argv[i + 1], i + 1
            else:
                value = "true"
        out[key.replace("-", "_") if "." not in key else key] = _parse_scalar(value)
        i += 1
    return out


def apply_overrides(cls: type, raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    sections = _section_names(cls)
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for key, value in overrides.items():
        if "." in key:
            section, _, name = key.partition(".")
            if section not in sections or section == "" or name not in sections[section]:
                every = [f"{s}.{n}" for s, names in sections.items() if s for n in names]
                raise ConfigError(f"--{key}: unknown field{_suggest(key, every)}")
        else:
            owners = [s for s, names in sections.items() if key in names]
            if not owners:
                every = [n for names in sections.values() for n in names]
                raise ConfigError(f"--{key}: unknown field{_suggest(key, every)}")
            if len(owners) > 1:
                raise ConfigError(f"--{key} is ambiguous: use one of {', '.join(f'--{s}.{key}' for s in owners)}")
            section, name = owners[0], key
        if section == "":
            raw[name] = value
        else:
            if raw.get(section) is None:
                raw[section] = {}
            raw[section][name] = value
    return raw


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    return raw


def load_recipe(cls: type, path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None,
                raw: dict[str, Any] | None = None) -> Any:
    """Read `path` (or take `raw`), apply overrides, build `cls` strictly and run its checks. Errors are ConfigError."""
    if raw is None:
        raw = read_yaml(path) if path else {}
    raw = apply_overrides(cls, raw, overrides or {})
    try:
        recipe = build(cls, raw, "")
        check = CHECKS.get(cls) or getattr(recipe, "validate", None)  # other stages' recipes bring validate()
        if check:
            check(recipe) if cls in CHECKS else check()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path else str(e)) from None
    return recipe


def to_dict(recipe: Any) -> dict[str, Any]:
    """The resolved recipe as plain data (for resolved_recipe.yaml, settings files and reports), with anything that
    looks like a secret replaced: these files are shared and committed."""
    return redact(json.loads(json.dumps(dataclasses.asdict(recipe), default=str)))


SECRET_FIELD = re.compile(r"(^|_)(api_?key|token|secret|password|passwd)$", re.IGNORECASE)
KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|sk_[A-Za-z0-9]{8,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{16,}|"
                      r"github_pat_[A-Za-z0-9_]{16,}|xox[abpr]-[A-Za-z0-9-]{8,}|AKIA[A-Z0-9]{12,}|AIza[A-Za-z0-9_-]{20,}|"
                      r"Bearer\s+\S{8,})")
REDACTED = "<redacted>"


def looks_like_key(value: Any) -> bool:
    return isinstance(value, str) and bool(KEY_LIKE.search(value))


def redact(tree: Any) -> Any:
    """`tree` with secret-named fields' values and key-looking strings replaced by <redacted>."""
    if isinstance(tree, dict):
        return {k: REDACTED if (SECRET_FIELD.search(str(k)) and v not in (None, "")) else redact(v)
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [redact(v) for v in tree]
    return REDACTED if looks_like_key(tree) else tree


# ---------------------------------------------------------------------------------------------------------------------
# cross-field checks (no model is loaded; see models.module_names)


def _check_positive(where: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    if value is not None and value <= 0:
        raise ConfigError(f"{where}: must be a positive number, got {value}")


def check_data(data: DataArgs, where: str = "data", need_answer: bool = True, need_solution: bool = False) -> None:
    from r1lite import data as data_mod

    if not data.sources:
        raise ConfigError(f"{where}.sources: at least one source is needed (a file, a Hub id or synthetic:<task>)")
    check_prompt_template(data.prompt_template, f"{where}.prompt_template")
    _check_positive(f"{where}.max_prompt_tokens", data.max_prompt_tokens)
    _check_positive(f"{where}.num_samples", data.num_samples)
    for i, source in enumerate(data.sources):
        _check_positive(f"{where}.sources[{i}].weight", source.weight)
        _check_positive(f"{where}.sources[{i}].num_samples", source.num_samples)
        data_mod.check_source(source, f"{where}.sources[{i}]", need_answer=need_answer, need_solution=need_solution)


def check_prompt_template(template: str, where: str) -> None:
    """Without a {problem} slot every prompt would be the template itself (other braces, as in \\boxed{}, are
    literal text)."""
    from r1lite.prompts import USER_TEMPLATES

    if template in USER_TEMPLATES or "{problem}" in template:
        return
    slots = re.findall(r"\{([^{}]*)\}", template)
    typo = next((f" ({{{s}}} is not a placeholder; did you mean {{problem}}?)" for s in slots
                 if difflib.get_close_matches(s.lower(), ["problem"], cutoff=0.6)), "")
    raise ConfigError(f"{where}: no {{problem}} slot{typo}, so every prompt would be the template text alone; "
                      f"write the problem's place as {{problem}}, or use one of: {', '.join(USER_TEMPLATES)}")


def check_model(model: Any, where: str = "model") -> None:
    from r1lite import models

    if not model.model_name_or_path:
        raise ConfigError(f"{where}.model_name_or_path: required (a Hub id, a local folder, a .gguf file, "
                          f"{', '.join(models.EMBEDDED)} or tiny:<{'|'.join(models.TINY_ARCHS)}>)")
    check_model_path(model.model_name_or_path, f"{where}.model_name_or_path")
    dtypes = ("auto", "bfloat16", "float16", "float32")
    if model.dtype not in dtypes:
        raise ConfigError(f"{where}.dtype: {model.dtype!r} is not allowed; allowed values: {', '.join(dtypes)}")
    if model.use_peft:
        _check_positive(f"{where}.lora_r", model.lora_r)
        targets = model.lora_target_modules
        targets = [targets] if isinstance(targets, str) else (targets or [])
        wanted = [t for t in targets if t != "all-linear"]
        if wanted:
            present = models.module_names(model.model_name_or_path)
            if present is not None:
                missing = [t for t in wanted if t not in present]
                if missing:
                    raise ConfigError(f"{where}.lora_target_modules: {missing} not in the model; allowed values: "
                                      f"all-linear, {', '.join(sorted(present))}")


_PLANNED_OUTPUTS: contextvars.ContextVar[frozenset[Path]] = contextvars.ContextVar("planned", default=frozenset())


@contextlib.contextmanager
def planned_outputs(paths: typing.Iterable[str | os.PathLike]) -> typing.Iterator[None]:
    """Validate a pipeline's recipes up front: inside, a model path that an earlier stage will write is accepted."""
    token = _PLANNED_OUTPUTS.set(frozenset(Path(p).expanduser().resolve() for p in paths))
    try:
        yield
    finally:
        _PLANNED_OUTPUTS.reset(token)


def check_model_path(name: str, where: str) -> None:
    """A model name that can't load fails here, not after minutes of Hub retries: a missing path, a typo of a known
    name, a .gguf that is not one, a folder without a model."""
    from r1lite import models

    if Path(name).expanduser().resolve() in _PLANNED_OUTPUTS.get():
        return
    try:
        problem = models.check_model_source(name)
    except ValueError as e:
        problem = str(e)
    if problem:
        raise ConfigError(f"{where}: {problem}")


def check_grpo(recipe: GRPORecipe) -> None:
    from r1lite.formats import check_formats
    from r1lite.rewards import COLUMNS, REWARDS, check_user_reward, is_import_path, reward_args

    check_model(recipe.model)
    check_formats(recipe.data, "grpo")  # first: a wrong format is named with the accepted ones
    check_data(recipe.data, need_answer=any("answer" in COLUMNS.get(r.name, ()) for r in recipe.rewards))
    if not recipe.rewards:
        raise ConfigError(f"rewards: at least one reward is needed; allowed names: {', '.join(sorted(REWARDS))}")
    for i, spec in enumerate(recipe.rewards):
        if is_import_path(spec.name):  # your own function: it must import and be callable
            try:
                check_user_reward(spec.name, spec.args)
            except ValueError as e:
                raise ConfigError(f"rewards[{i}].name: {e}") from None
            continue
        if spec.name not in REWARDS:
            raise ConfigError(f"rewards[{i}].name: {spec.name!r} is not a reward{_suggest(spec.name, REWARDS)}; "
                              f"allowed values: {', '.join(sorted(REWARDS))}, or module.path:function")
        allowed = reward_args(spec.name)
        for key in spec.args:
            if allowed and key not in allowed:
                raise ConfigError(f"rewards[{i}].args.{key}: not an argument of {spec.name}{_suggest(key, allowed)}; "
                                  f"allowed values: {', '.join(allowed)}")
    _check_positive("scoring.timeout_s", recipe.scoring.timeout_s)
    t = recipe.trainer
    loss = trainer_value(recipe, "loss_type")
    if loss not in LOSS_TYPES:
        raise ConfigError(f"trainer.loss_type: {loss!r} is not a TRL loss{_suggest(str(loss), LOSS_TYPES)}; "
                          f"allowed values: {', '.join(LOSS_TYPES)}")
    if trainer_value(recipe, "scale_rewards") not in SCALE_REWARDS:
        raise ConfigError(f"trainer.scale_rewards: {t['scale_rewards']!r}; allowed values: group, batch, none")
    for name in ("max_completion_length", "num_generations", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "num_iterations", "steps_per_generation", "generation_batch_size"):
        _check_positive(f"trainer.{name}", trainer_value(recipe, name))
    if loss == "dr_grpo" and trainer_value(recipe, "max_completion_length") is None:
        raise ConfigError("trainer.max_completion_length: dr_grpo normalises by it, so it must be set")
    g = trainer_value(recipe, "num_generations")
    if g < 2:
        raise ConfigError(f"trainer.num_generations: GRPO needs at least 2 generations per prompt, got {g}")
    per_device = trainer_value(recipe, "per_device_train_batch_size")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if t.get("generation_batch_size") and t.get("steps_per_generation"):
        raise ConfigError("trainer.generation_batch_size and trainer.steps_per_generation: set one, not both")
    gen_batch = t.get("generation_batch_size") or (
        per_device * world * (t.get("steps_per_generation") or trainer_value(recipe, "gradient_accumulation_steps")))
    if gen_batch % g:
        raise ConfigError(
            f"trainer.num_generations: the generation batch ({gen_batch} = per_device_train_batch_size {per_device} x "
            f"{world} processes x steps_per_generation/gradient_accumulation_steps) must be divisible by "
            f"num_generations ({g}); allowed num_generations here: "
            f"{', '.join(str(d) for d in range(2, gen_batch + 1) if gen_batch % d == 0) or 'none'}")
    if gen_batch % (per_device * world):
        raise ConfigError(f"trainer.generation_batch_size: {gen_batch} must be divisible by the global batch "
                          f"({per_device} x {world})")
    if recipe.difficulty_filter is not None:
        check_difficulty_filter(recipe.difficulty_filter)
    _check_resume(recipe.trainer)


def check_difficulty_filter(cfg: DifficultyFilterArgs, where: str = "difficulty_filter") -> None:
    from r1lite.backends import BACKENDS
    from r1lite.rewards import REWARDS

    for name in ("num_samples", "max_new_tokens", "batch_size", "top_p"):
        _check_positive(f"{where}.{name}", getattr(cfg, name))
    if len(cfg.band) != 2 or not 0.0 <= cfg.band[0] <= cfg.band[1] <= 1.0:
        raise ConfigError(f"{where}.band: {cfg.band} must be [low, high] with 0 <= low <= high <= 1")
    if not cfg.inclusive and cfg.band[0] == cfg.band[1]:
        raise ConfigError(f"{where}.band: {cfg.band} keeps nothing with exclusive bounds (set inclusive: true)")
    if cfg.temperature is not None and cfg.temperature < 0:
        raise ConfigError(f"{where}.temperature: must be >= 0, got {cfg.temperature}")
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"{where}.backend: {cfg.backend!r}{_suggest(cfg.backend, BACKENDS)}; allowed values: "
                          f"{', '.join(BACKENDS)}")
    if cfg.pass_reward not in REWARDS:
        raise ConfigError(f"{where}.pass_reward: {cfg.pass_reward!r} is not a reward{_suggest(cfg.pass_reward, REWARDS)};"
                          f" allowed values: {', '.join(sorted(REWARDS))}")


def check_sft(recipe: SFTRecipe) -> None:
    from r1lite.formats import check_formats

    check_model(recipe.model)
    check_formats(recipe.data, "sft")
    check_data(recipe.data, need_answer=False, need_solution=True)
    for name in ("max_length", "per_device_train_batch_size", "gradient_accumulation_steps"):
        _check_positive(f"trainer.{name}", trainer_value(recipe, name))
    _check_resume(recipe.trainer)


def check_output_path(path: str | None, where: str) -> None:
    """An output folder that is a file would fail at the first write, after the model has loaded."""
    if path and Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
        raise ConfigError(f"{where}: {path} is a file; an output folder is needed")


def _check_resume(trainer: dict[str, Any]) -> None:
    check_output_path(trainer.get("output_dir"), "trainer.output_dir")
    resume = trainer.get("resume_from_checkpoint")
    if resume not in (None, "latest") and not Path(str(resume)).is_dir():
        raise ConfigError(f"trainer.resume_from_checkpoint: {resume!r} is not a folder; allowed values: latest or "
                          "the path of a checkpoint-<step> folder")


CHECKS: dict[type, typing.Callable[[Any], None]] = {GRPORecipe: check_grpo, SFTRecipe: check_sft}
