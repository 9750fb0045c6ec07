"""Field names, type annotations and defaults of TRL's trainer configs, read from source without importing TRL.

`from trl import GRPOConfig` pulls in transformers' TrainingArguments and peft: about 8 s on 2 cores. Recipe
validation must answer in well under 2 s, so we read the dataclass definitions with `ast`. The real config class is
still built (and validates everything else) when training starts; if TRL is ever restructured so the source can't
be read, we fall back to importing it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (package, file inside the package, class) from the root of the hierarchy down; later classes override earlier.
_HIERARCHY = {
    "grpo": [("transformers", "training_args.py", "TrainingArguments"), ("trl", "trainer/base_config.py", "_BaseConfig"),
             ("trl", "trainer/grpo_config.py", "GRPOConfig")],
    "sft": [("transformers", "training_args.py", "TrainingArguments"), ("trl", "trainer/base_config.py", "_BaseConfig"),
            ("trl", "trainer/sft_config.py", "SFTConfig")],
}
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


def _literal_default(value: ast.expr | None) -> Any:
    if value is None:
        return NO_DEFAULT
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
        value = next((kw.value for kw in value.keywords if kw.arg == "default"), None)
        if value is None:
            return NO_DEFAULT
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        return NO_DEFAULT


def _literal_help(value: ast.expr | None) -> str:
    """The "help" entry of `field(..., metadata={"help": ...})`, when it is a plain string."""
    if not (isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field"):
        return ""
    metadata = next((kw.value for kw in value.keywords if kw.arg == "metadata"), None)
    if not isinstance(metadata, ast.Dict):
        return ""
    for key, item in zip(metadata.keys, metadata.values):
        if isinstance(key, ast.Constant) and key.value == "help":
            try:
                return str(ast.literal_eval(item))
            except (ValueError, SyntaxError, TypeError):
                return ""
    return ""


def _imported_fields(kind: str) -> dict[str, FieldSpec]:
    import trl

    cls = {"grpo": trl.GRPOConfig, "sft": trl.SFTConfig}[kind]
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else NO_DEFAULT
        out[f.name] = FieldSpec(f.name, str(f.type), default, f.metadata.get("help", ""))
    return out


@functools.cache
def trainer_fields(kind: str) -> dict[str, FieldSpec]:
    """All fields of trl.GRPOConfig (kind="grpo") or trl.SFTConfig (kind="sft"), by name."""
    try:
        fields: dict[str, FieldSpec] = {}
        for package, relpath, class_name in _HIERARCHY[kind]:
            fields.update(_class_fields(_package_dir(package) / relpath, class_name))
        if len(fields) < 50:  # TrainingArguments alone has >100; anything less means the source moved
            raise LookupError
        return fields
    except (StopIteration, OSError, ImportError, LookupError, SyntaxError):
        return _imported_fields(kind)
