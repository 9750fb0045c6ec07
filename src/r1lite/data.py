"""Datasets: read sources (Hub id, local file/folder, synthetic task), map columns, mix by weight, build prompts.

    problems = load_problems(recipe.data)                 # columns: id, problem, answer, source, + extras
    prompts = to_prompts(problems, recipe.data, tok)      # + prompt (chat messages), long prompts filtered out

Rows may come in any of TRL's formats (formats.py lists what each stage accepts): a `prompt` column is used as
given, a `problem` column is built into a chat.
"""

from __future__ import annotations

import difflib
import gzip
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.config import ConfigError, check_positive, coerce
from r1lite.prompts import build_messages

PROBLEM_COLUMNS = ("problem", "question", "prompt", "query", "instruction")  # first one present becomes `problem`
ANSWER_COLUMNS = ("answer", "final_answer", "gold", "solution")  # first one present becomes `answer`
LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
SYNTHETIC = "synthetic:"
BUNDLED = "bundled:"  # a data set shipped in r1lite/benchmark_data/, e.g. bundled:gsm8k_train_256


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


def local_path(path: str) -> Path:
    """The file or folder a local source names: `bundled:<name>` is the packaged file, anything else is a path."""
    if path.startswith(BUNDLED):
        from r1lite.benchmarks import bundled_file

        return bundled_file(path[len(BUNDLED):])
    return Path(path).expanduser()


def _suffix(path: Path) -> str:
    """The data format suffix, looking through a trailing .gz (data.jsonl.gz -> .jsonl)."""
    return Path(path.stem).suffix if path.suffix == ".gz" else path.suffix


def _local_files(path: Path) -> tuple[str, list[str]]:
    """(datasets builder name, files) of a local file or a folder of same-format files."""
    files = sorted(p for p in path.rglob("*") if _suffix(p) in LOCAL_FORMATS) if path.is_dir() else [path]
    formats = {LOCAL_FORMATS.get(_suffix(p)) for p in files}
    if not files or None in formats or len(formats) > 1:
        raise ValueError(f"{path}: expected .jsonl/.json/.parquet/.csv files of one format, found "
                         f"{sorted(p.name for p in files)[:5] or 'none'}")
    return formats.pop(), [str(p) for p in files]


def is_local(path: str) -> bool:
    return (path.startswith((BUNDLED, ".", "/", "~")) or Path(path).expanduser().exists()
            or _suffix(Path(path)) in LOCAL_FORMATS)


def peek_columns(source: DataSource) -> list[str] | None:
    """Column names of a source without loading it (first row of a local file); None when unknowable offline."""
    if source.path.startswith(SYNTHETIC):
        rows = _synthetic_rows(source, n=1)
        return list(rows[0]) if rows else []
    if not is_local(source.path):
        return None
    path = local_path(source.path)
    if not path.exists():
        raise FileNotFoundError(f"{source.path} does not exist")
    builder, files = _local_files(path)
    if builder == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(files[0]).names
        except (OSError, ValueError) as e:
            raise ValueError(f"{files[0]}: not a readable parquet file ({e})") from None
    for _, row in iter_local_rows(path):
        return list(row)
    return []


SOLUTION_COLUMNS = ("solution", "completion")  # the assistant turn SFT builds from problem rows (format_solution)


def peek_row(source: DataSource) -> dict[str, Any] | None:
    """The first row of a local file or a synthetic task, with the source's column renames applied; None when it
    can't be read cheaply (a Hub dataset) or the source is missing or unreadable (check_source reports that)."""
    if source.path.startswith(SYNTHETIC):
        try:
            rows = _synthetic_rows(source, n=1)
        except (TypeError, ValueError):  # bad task_args: check_source names them
            return None
        row = rows[0] if rows else None
    elif not is_local(source.path) or not local_path(source.path).exists():
        return None
    else:
        try:
            row = next((r for _, r in iter_local_rows(local_path(source.path))), None)
        except ValueError:
            return None
    return None if row is None else {source.columns.get(k, k): v for k, v in row.items()}


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
    if "text" in mapped or {"prompt", "completion"} <= mapped:
        return  # SFT formats that need no problem/answer columns (formats.check_formats checks the rows)
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
    import typing

    from r1lite.tasks import TASKS

    name = source.path[len(SYNTHETIC):]
    if name not in TASKS:
        raise ConfigError(f"{where}.path: synthetic task {name!r} is unknown; allowed values: "
                          f"{', '.join(SYNTHETIC + t for t in TASKS)}")
    hints = {k: v for k, v in typing.get_type_hints(TASKS[name]).items() if k not in ("split", "return")}
    for key, value in source.task_args.items():
        if key not in hints:
            raise ConfigError(f"{where}.task_args.{key}: not an argument of {source.path}; allowed values: "
                              f"{', '.join(hints)}")
        source.task_args[key] = coerce(value, hints[key], f"{where}.task_args.{key}")  # "5" from a CLI -> 5
    check_positive(f"{where}.task_args.n", source.task_args.get("n"))


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
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in value))


def _is_training_chat(value: Any) -> bool:
    """A conversation SFT can train on: its last turn is the assistant's (the completion)."""
    return _is_chat(value) and value[-1]["role"] == "assistant"


def _check_rows(source: DataSource, where: str, required: dict[str, Any]) -> None:
    """Every row of a local source (streamed: a large file costs time, not memory) has each required column with a
    usable value. Hub datasets are checked when they load."""
    if source.path.startswith(SYNTHETIC) or not is_local(source.path):
        return
    try:
        for place, row in iter_local_rows(local_path(source.path)):
            for column, ok in required.items():
                if column not in row:
                    raise ValueError(f"{place}: no {column!r} field; fields present: {', '.join(map(str, row))}")
                if not ok(row[column]):
                    expected = EXPECTED.get(ok, "non-empty text")
                    raise ValueError(f"{place}: {column!r} is {_describe(row[column])}, expected {expected}")
    except ValueError as e:
        raise ConfigError(f"{where}.path: {e}") from None


EXPECTED = {_is_training_chat: "a list of {role, content} messages ending with the assistant's",
            _is_prompt: "non-empty text or a list of {role, content} messages"}


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else f"{text[:37]}..."


def iter_local_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(\"file:line\", row) for every row of a local file or folder, streamed. Raises ValueError naming the file and
    line of the first thing `datasets` would choke on: undecodable bytes, bad JSON, a row that is not an object."""
    builder, files = _local_files(path)
    for file in map(Path, files):
        reader = {"json": _json_rows, "csv": _csv_rows, "parquet": _parquet_rows}[builder]
        count = 0
        for place, row in reader(file):
            count += 1
            yield place, row
        if not count:
            raise ValueError(f"{file}: no rows (empty file)")


def _open_bytes(file: Path) -> Any:
    """A binary reader of a data file, looking through gzip (the bundled data sets are .jsonl.gz)."""
    return gzip.open(file, "rb") if file.suffix == ".gz" else open(file, "rb")


def _json_rows(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with _open_bytes(file) as fh:
        head = fh.read(64).lstrip()
    if head.startswith(b"["):  # one JSON array of objects
        try:
            with _open_bytes(file) as fh:
                rows = json.loads(_decode(fh.read(), f"{file}"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{file}:{e.lineno}: not valid JSON: {e.msg}") from None
        for i, row in enumerate(rows):
            yield _object(row, f"{file}: item {i}")
        return
    with _open_bytes(file) as fh:
        for number, raw in enumerate(fh, 1):
            text = _decode(raw, f"{file}:{number}")
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{file}:{number}: not valid JSON ({e.msg}): {_describe(text.strip())}") from None
            yield _object(row, f"{file}:{number}")


def _decode(raw: bytes, place: str) -> str:
    try:
        if b"\x00" in raw:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{place}: not UTF-8 text (a binary, compressed or UTF-16 file?)") from None


def _object(row: Any, place: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(row, dict):
        raise ValueError(f"{place}: expected a JSON object with fields such as problem and answer, got "
                         f"{type(row).__name__} {_describe(row)}")
    return place, row


def _csv_rows(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import csv

    _decode(file.read_bytes()[:1 << 16], f"{file}")
    with open(file, newline="", encoding="utf-8", errors="replace") as fh:
        for number, row in enumerate(csv.DictReader(fh), 2):
            yield f"{file}:{number}", {k: v for k, v in row.items() if k is not None}


def _parquet_rows(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(file).iter_batches()
        number = 0
        for batch in batches:
            for row in batch.to_pylist():
                yield f"{file}: row {number}", row
                number += 1
    except (OSError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith(str(file)):
            raise
        raise ValueError(f"{file}: not a readable parquet file ({e})") from None


def _synthetic_rows(source: DataSource, n: int | None = None) -> list[dict[str, Any]]:
    from r1lite.tasks import TASKS

    name = source.path[len(SYNTHETIC):]
    if name not in TASKS:
        raise ValueError(f"synthetic task {name!r} is unknown; allowed values: "
                         f"{', '.join(SYNTHETIC + t for t in TASKS)}")
    args = dict(source.task_args)
    args.setdefault("n", source.num_samples or 1000)
    if n is not None:
        args["n"] = n
    return TASKS[name](split=source.split, **args)


def read_source(source: DataSource) -> Any:
    """One source as a datasets.Dataset with r1lite's column names (problem, answer, ...)."""
    import datasets

    if source.path.startswith(SYNTHETIC):
        ds = datasets.Dataset.from_list(_synthetic_rows(source))
    elif is_local(source.path):
        builder, files = _local_files(local_path(source.path))
        ds = datasets.load_dataset(builder, data_files=files, split="train")
    else:
        try:
            ds = datasets.load_dataset(source.path, source.name, split=source.split)
        except Exception as e:  # noqa: BLE001 - offline, no such repo, bad config/split: one line, not a chain
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise ConfigError(f"data: {source.path} (split {source.split}) could not be loaded from the Hub or "
                              f"its cache: {type(e).__name__}: {first[:200]}") from None
    explicit = {k: v for k, v in source.columns.items() if k != v}
    ds = ds.remove_columns([v for v in explicit.values() if v in ds.column_names and v not in explicit])
    ds = ds.rename_columns(explicit)
    if "problem" not in ds.column_names:
        found = next((c for c in PROBLEM_COLUMNS if c in ds.column_names and isinstance(ds[0][c], str)), None)
        if found:
            ds = ds.map(lambda row: {"problem": row[found]})
    if "answer" not in ds.column_names:
        found = next((c for c in ANSWER_COLUMNS if c in ds.column_names), None)
        if found:  # a reference solution as gold keeps only its final answer
            ds = ds.map(lambda row: {"answer": _gold_from_solution(row[found]) if found == "solution" else row[found]})
    elif "answer" in explicit.values() and "solution" in explicit:
        ds = ds.map(lambda row: {"answer": _gold_from_solution(row["answer"])})
    if source.where:
        ds = _select_where(ds, source)
    name = Path(source.path).stem if not source.path.startswith(SYNTHETIC) else source.path
    if "id" not in ds.column_names:
        ds = ds.add_column("id", [f"{name}-{i}" for i in range(len(ds))])
    if "source" not in ds.column_names:
        ds = ds.add_column("source", [name] * len(ds))
    return ds


def _select_where(ds: Any, source: DataSource) -> Any:
    missing = [c for c in source.where if c not in ds.column_names]
    if missing:
        raise ConfigError(f"data.sources[{source.path}].where: column {missing[0]!r} is not in the data; available "
                          f"columns: {', '.join(ds.column_names)}")
    wanted = {c: {str(v) for v in (vals if isinstance(vals, list) else [vals])} for c, vals in source.where.items()}
    kept = ds.filter(lambda row: all(str(row[c]) in vals for c, vals in wanted.items()))
    if len(kept) == 0:
        raise ConfigError(f"data.sources[{source.path}].where: {source.where} matches no row")
    return kept


def _gold_from_solution(solution: str) -> str:
    """A reference solution used as gold: keep only its final answer (last boxed or #### X)."""
    from r1lite.answer_extraction import extract_answer

    return extract_answer(solution) or solution


def mix(parts: list[Any], sources: list[DataSource], num_samples: int | None, seed: int, shuffle: bool) -> Any:
    """Mix sources by weight. Each source first takes its own num_samples; with a total `num_samples`, a source's
    share is total * weight / sum(weights), repeating rows (seeded) when the share exceeds the source."""
    import datasets

    taken = []
    for part, source in zip(parts, sources):
        if shuffle:
            part = part.shuffle(seed=seed)
        if source.num_samples is not None:
            part = part.select(range(min(source.num_samples, len(part))))
        taken.append(part)
    if num_samples is not None:
        total_weight = sum(s.weight for s in sources)
        quotas = [math.floor(num_samples * s.weight / total_weight) for s in sources]
        quotas[0] += num_samples - sum(quotas)
        taken = [part.select([i % len(part) for i in range(quota)]) for part, quota in zip(taken, quotas) if len(part)]
    common = set.intersection(*(set(p.column_names) for p in taken)) if taken else set()
    taken = [p.select_columns([c for c in p.column_names if c in common]) for p in taken]
    mixed = datasets.concatenate_datasets(taken) if len(taken) > 1 else taken[0]
    return mixed.shuffle(seed=seed) if shuffle else mixed


def load_problems(data: DataArgs) -> Any:
    """The mixture of all sources as one Dataset with at least id, problem, source (and answer when present)."""
    if not data.sources:
        raise ConfigError("data.sources: at least one source is needed")
    parts = [read_source(s) for s in data.sources]
    return mix(parts, data.sources, data.num_samples, data.seed, data.shuffle)


def to_prompts(problems: Any, data: DataArgs, tokenizer: Any = None) -> Any:
    """The `prompt` column TRL's GRPOTrainer reads: the data's own (conversational or standard, used as given), else a
    chat built from `problem`. Prompts over data.max_prompt_tokens are dropped."""
    if "prompt" in problems.column_names:
        ds = problems  # TRL's own column: a chat TRL templates, or text it feeds to the model as is
    else:
        ds = problems.map(lambda row: {"prompt": build_messages(row["problem"], data.system_prompt,
                                                                data.prompt_template)})
    if tokenizer is not None and data.max_prompt_tokens:
        limit = data.max_prompt_tokens

        def short_enough(row: dict[str, Any]) -> bool:
            text = row["prompt"] if isinstance(row["prompt"], str) else tokenizer.apply_chat_template(
                row["prompt"], add_generation_prompt=True, tokenize=False)
            return len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= limit

        ds = ds.filter(short_enough)
        if len(ds) == 0:
            raise ConfigError(f"data.max_prompt_tokens: every prompt is longer than {limit} tokens")
    return ds


def format_solution(row: dict[str, Any], wrap_in_think: bool = False) -> str:
    """The assistant turn for SFT: the solution (or completion) as written; with wrap_in_think, a solution with no
    </think> becomes R1's format, <think>solution</think> then the boxed answer."""
    solution = row.get("solution") or row.get("completion") or ""
    if "</think>" in solution or not wrap_in_think:
        return solution
    answer = row.get("answer")
    tail = f"\nThe answer is \\boxed{{{answer}}}." if answer and "\\boxed" not in solution else ""
    return f"<think>\n{solution.strip()}\n</think>{tail}"


def check_data(data: DataArgs, where: str = "data", need_answer: bool = True, need_solution: bool = False) -> None:
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
    from r1lite.prompts import USER_TEMPLATES

    if template in USER_TEMPLATES or "{problem}" in template:
        return
    slots = re.findall(r"\{([^{}]*)\}", template)
    typo = next((f" ({{{s}}} is not a placeholder; did you mean {{problem}}?)" for s in slots
                 if difflib.get_close_matches(s.lower(), ["problem"], cutoff=0.6)), "")
    raise ConfigError(f"{where}: no {{problem}} slot{typo}, so every prompt would be the template text alone; "
                      f"write the problem's place as {{problem}}, or use one of: {', '.join(USER_TEMPLATES)}")
