"""Recipes, generically: one YAML file + command-line overrides -> a typed recipe dataclass, validated before any
model loads. This module knows no stage and no TRL: each stage module defines its recipe class (sections are
dataclasses beside the code that uses them: `model:` in models.py, `data:` in data.py, `scoring:` in bounded_pool.py) and
its `validate()`; `trainer:` holds TRL's `GRPOConfig` / `SFTConfig` fields unchanged, a section that builds and checks
itself (trl_schema.trainer_section).

    model:   {model_name_or_path: smollm2-135m, use_peft: true, lora_r: 16}
    data:    {sources: [{path: bundled:gsm8k_train_256}], system_prompt: r1}
    rewards: [{name: accuracy, weight: 1.0}, {name: format, weight: 0.1}]
    trainer: {learning_rate: 1.0e-6, num_generations: 8, output_dir: runs/x}

Command-line overrides use the field name (`--learning_rate 1e-6`) or, when a name is in several sections, the dotted
path (`--data.seed 3`). Unknown keys are errors with a did-you-mean suggestion; nothing is dropped silently.

Top to bottom: `coerce` / `build` turn plain data into a dataclass, strictly; `read_yaml`, `parse_overrides` and
`apply_overrides` make that data from a file and argv, and `load_recipe` runs the whole path (then `validate()`);
`to_dict` / `redact` turn a recipe back into plain data for files; last, the checks the validate() methods share.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from r1lite.recipe.redaction import looks_like_key, redact


class ConfigError(ValueError):
    """A recipe problem, always naming the field and, where there is a closed set, the allowed values."""


def suggest(name: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


# ---------------------------------------------------------------------------------------------------------------------
# strict building


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the type hint `tp`, converting CLI/YAML strings ("1e-6", "true") where unambiguous."""
    if tp is Any:
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
                return coerce(value, option, where)
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
        return [coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = parse_scalar(value)
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


def parse_scalar(text: str) -> Any:
    """A command-line value: YAML syntax (true, 3, [a, b], {k: v}), with 1e-6 read as a float (YAML 1.1 reads a str)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value):
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
            raise ConfigError(f"{path}: unknown field{suggest(str(key), fields)}; allowed fields: {', '.join(fields)}")
        f = fields[key]
        if "build" in f.metadata:  # a section that builds itself (trl_schema.trainer_section)
            kwargs[key] = f.metadata["build"](value, path)
        else:
            kwargs[key] = coerce(value, hints[f.name], path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{where or cls.__name__}: {e}") from e


# ---------------------------------------------------------------------------------------------------------------------
# loading: YAML + command-line overrides


def unwrap_optional(tp: Any) -> Any:
    """X for `X | None` (Optional[X]), else `tp` unchanged: a section that is off unless the recipe has it
    (grpo's difficulty_filter) is still a section, for overrides and --help."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if len(options) == 1:
            return options[0]
    return tp


def _section_names(cls: type) -> dict[str, set[str]]:
    """Section name -> its field names; "" holds the recipe's own scalar fields."""
    sections: dict[str, set[str]] = {"": set()}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "fields" in f.metadata:
            sections[f.name] = set(f.metadata["fields"]())
        elif _is_dataclass_type(section := unwrap_optional(hints[f.name])):
            sections[f.name] = {g.name for g in dataclasses.fields(section)}
        else:
            sections[""].add(f.name)
    return sections


def _optional_sections(cls: type, sections: dict[str, set[str]]) -> set[str]:
    """Of a recipe's `sections`, those typed `X | None`: off unless the recipe has them."""
    hints = typing.get_type_hints(cls)
    return {name for name in sections if name and unwrap_optional(hints[name]) is not hints[name]}


def lookup(tree: Any, dotted: str) -> Any:
    """tree["a"]["b"] for "a.b" (None where a part is missing), in a recipe as plain data."""
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def apply_aliases(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """A recipe's deprecated spellings (cls.ALIASES: old key or section.key -> section.field) moved to where they
    live now. A key that is also a section's name (eval's `model: NAME`) is an alias only when it is not a mapping."""
    raw = dict(raw)
    for old, new in getattr(cls, "ALIASES", {}).items():
        where, _, key = old.rpartition(".")
        holder = raw.get(where) if where else raw
        if not isinstance(holder, dict) or key not in holder:
            continue
        if old == new.split(".")[0] and isinstance(holder[key], dict):  # the section itself, written as such
            continue
        if where:
            holder = raw[where] = dict(holder)
        section, name = new.split(".")
        warnings.warn(f"recipe field {old!r} is deprecated; write {section}: {{{name}: ...}}", DeprecationWarning,
                      stacklevel=2)
        value = holder.pop(key)
        raw[section] = {**(raw.get(section) or {}), name: value}
    return raw


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
        out[key.replace("-", "_") if "." not in key else key] = parse_scalar(value)
        i += 1
    return out


def apply_overrides(cls: type, raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    sections = _section_names(cls)
    optional = _optional_sections(cls, sections)
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in apply_aliases(cls, raw).items()}
    aliases = getattr(cls, "ALIASES", {})
    # an optional section this recipe has (in the file, or created by an override naming it or a field only it has)
    own = {s: names - set().union(*(n for t, n in sections.items() if t != s)) for s, names in sections.items()}
    present = {s for s in optional if raw.get(s) is not None or any(
        k == s or k.startswith(f"{s}.") or aliases.get(k, k) in own[s] for k in overrides)}
    for key, value in overrides.items():
        key = aliases.get(key, key)
        if key in optional:  # an optional section as a whole (null turns it off), as when it was a plain field
            raw[key] = value
            continue
        if "." in key:
            section, _, name = key.partition(".")
            if section not in sections or section == "" or name not in sections[section]:
                every = [f"{s}.{n}" for s, names in sections.items() if s for n in names]
                raise ConfigError(f"--{key}: unknown field{suggest(key, every)}")
        else:
            owners = [s for s, names in sections.items() if key in names]
            # a name an optional section shares with a section every run has is that section's while the recipe
            # does not have the optional one (--temperature is the trainer's); with both, it is ambiguous
            always = [s for s in owners if s not in optional or s in present]
            owners = always if len(owners) > 1 and always else owners
            if not owners:
                every = [n for names in sections.values() for n in names]
                raise ConfigError(f"--{key}: unknown field{suggest(key, every)}")
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


def split_config(argv: list[str]) -> tuple[str | None, list[str]]:
    """Pull `--config PATH` out of argv; the rest are field overrides."""
    rest, path, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--config":
            if i + 1 == len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError("--config: needs a value: --config path/to/recipe.yaml")
            path, i = argv[i + 1], i + 2
        elif argv[i].startswith("--config="):
            path, i = argv[i].split("=", 1)[1], i + 1
        else:
            rest.append(argv[i])
            i += 1
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"--config: {path} is a folder; give a recipe file (.yaml) in it")
    if path == "":
        raise ConfigError("--config: needs a value: --config path/to/recipe.yaml")
    return path, rest


def load_cli_recipe(cls: type, argv: list[str]) -> Any:
    """`--config R --field value ...` -> the validated recipe."""
    path, rest = split_config(argv)
    return load_recipe(cls, path, parse_overrides(rest))


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
        recipe.validate()  # every recipe checks itself: cross-field rules, data, model, rewards (no model loads)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path else str(e)) from None
    return recipe


def to_dict(recipe: Any) -> dict[str, Any]:
    """The resolved recipe as plain data (for resolved_recipe.yaml, settings files and reports), with anything that
    looks like a secret replaced: these files are shared and committed."""
    return redact(json.loads(json.dumps(dataclasses.asdict(recipe), default=str)))


# ---------------------------------------------------------------------------------------------------------------------
# checks shared by the recipes' validate() methods


def check_positive(where: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    if value is not None and value <= 0:
        raise ConfigError(f"{where}: must be a positive number, got {value}")


def check_env_name(name: Any, where: str) -> None:
    """The name of the environment variable holding a key. The message never echoes the value: it may be the key
    itself, pasted in the wrong place."""
    if name is not None and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
                                 and not looks_like_key(name)):
        raise ConfigError(f"{where}: must be the name of an environment variable (e.g. DEEPSEEK_API_KEY), not the "
                          "key itself")


def check_output_path(path: str | None, where: str) -> None:
    """An output folder that is a file would fail at the first write, after the model has loaded."""
    if path and Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
        raise ConfigError(f"{where}: {path} is a file; an output folder is needed")
