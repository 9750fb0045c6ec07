"""Datasets: read sources (Hub id, local file/folder, synthetic task), map columns, mix by weight, build prompts.

    problems = load_problems(recipe.data)                 # columns: id, problem, answer, source, + extras
    prompts = to_prompts(problems, recipe.data, tok)      # + prompt (chat messages), long prompts filtered out

Rows may come in any of TRL's formats (dataset_formats.py lists what each stage accepts and checks the data before any model
loads): a `prompt` column is used as given, a `problem` column is built into a chat.

Top to bottom: the `data:` section (DataSource, DataArgs); local files, read row by row with the file and line of
anything unreadable (iter_local_rows, also what dataset_formats.py checks rows with); synthetic tasks; then one source as a
datasets.Dataset with r1lite's columns (read_source), the sources mixed (mix, load_problems), and prompts built
(to_prompts) or the SFT assistant turn written (format_solution).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.data.prompts import build_messages
from r1lite.recipe import ConfigError

log = logging.getLogger("r1lite")

PROBLEM_COLUMNS = ("problem", "question", "prompt", "query", "instruction")  # first one present becomes `problem`
ANSWER_COLUMNS = ("answer", "final_answer", "gold", "solution")  # first one present becomes `answer`
SOLUTION_COLUMNS = ("solution", "completion")  # the assistant turn SFT builds from problem rows (format_solution)
LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
SYNTHETIC = "synthetic:"
BUNDLED = "bundled:"  # a data set shipped in r1lite/data/benchmark_data/, e.g. bundled:gsm8k_train_256


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
        from r1lite.data.benchmarks import bundled_file

        return bundled_file(path[len(BUNDLED):])
    return Path(path).expanduser()


def _suffix(path: Path) -> str:
    """The data format suffix, looking through a trailing .gz (data.jsonl.gz -> .jsonl)."""
    return Path(path.stem).suffix if path.suffix == ".gz" else path.suffix


def local_files(path: Path) -> tuple[str, list[str]]:
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


def json_preview(value: Any) -> str:
    """A value as JSON cut to 40 characters, for error messages that quote a row."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else f"{text[:37]}..."


def iter_local_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(\"file:line\", row) for every row of a local file or folder, streamed. Raises ValueError naming the file and
    line of the first thing `datasets` would choke on: undecodable bytes, bad JSON, a row that is not an object."""
    builder, files = local_files(path)
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
        is_array = fh.read(64).lstrip().startswith(b"[")  # one JSON array of objects, else JSON Lines
        fh.seek(0)
        if is_array:
            try:
                rows = json.loads(_decode(fh.read(), f"{file}"))
            except json.JSONDecodeError as e:
                raise ValueError(f"{file}:{e.lineno}: not valid JSON: {e.msg}") from None
            yield from (_object(row, f"{file}: item {i}") for i, row in enumerate(rows))
            return
        for number, raw in enumerate(fh, 1):
            text = _decode(raw, f"{file}:{number}")
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{file}:{number}: not valid JSON ({e.msg}): {json_preview(text.strip())}") from None
            yield _object(row, f"{file}:{number}")


def _decode(raw: bytes, place: str) -> str:
    try:
        if b"\x00" not in raw:  # NUL bytes decode as UTF-8 but mean a UTF-16 or binary file
            return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    raise ValueError(f"{place}: not UTF-8 text (a binary, compressed or UTF-16 file?)")


def _object(row: Any, place: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(row, dict):  # bad data in a user's file: a ValueError, like every other data error
        raise ValueError(f"{place}: expected a JSON object with fields such as problem and answer, got "  # noqa: TRY004
                         f"{type(row).__name__} {json_preview(row)}")
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
        rows = (row for batch in pq.ParquetFile(file).iter_batches() for row in batch.to_pylist())
        for number, row in enumerate(rows):
            yield f"{file}: row {number}", row
    except (OSError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith(str(file)):
            raise
        raise ValueError(f"{file}: not a readable parquet file ({e})") from None


def synthetic_task(source: DataSource) -> Any:
    """The generator a `synthetic:<task>` source names (tasks.TASKS); its keyword arguments are the task_args."""
    from r1lite.data.tasks import TASKS

    name = source.path[len(SYNTHETIC):]
    if name not in TASKS:
        raise ValueError(f"synthetic task {name!r} is unknown; allowed values: "
                         f"{', '.join(SYNTHETIC + t for t in TASKS)}")
    return TASKS[name]


def synthetic_rows(source: DataSource, n: int | None = None) -> list[dict[str, Any]]:
    args = dict(source.task_args)
    args.setdefault("n", source.num_samples or 1000)
    if n is not None:
        args["n"] = n
    return synthetic_task(source)(split=source.split, **args)


def read_source(source: DataSource) -> Any:
    """One source as a datasets.Dataset with r1lite's column names (problem, answer, ...)."""
    import datasets

    if source.path.startswith(SYNTHETIC):
        ds = datasets.Dataset.from_list(synthetic_rows(source))
    elif is_local(source.path):
        builder, files = local_files(local_path(source.path))
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
    from r1lite.grading import extract_answer

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

        before = len(ds)
        ds = ds.filter(short_enough)
        if len(ds) == 0:
            raise ConfigError(f"data.max_prompt_tokens: every prompt is longer than {limit} tokens")
        if len(ds) < before:
            log.warning("data.max_prompt_tokens: dropped %d of %d prompts longer than %d tokens", before - len(ds),
                        before, limit)
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


# rows of the recipes' Hub datasets (train split), so runs given in epochs can be costed offline
HUB_ROWS = {"open-r1/openr1-math-220k": 93733, "openai/gsm8k": 7473, "digitallearninggmbh/math-lighteval": 7500,
            "agentica-org/deepscaler-preview-dataset": 40315, "open-r1/dapo-math-17k-processed": 17398}


def dataset_rows(data: Any) -> int | None:
    """Rows of a recipe's mixture: num_samples, local line counts, synthetic n, or HUB_ROWS; None when unknown."""
    if data.num_samples:
        return data.num_samples
    total = 0
    for source in data.sources:
        if source.num_samples:
            total += source.num_samples
        elif source.path.startswith("synthetic:"):
            total += source.task_args.get("n", 1000)
        elif Path(source.path).expanduser().is_file() and source.path.endswith(".jsonl"):
            with open(Path(source.path).expanduser()) as fh:
                total += sum(1 for _ in fh)
        elif source.path.lower() in HUB_ROWS:
            total += HUB_ROWS[source.path.lower()]
        else:
            return None
    return total
