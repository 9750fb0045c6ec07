"""TRL's trainer configs as a recipe's `trainer:` section: their fields read from source without importing TRL, and the
section built and checked against them.

`from trl import GRPOConfig` pulls in transformers' TrainingArguments and peft: about 8 s on 2 cores. Recipe
validation must answer in well under 2 s, so we read the dataclass definitions with `ast`. The real config class is
still built (and validates everything else) when training starts; if TRL is ever restructured so the source can't
be read, we fall back to importing it.

Top to bottom: `trainer_fields(kind)` reads each field's name, annotation text, literal default and help;
`trainer_section(kind)` is the recipe field that config.build hands to `build_trainer_section`, which converts each
value as its annotation admits (a command line gives text), checks its type against the annotation and its range
against TRAINER_RANGES; `trainer_value` reads a field back as TRL will see it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.recipe.config import ConfigError, parse_scalar, suggest

# (package, file inside the package, class) from the root of the hierarchy down; later classes override earlier.
_HIERARCHY = {
    "grpo": [("transformers", "training_args.py", "TrainingArguments"), ("trl", "trainer/base_config.py", "_BaseConfig"),
             ("trl", "trainer/grpo_config.py", "GRPOConfig")],
    "sft": [("transformers", "training_args.py", "TrainingArguments"), ("trl", "trainer/base_config.py", "_BaseConfig"),
            ("trl", "trainer/sft_config.py", "SFTConfig")],
    # a served teacher's fields (loss_top_k, ...) included: distill.py admits them only with teacher.server_url
    "distill": [("transformers", "training_args.py", "TrainingArguments"),
                ("trl", "trainer/base_config.py", "_BaseConfig"),
                ("trl", "trainer/distillation_config.py", "DistillationConfig"),
                ("trl", "experimental/server_distillation/server_distillation_config.py", "ServerDistillationConfig")],
}
CONFIG_NAMES = {"grpo": "GRPOConfig", "sft": "SFTConfig", "distill": "DistillationConfig"}  # trl.<name>
NO_DEFAULT = object()


@dataclass(frozen=True)
class FieldSpec:
    name: str
    annotation: str  # source text, e.g. "int | None"
    default: Any  # NO_DEFAULT when the default is not a literal (a factory, a computed value)
    help: str = ""  # the field's metadata["help"], as `--help` shows it


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {package!r} is not installed")
    return Path(spec.submodule_search_locations[0])


def _class_fields(path: Path, class_name: str) -> dict[str, FieldSpec]:
    tree = ast.parse(path.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    fields = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        annotation = ast.unparse(node.annotation)
        if annotation.startswith("ClassVar"):
            continue
        fields[node.target.id] = FieldSpec(node.target.id, annotation, _literal_default(node.value),
                                           _literal_help(node.value))
    return fields


def _field_call(value: ast.expr | None) -> dict[str | None, ast.expr] | None:
    """The keyword arguments of a `field(...)` default, by name; None when the default is not such a call."""
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
        return {kw.arg: kw.value for kw in value.keywords}
    return None


def _literal(node: ast.expr | None, fallback: Any) -> Any:
    try:
        return fallback if node is None else ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return fallback


def _literal_default(value: ast.expr | None) -> Any:
    kwargs = _field_call(value)
    return _literal(value if kwargs is None else kwargs.get("default"), NO_DEFAULT)


def _literal_help(value: ast.expr | None) -> str:
    """The "help" entry of `field(..., metadata={"help": ...})`, when it is a plain string."""
    metadata = (_field_call(value) or {}).get("metadata")
    if not isinstance(metadata, ast.Dict):
        return ""
    helps = [v for k, v in zip(metadata.keys, metadata.values) if isinstance(k, ast.Constant) and k.value == "help"]
    return str(_literal(helps[0], "")) if helps else ""


def _imported_fields(kind: str) -> dict[str, FieldSpec]:
    import trl
    from trl.experimental.server_distillation import ServerDistillationConfig

    cls = {"grpo": trl.GRPOConfig, "sft": trl.SFTConfig, "distill": ServerDistillationConfig}[kind]
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else NO_DEFAULT
        out[f.name] = FieldSpec(f.name, str(f.type), default, f.metadata.get("help", ""))
    return out


@functools.cache
def trainer_fields(kind: str) -> dict[str, FieldSpec]:
    """All fields of trl.GRPOConfig (kind="grpo"), trl.SFTConfig (kind="sft") or trl.DistillationConfig with the
    served teacher's (kind="distill"), by name."""
    try:
        fields: dict[str, FieldSpec] = {}
        for package, relpath, class_name in _HIERARCHY[kind]:
            fields.update(_class_fields(_package_dir(package) / relpath, class_name))
        if len(fields) < 50:  # TrainingArguments alone has >100; anything less means the source moved
            raise LookupError
        return fields
    except (StopIteration, OSError, ImportError, LookupError, SyntaxError):
        return _imported_fields(kind)


# ---------------------------------------------------------------------------------------------------------------------
# the recipe's `trainer:` section


def trainer_section(kind: str) -> Any:
    """The `trainer:` field of a recipe: TRL's GRPOConfig / SFTConfig fields, as a dict checked against TRL's source.
    config.build calls its "build" and offers its "fields" as command-line overrides."""
    return field(default_factory=dict, metadata={"trl": kind, "build": functools.partial(build_trainer_section, kind),
                                                 "fields": functools.partial(trainer_fields, kind)})


def build_trainer_section(kind: str, raw: Any, where: str) -> dict[str, Any]:
    """The `trainer:` mapping, each value converted as its annotation admits and checked for type and range."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of TRL {CONFIG_NAMES[kind]} fields, got {raw!r}")
    schema = trainer_fields(kind)
    out = {}
    for key, value in raw.items():
        if key not in schema:
            raise ConfigError(f"{where}.{key}: not a field of trl.{CONFIG_NAMES[kind]}{suggest(key, schema)}")
        out[key] = _coerce_trainer_value(value, schema[key].annotation, f"{where}.{key}")
        _check_trainer_type(out[key], schema[key].annotation, f"{where}.{key}")
        _check_trainer_range(key, out[key], f"{where}.{key}")
    return out


def _coerce_trainer_value(value: Any, annotation: str, where: str) -> Any:
    """TRL fields are known by their annotation text only: convert strings the annotation admits."""
    if isinstance(value, str):
        parsed = parse_scalar(value)
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
    if any(_matches(value, p) is not False for p in parts):
        return
    wanted = " or ".join(dict.fromkeys(_TYPE_WORDS.get(p, _TYPE_WORDS.get(p.split("[")[0].strip(), p)) for p in parts))
    raise ConfigError(f"{where}: expected {wanted}, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


MAX_TOKENS = 1 << 20  # longer than any model's context: a larger length is a typo (1e9), not a setting

# Ranges of the TRL fields r1lite relies on: (test, what is allowed). None values are TRL's "unset" and pass.
_ABOVE_ZERO = (lambda v: v > 0, "a number > 0")
_POSITIVE_INT = (lambda v: v >= 1, "a positive integer")
_NOT_NEGATIVE = (lambda v: v >= 0, "a number >= 0")
_TOKENS = (lambda v: 1 <= v <= MAX_TOKENS, f"a positive integer of at most {MAX_TOKENS}")
_STRATEGY = (lambda v: v in ("no", "steps", "epoch"), "one of no, steps, epoch")
TRAINER_RANGES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    **dict.fromkeys(("learning_rate", "num_train_epochs", "eval_steps", "repetition_penalty", "epsilon",
                     "epsilon_high"), _ABOVE_ZERO),
    **dict.fromkeys(("per_device_train_batch_size", "gradient_accumulation_steps", "num_iterations",
                     "steps_per_generation", "generation_batch_size"), _POSITIVE_INT),
    **dict.fromkeys(("weight_decay", "max_grad_norm", "beta"), _NOT_NEGATIVE),
    **dict.fromkeys(("max_completion_length", "max_length"), _TOKENS),
    **dict.fromkeys(("eval_strategy", "logging_strategy"), _STRATEGY),
    "max_steps": (lambda v: v >= 1 or v == -1, "a positive integer, or -1 to train for num_train_epochs"),
    "save_steps": (lambda v: v > 0, "a number > 0 (steps between checkpoints, or a fraction of the run below 1)"),
    "logging_steps": (lambda v: v > 0, "a number > 0 (steps between log rows, or a fraction of the run below 1)"),
    "save_total_limit": (lambda v: v >= 1, "a positive integer, or null to keep every checkpoint"),
    "temperature": (lambda v: v > 0, "a number > 0 (GRPO samples; it also scales the training log-probs)"),
    "top_p": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "top_k": (lambda v: v >= 0, "an integer >= 0 (0 disables it)"),
    "min_p": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "warmup_steps": (lambda v: v >= 0, "a number >= 0 (a fraction of the run when below 1)"),
    "save_strategy": (lambda v: v in ("no", "steps", "epoch", "best"), "one of no, steps, epoch, best"),
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
