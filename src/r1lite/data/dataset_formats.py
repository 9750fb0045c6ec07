"""A recipe's data, checked before any model loads: every source's columns and rows, and the TRL dataset format each
source is in (which formats each stage accepts is listed below).

    check_data(recipe.data)            -> check_source per source: its columns (peek_columns, offline: a local file's
                                          first row or schema, a synthetic task's first row; a Hub dataset is checked
                                          when it loads), then every row of a local file streamed through _check_rows
    check_formats(recipe.data, stage)  -> each source's first row (peek_row) -> its format (grpo_format / sft_format);
                                          the sources must share one

GRPO and distill (prompts only), one of (every source of a recipe in the same one):
    prompt: [{role, content}, ...]      conversational: used as given, TRL applies the chat template
    prompt: "text"                      standard: used as given, no chat template (e.g. an R1-Zero base-model prompt)
    problem (question, query, ...)      r1lite builds the chat: data.system_prompt + data.prompt_template
SFT, one of (sources may mix the first three, which all become conversations):
    messages: [{role, content}, ...]    the last (assistant) turn is the completion
    prompt + completion, as messages    conversational prompt-completion
    problem + solution (or completion)  r1lite builds the chat; the solution is the assistant turn, as written, unless
                                        data.wrap_in_think asks to wrap it as <think>solution</think> + \\boxed{answer}
    prompt + completion, as text        standard prompt-completion: no chat template
    text                                language modeling on the whole text
generate: problem (question, prompt, ...) as text with an answer (final_answer, gold, solution) column: r1lite builds
the teacher's chat from the problem and verifies every sample against the answer.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any

from r1lite.data.data import (
    ANSWER_COLUMNS,
    PROBLEM_COLUMNS,
    SOLUTION_COLUMNS,
    SYNTHETIC,
    DataArgs,
    DataSource,
    is_local,
    iter_local_rows,
    json_preview,
    local_files,
    local_path,
    synthetic_rows,
    synthetic_task,
)
from r1lite.data.prompts import USER_TEMPLATES
from r1lite.recipe import ConfigError, check_positive, coerce

GRPO_FORMATS = {
    "conversational prompt": "`prompt`: a list of {role, content} messages",
    "standard prompt": "`prompt`: text",
    "problem": "`problem` (or question, query, instruction): text, built into a chat by r1lite",
}
SFT_FORMATS = {
    "messages": "`messages`: a list of {role, content} messages ending with an assistant turn",
    "conversational prompt-completion": "`prompt` and `completion`: lists of {role, content} messages",
    "problem-solution": "`problem` (or question, ...) and `solution` (or completion): text, built into a chat",
    "standard prompt-completion": "`prompt` and `completion`: text (no chat template)",
    "text": "`text`: text (language modeling)",
}
GENERATE_FORMATS = {
    "problem": (f"`problem` (or {', '.join(PROBLEM_COLUMNS[1:])}): text, with an `answer` (or "
                f"{', '.join(ANSWER_COLUMNS[1:])}) column that the teacher's samples are verified against"),
}
# SFT formats that r1lite turns into one conversational dataset (so sources in them can be mixed)
SFT_CONVERSATIONAL = ("messages", "conversational prompt-completion", "problem-solution")


# ---------------------------------------------------------------------------------------------------------------------
# columns and rows


def check_data(data: DataArgs, where: str = "data", need_answer: bool = True, need_solution: bool = False) -> None:
    """The checks of a `data:` section that every recipe's validate() runs (check_formats is the stage's own)."""
    if not data.sources:
        raise ConfigError(f"{where}.sources: at least one source is needed (a file, a Hub id or synthetic:<task>)")
    check_prompt_template(data.prompt_template, f"{where}.prompt_template")
    check_positive(f"{where}.max_prompt_tokens", data.max_prompt_tokens)
    check_positive(f"{where}.num_samples", data.num_samples)
    for i, source in enumerate(data.sources):
        check_positive(f"{where}.sources[{i}].weight", source.weight)
        check_positive(f"{where}.sources[{i}].num_samples", source.num_samples)
        check_source(source, f"{where}.sources[{i}]", need_answer=need_answer, need_solution=need_solution)


def check_prompt_template(template: str, where: str) -> None:
    """Without a {problem} slot every prompt would be the template itself (other braces, as in \\boxed{}, are
    literal text)."""
    if template in USER_TEMPLATES or "{problem}" in template:
        return
    slots = re.findall(r"\{([^{}]*)\}", template)
    typo = next((f" ({{{s}}} is not a placeholder; did you mean {{problem}}?)" for s in slots
                 if difflib.get_close_matches(s.lower(), ["problem"], cutoff=0.6)), "")
    raise ConfigError(f"{where}: no {{problem}} slot{typo}, so every prompt would be the template text alone; "
                      f"write the problem's place as {{problem}}, or use one of: {', '.join(USER_TEMPLATES)}")


def check_source(source: DataSource, where: str, need_answer: bool = True, need_solution: bool = False) -> None:
    """Fail early (before any model loads) on a missing file, columns the recipe needs but the data lacks, or any
    row of a local file that training would crash on or silently train on garbage with."""
    if source.path.startswith(SYNTHETIC):
        check_task_args(source, where)
    try:
        columns = peek_columns(source)
    except (FileNotFoundError, ValueError) as e:
        field = "task_args" if source.path.startswith(SYNTHETIC) else "path"  # the task checks its own arguments
        raise ConfigError(f"{where}.{field}: {e}") from None
    if columns is None:
        return
    mapped = set(columns) | {dst for src, dst in source.columns.items() if src in columns}
    for src in source.columns:
        if src not in columns:
            raise ConfigError(f"{where}.columns: column {src!r} is not in {source.path}; allowed values: "
                              f"{', '.join(columns)}")
    for column in source.where:
        if column not in mapped:
            raise ConfigError(f"{where}.where: column {column!r} is not in {source.path}; allowed values: "
                              f"{', '.join(sorted(mapped))}")
    if "messages" in mapped:
        _check_rows(source, where, {_source_column(source, columns, ("messages",)): _is_training_chat})
        return  # a chat dataset (SFT) needs no problem/answer columns
    if {"prompt", "completion"} <= mapped:  # SFT prompt-completion: every row in the first row's format
        _check_rows(source, where, {_source_column(source, columns, ("prompt",)): _is_prompt,
                                    _source_column(source, columns, ("completion",)): _is_prompt})
        return
    if "text" in mapped:
        return  # SFT's text format needs no problem/answer columns (check_formats checks the rows)
    if not mapped & set(PROBLEM_COLUMNS):
        raise ConfigError(f"{where}: {source.path} has no problem column (looked for {', '.join(PROBLEM_COLUMNS)}); "
                          f"map one with columns: {{<column>: problem}}; available columns: {', '.join(columns)}")
    if need_answer and not mapped & set(ANSWER_COLUMNS):
        raise ConfigError(f"{where}: {source.path} has no answer column (looked for {', '.join(ANSWER_COLUMNS)}) "
                          f"and the rewards need one; available columns: {', '.join(columns)}")
    if need_solution and not mapped & set(SOLUTION_COLUMNS):
        raise ConfigError(f"{where}: {source.path} has no solution column (looked for messages, "
                          f"{', '.join(SOLUTION_COLUMNS)}), so SFT would train on empty <think></think> turns; "
                          f"map one with columns: {{<column>: solution}}; available columns: {', '.join(columns)}")
    problem = _source_column(source, columns, PROBLEM_COLUMNS)
    required = {problem: _is_prompt if problem == "prompt" else _is_text}
    if need_solution:
        required[_source_column(source, columns, SOLUTION_COLUMNS)] = _is_text
    _check_rows(source, where, required)


def check_task_args(source: DataSource, where: str) -> None:
    """A synthetic task's arguments are the generator's keyword arguments, typed by its annotations; a typo or a
    wrong type would be a TypeError later."""
    try:
        task = synthetic_task(source)
    except ValueError as e:
        raise ConfigError(f"{where}.path: {e}") from None
    hints = {k: v for k, v in typing.get_type_hints(task).items() if k not in ("split", "return")}
    for key, value in source.task_args.items():
        if key not in hints:
            raise ConfigError(f"{where}.task_args.{key}: not an argument of {source.path}; allowed values: "
                              f"{', '.join(hints)}")
        source.task_args[key] = coerce(value, hints[key], f"{where}.task_args.{key}")  # "5" from a CLI -> 5
    check_positive(f"{where}.task_args.n", source.task_args.get("n"))


def peek_columns(source: DataSource) -> list[str] | None:
    """Column names of a source without loading it (first row of a local file); None when unknowable offline."""
    if source.path.startswith(SYNTHETIC):
        rows = synthetic_rows(source, n=1)
        return list(rows[0]) if rows else []
    if not is_local(source.path):
        return None
    path = local_path(source.path)
    if not path.exists():
        raise FileNotFoundError(f"{source.path} does not exist")
    builder, files = local_files(path)
    if builder == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(files[0]).names
        except (OSError, ValueError) as e:
            raise ValueError(f"{files[0]}: not a readable parquet file ({e})") from None
    return list(next(iter_local_rows(path))[1])  # iter_local_rows raises on a file without rows


def _source_column(source: DataSource, columns: list[str], wanted: tuple[str, ...]) -> str:
    """The file column that becomes the first of `wanted` present (explicit `columns:` mappings first)."""
    renamed = {dst: src for src, dst in source.columns.items() if src in columns}
    return next(renamed.get(c, c) for c in wanted if c in renamed or c in columns)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_prompt(value: Any) -> bool:
    """TRL's `prompt` column: text (standard) or chat messages (conversational)."""
    return _is_text(value) or _is_chat(value)


def _is_chat(value: Any) -> bool:
    return is_messages(value) and all(isinstance(m["content"], str) for m in value)


def _is_training_chat(value: Any) -> bool:
    """A conversation SFT can train on: its last turn is the assistant's (the completion)."""
    return _is_chat(value) and value[-1]["role"] == "assistant"


def _check_rows(source: DataSource, where: str, required: dict[str, Any]) -> None:
    """Every row of a local source (streamed: a large file costs time, not memory) has each required column with a
    usable value. Hub datasets are checked when they load."""
    if source.path.startswith(SYNTHETIC) or not is_local(source.path):
        return
    first: dict[str, tuple[str, str]] = {}  # column -> (its kind in the first row, that row's place)
    try:
        for place, row in iter_local_rows(local_path(source.path)):
            for column, ok in required.items():
                if column not in row:
                    raise ValueError(f"{place}: no {column!r} field; fields present: {', '.join(map(str, row))}")
                if not ok(row[column]):
                    expected = EXPECTED.get(ok, "non-empty text")
                    raise ValueError(f"{place}: {column!r} is {json_preview(row[column])}, expected {expected}")
                # TRL formats a whole batch one way: chat and text rows in one file crash mid-training
                kind = "chat messages" if isinstance(row[column], list) else "text"
                seen, where_seen = first.setdefault(column, (kind, place))
                if kind != seen:
                    raise ValueError(f"{place}: {column!r} is {kind} but {where_seen} has {seen}; one file holds one "
                                     "format (convert the rows, or split them into two sources)")
    except ValueError as e:
        raise ConfigError(f"{where}.path: {e}") from None


EXPECTED = {_is_training_chat: "a list of {role, content} messages ending with the assistant's",
            _is_prompt: "non-empty text or a list of {role, content} messages"}


# ---------------------------------------------------------------------------------------------------------------------
# formats


def check_formats(data: DataArgs, stage: str, where: str = "data") -> list[str | None]:
    """Each source's format (None where it cannot be known offline: a Hub dataset, a CSV or Parquet file). Raises
    ConfigError naming the source, the column and the accepted formats when a row will not work, or when sources
    are in formats that cannot be mixed."""
    accepted, detect = {"grpo": (GRPO_FORMATS, grpo_format), "distill": (GRPO_FORMATS, grpo_format),
                        "sft": (SFT_FORMATS, sft_format),
                        "generate": (GENERATE_FORMATS, generate_format)}[stage]
    found: list[str | None] = []
    for i, source in enumerate(data.sources):
        row = peek_row(source)
        if row is None:
            found.append(None)
            continue
        fmt, why = detect(row)
        if fmt is None:
            raise ConfigError(f"{where}.sources[{i}]: {source.path}: {why}; accepted {stage} formats: "
                              + "; ".join(accepted.values()))
        found.append(fmt)
    known = {f for f in found if f}
    families = {("conversational" if f in SFT_CONVERSATIONAL else f) if stage == "sft" else f for f in known}
    if len(families) > 1:
        raise ConfigError(f"{where}.sources: formats {', '.join(sorted(known))} cannot be mixed in one {stage} "
                          "dataset; convert the sources to one format (accepted: " + "; ".join(accepted.values())
                          + ")")
    return found


def peek_row(source: DataSource) -> dict[str, Any] | None:
    """The first row of a local file or a synthetic task, with the source's column renames applied; None when it
    can't be read cheaply (a Hub dataset) or the source is missing or unreadable (check_source reports that)."""
    try:
        if source.path.startswith(SYNTHETIC):
            row = next(iter(synthetic_rows(source, n=1)), None)
        elif is_local(source.path) and local_path(source.path).exists():
            row = next((r for _, r in iter_local_rows(local_path(source.path))), None)
        else:
            return None
    except (TypeError, ValueError, OSError):  # bad task_args, an unreadable or missing file (check_source says so)
        return None
    return None if row is None else {source.columns.get(k, k): v for k, v in row.items()}


def grpo_format(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the GRPO format of a row, or None; and why not, naming the column)."""
    if "prompt" in row:
        value = row["prompt"]
        if is_messages(value):
            return "conversational prompt", ""
        if isinstance(value, str):
            return "standard prompt", ""
        return None, f"column `prompt` holds {_describe(value)}"
    if any(isinstance(row.get(c), str) for c in PROBLEM_COLUMNS):
        return "problem", ""
    return None, f"no `prompt` or problem column (columns: {', '.join(row)})"


def sft_format(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the SFT format of a row, or None; and why not, naming the column)."""
    if "messages" in row:
        value = row["messages"]
        if not is_messages(value):
            return None, f"column `messages` holds {_describe(value)}"
        if value[-1]["role"] != "assistant":
            return None, f"column `messages` ends with a {value[-1]['role']!r} turn, not an assistant one"
        return "messages", ""
    if "prompt" in row and "completion" in row:
        prompt, completion = row["prompt"], row["completion"]
        if is_messages(prompt) and is_messages(completion):
            return "conversational prompt-completion", ""
        if isinstance(prompt, str) and isinstance(completion, str):
            return "standard prompt-completion", ""
        return None, (f"columns `prompt` ({_describe(prompt)}) and `completion` ({_describe(completion)}) must be "
                      "both messages or both text")
    if isinstance(row.get("text"), str):
        return "text", ""
    if any(isinstance(row.get(c), str) for c in PROBLEM_COLUMNS):
        if any(isinstance(row.get(c), str) for c in SOLUTION_COLUMNS):
            return "problem-solution", ""
        return None, "a problem column but no `solution` or `completion` column to train on"
    return None, f"no messages, prompt/completion, text or problem column (columns: {', '.join(row)})"


def generate_format(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the generate format of a row, or None; and why not): a problem as text, built into the teacher's chat, and
    the gold answer its samples are verified against."""
    if not any(isinstance(row.get(c), str) for c in PROBLEM_COLUMNS):
        if "prompt" in row:
            return None, f"column `prompt` holds {_describe(row['prompt'])}, not a problem as text"
        return None, f"no problem column (columns: {', '.join(row)})"
    if not any(c in row for c in ANSWER_COLUMNS):
        return None, f"no answer column to verify the teacher's samples against (columns: {', '.join(row)})"
    return "problem", ""


def is_messages(value: Any) -> bool:
    """A list of {role, content} chat messages."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value))


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {type(value[0]).__name__}" if value else "an empty list"
    return "null" if value is None else f"a {type(value).__name__}"
