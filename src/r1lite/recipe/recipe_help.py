"""`r1lite <stage> --help`: usage, then every section and field of the stage's recipe (name, type, default, one line
of doc), read from the same dataclasses that validate recipes. Nothing heavy is imported (no torch, no TRL trainer):
r1lite's field docs are the trailing comments in the dataclass source, TRL's and transformers' are their fields'
`metadata["help"]` (read from source by trl_schema).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import io
import re
import textwrap
import tokenize
import typing
from collections.abc import Sequence
from typing import Any

from r1lite.recipe.config import unwrap_optional
from r1lite.recipe.trl_schema import CONFIG_NAMES, NO_DEFAULT, trainer_fields

DOC_WIDTH = 110  # a field's doc is wrapped at this width, under its name


def module_doc(module: str) -> str:
    """A module's docstring, read from its file so the module (and what it imports) is not loaded."""
    origin = importlib.util.find_spec(module).origin
    with open(origin) as fh:
        return ast.get_docstring(ast.parse(fh.read())) or ""


def comment_docs(cls: type) -> dict[str, str]:
    """Field name -> the comment trailing its line in the class source (plus comment-only lines continuing it)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    docs = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.end_lineno in comments:
            text, line = [comments[node.end_lineno]], node.end_lineno + 1
            while line in comments and lines[line - 1].lstrip().startswith("#"):
                text.append(comments[line])
                line += 1
            docs[node.target.id] = " ".join(text)
    return docs


def field_doc(cls: type, name: str) -> str:
    """The doc of a dataclass field: metadata["help"] or a trailing comment, from the first class in the MRO that
    documents it (ModelArgs overrides a few of TRL's ModelConfig fields and keeps their help)."""
    for klass in cls.__mro__:
        own = getattr(klass, "__dataclass_fields__", {}).get(name)
        if own is not None and own.metadata.get("help"):
            return str(own.metadata["help"])
        if name in vars(klass).get("__annotations__", {}):
            doc = comment_docs(klass).get(name)
            if doc:
                return doc
    return ""


def one_line(text: str) -> str:
    """The first sentence of a doc, whole (never cut mid-word: _row wraps it); "e.g." and "i.e." end no sentence."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.split(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s(?=[A-Z`])", text, maxsplit=1)[0]


def _type_name(tp: Any) -> str:
    text = tp if isinstance(tp, str) else getattr(tp, "__name__", None) or str(tp)
    return text.replace("typing.", "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return NO_DEFAULT


def _row(name: str, type_name: str, default: Any, doc: str, missing: str = "required") -> str:
    """Two lines per field: name, type, default; then its doc. `missing` is shown when there is no literal default."""
    shown = missing if default is NO_DEFAULT else f"= {default!r}"
    indent = " " * 33
    lines = textwrap.wrap(one_line(doc), DOC_WIDTH, initial_indent=indent, subsequent_indent=indent,
                          break_on_hyphens=False)
    return "\n".join([f"  {name:<30} {type_name} {shown}", *lines])


def _dataclass_rows(cls: type) -> list[str]:
    return [_row(f.name, _type_name(f.type), _default(f), field_doc(cls, f.name))
            for f in dataclasses.fields(cls) if f.init]


def _section_type(hint: Any) -> tuple[type | None, bool]:
    """(the dataclass a section holds, whether it is a list of them); an optional section (`X | None`) is X's."""
    hint = unwrap_optional(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint, False
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (None,)
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return item, True
    return None, False


def render(stage: str, recipe_cls: type, module: str, reward_names: Sequence[str]) -> str:
    """The full `--help` text of a recipe-driven stage: `module` (its docstring opens the help) defines `recipe_cls`."""
    hints = typing.get_type_hints(recipe_cls)
    config = "--config RECIPE.yaml" if stage == "generate" else "[--config RECIPE.yaml]"  # others run on defaults
    out = [f"usage: r1lite {stage} {config} [--field value | --section.field value ...]",
           f"       r1lite check --config RECIPE.yaml --stage {stage}    (validate only)", "",
           module_doc(module), "",
           "Recipe fields (YAML sections; any field can be overridden on the command line by name, or by section.name",
           "when the name is in several sections):"]
    top = []
    for f in dataclasses.fields(recipe_cls):
        if "trl" in f.metadata:
            kind = f.metadata["trl"]
            fields = trainer_fields(kind)
            out += ["", (f"{f.name}:  trl.{CONFIG_NAMES[kind]} fields, passed to TRL unchanged ({len(fields)} "
                         "fields; docs are TRL's and transformers')")]
            out += [_row(s.name, s.annotation, s.default, s.help, missing="(default computed by TRL)")
                    for s in fields.values()]
            continue
        section, is_list = _section_type(hints[f.name])
        if section is None:
            top.append(_row(f.name, _type_name(f.type), _default(f), field_doc(recipe_cls, f.name)))
            continue
        own_doc = section.__doc__ if section.__doc__ and not section.__doc__.startswith(f"{section.__name__}(") else ""
        doc = field_doc(recipe_cls, f.name) or one_line(own_doc)  # a dataclass without one gets its signature
        title = f"{f.name}:  a list of {section.__name__}" if is_list else f"{f.name}:  {section.__name__}"
        out += ["", *textwrap.wrap(f"{title}{' - ' + doc if doc else ''}", DOC_WIDTH + 33, subsequent_indent="  ",
                                   break_on_hyphens=False)]
        if f.name == "rewards":
            out += textwrap.wrap(f"(name: one of {', '.join(reward_names)}, or your own function as "
                                 "module.path:function or path/to/file.py:function)", DOC_WIDTH + 33,
                                 initial_indent="  ", subsequent_indent="   ", break_on_hyphens=False)
        out += _dataclass_rows(section)
    if top:
        out += ["", "top-level fields:", *top]
    return "\n".join(out) + "\n"
