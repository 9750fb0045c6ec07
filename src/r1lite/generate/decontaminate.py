"""Benchmark decontamination by word n-gram overlap, as open-r1 does it (default 8-grams over lowercased words).

A training prompt is contaminated when it shares any n-gram with a benchmark problem, or equals one after
normalization (problems shorter than n words have no n-grams, so they are compared whole). Like open-r1's, this is
aggressive on purpose: shared boilerplate ("where $m$ and $n$ are relatively prime positive integers") counts, and
about a tenth of the MATH train split matches something. Every math benchmark in
`r1lite.data.benchmarks.BENCHMARKS` (MATH_BENCHMARKS: not the safety ones) is checked unless a subset is named:

    benchmark problems -> build_index (an NgramIndex) -> decontaminate(rows): kept, removed -> report (counts)

    r1lite decontaminate --input train.jsonl --output clean.jsonl [--data_dir DIR] [--ngram 8] [--column problem]

writes the kept rows to --output and a report (counts per benchmark, every removed row with what it matched) next
to it as <output>.report.json.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.data import BENCHMARKS, benchmark_file, load_benchmark, read_jsonl
from r1lite.recipe import ConfigError, check_positive

# what training data is checked against by default: HarmBench (a safety benchmark) is no training-data leak
MATH_BENCHMARKS = [name for name, bench in BENCHMARKS.items() if bench.kind == "math"]


@dataclass
class DecontaminationArgs:
    """A recipe's `decontamination:` section (generate): problems overlapping a benchmark are dropped before any
    request is paid for."""

    enabled: bool = True
    ngram: int = 8  # as open-r1
    data_dir: str | None = None  # folder of benchmark JSONL files; null: the bundled copies (benchmark_data/)
    benchmarks: list[str] = field(default_factory=list)  # empty: every math benchmark r1lite knows

    def validate(self, where: str = "decontamination") -> None:
        check_positive(f"{where}.ngram", self.ngram)
        for i, name in enumerate(self.benchmarks):
            if name not in BENCHMARKS:
                raise ConfigError(f"{where}.benchmarks[{i}]: {name!r} is unknown; allowed values: "
                                  f"{', '.join(BENCHMARKS)}")
        if self.enabled and self.data_dir and not Path(self.data_dir).is_dir():
            raise ConfigError(f"{where}.data_dir: {self.data_dir} is not a folder")
        if self.enabled and self.data_dir:
            files = {name: benchmark_file(BENCHMARKS[name], self.data_dir) for name in self.benchmarks or MATH_BENCHMARKS}
            missing = [f"{name} ({file.name})" for name, file in files.items() if file and not file.is_file()]
            if missing:
                raise ConfigError(f"{where}.data_dir: {self.data_dir} lacks the files of {', '.join(missing)}; "
                                  f"list the benchmarks it has in {where}.benchmarks")

DEFAULT_NGRAM = 8
_TOKEN = re.compile(r"\S+")

Match = tuple[str, str]  # (benchmark name, benchmark row id)


def tokens(text: str) -> list[str]:
    """Lowercased whitespace-separated words, as open-r1 splits them (punctuation stays attached)."""
    return _TOKEN.findall(text.lower())


def ngrams(text: str, n: int = DEFAULT_NGRAM) -> set[str]:
    words = tokens(text)
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


class NgramIndex:
    """n-gram -> the benchmark problems containing it, plus whole normalized texts of short problems."""

    def __init__(self, n: int = DEFAULT_NGRAM):
        if n < 1:
            raise ValueError(f"ngram must be a positive integer, got {n}")
        self.n = n
        self.grams: dict[str, set[Match]] = {}
        self.whole: dict[str, set[Match]] = {}
        self.sizes: Counter[str] = Counter()

    def add(self, text: str, match: Match) -> None:
        self.sizes[match[0]] += 1
        self.whole.setdefault(" ".join(tokens(text)), set()).add(match)
        for gram in ngrams(text, self.n):
            self.grams.setdefault(gram, set()).add(match)

    def matches(self, text: str) -> list[Match]:
        found = set(self.whole.get(" ".join(tokens(text)), ()))
        for gram in ngrams(text, self.n):
            found |= self.grams.get(gram, set())
        return sorted(found)


def build_index(data_dir: str | Path | None = None, benchmarks: Sequence[str] | None = None,
                n: int = DEFAULT_NGRAM) -> NgramIndex:
    """Index the problems of `benchmarks` (default: the registered math ones), read from data_dir or
    the bundled copies."""
    index = NgramIndex(n)
    for name in benchmarks or MATH_BENCHMARKS:
        for row in load_benchmark(name, data_dir):
            index.add(row["problem"], (name, row["id"]))
    return index


def decontaminate(rows: Iterable[dict[str, Any]], index: NgramIndex, column: str = "problem"
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept rows, removed rows); a removed row gains `contaminated_by`: [{benchmark, id}, ...]."""
    kept, removed = [], []
    for i, row in enumerate(rows):
        if column not in row:
            raise KeyError(f"row {i} has no column {column!r}; columns: {', '.join(row)}")
        found = index.matches(str(row[column]))
        if found:
            removed.append({**row, "contaminated_by": [{"benchmark": b, "id": j} for b, j in found]})
        else:
            kept.append(row)
    return kept, removed


def report(kept: int, removed: list[dict[str, Any]], index: NgramIndex, id_column: str = "id") -> dict[str, Any]:
    """Counts per benchmark and every removed row (its id and what it matched)."""
    by_benchmark = Counter(b for row in removed for b in {m["benchmark"] for m in row["contaminated_by"]})
    return {"ngram": index.n, "benchmarks": dict(index.sizes), "kept": kept, "removed": len(removed),
            "removed_by_benchmark": dict(sorted(by_benchmark.items())),
            "removed_rows": [{"id": row.get(id_column), "matches": row["contaminated_by"]} for row in removed]}


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="r1lite decontaminate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="JSONL file of training rows")
    parser.add_argument("--output", required=True, help="JSONL file for the kept rows")
    parser.add_argument("--data_dir", default=None, help="benchmark JSONL folder (default: the bundled copies)")
    parser.add_argument("--ngram", type=int, default=DEFAULT_NGRAM)
    parser.add_argument("--column", default="problem", help="the column holding the prompt text")
    parser.add_argument("--benchmarks", default=None, help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = args.benchmarks.split(",") if args.benchmarks else None
    unknown = [b for b in names or [] if b not in BENCHMARKS]
    if unknown:
        parser.error(f"--benchmarks: {', '.join(unknown)} unknown; allowed values: {', '.join(BENCHMARKS)}")
    if args.ngram < 1:
        parser.error(f"--ngram must be a positive integer, got {args.ngram}")
    index = build_index(args.data_dir, names, args.ngram)
    kept, removed = decontaminate(read_jsonl(Path(args.input)), index, args.column)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in kept)
    summary = report(len(kept), removed, index)
    report_path = output.with_name(output.name + ".report.json")
    report_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"kept {len(kept)}, removed {len(removed)} {summary['removed_by_benchmark']}; report: {report_path}")
    return 0
