"""n-gram decontamination against the bundled benchmarks: planted problems go, near-misses stay."""

import json

import pytest

from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.data.benchmarks import read_jsonl
from r1lite.generate.decontaminate import NgramIndex, build_index, cli, decontaminate, ngrams

PLANTED_ID = "test/prealgebra/977.json"  # "If $3x + 2(1 + x) = 17$, what is the value of $6x + 5$?"


@pytest.fixture(scope="module")
def index():
    return build_index()  # no data_dir: the bundled copies


def _benchmark_problem(file: str, row_id: str) -> str:
    return next(r["problem"] for r in read_jsonl(DATA / f"{file}.gz") if r["id"] == row_id)


def test_index_covers_every_benchmark(index):
    assert index.sizes == {"math500": 500, "aime24": 30, "aime25": 30, "amc23": 40, "gsm8k": 1319}


def test_planted_problem_removed_near_miss_kept(index):
    original = _benchmark_problem("math500.jsonl", PLANTED_ID)
    rows = [
        {"id": "planted", "problem": "Solve this. " + original.upper().replace(" ", "  ") + " Think step by step."},
        {"id": "near-miss", "problem": "If $4x + 3(1 + x) = 19$, what is the value of $5x + 2$?"},  # new numbers
        {"id": "unrelated", "problem": "What is 12 + 30?"},
    ]
    kept, removed = decontaminate(rows, index)
    assert [r["id"] for r in kept] == ["near-miss", "unrelated"]
    assert [r["id"] for r in removed] == ["planted"]
    assert removed[0]["contaminated_by"] == [{"benchmark": "math500", "id": PLANTED_ID}]


def test_short_overlap_below_n_is_kept(index):
    words = _benchmark_problem("aime24.jsonl", "aime24-I-01").split()
    seven = " ".join(words[3:10])  # a 7-word span of an AIME problem inside new text
    row = {"id": "x", "problem": f"Completely different start {seven} and then a new ending here."}
    assert decontaminate([row], index)[0] == [row]
    removed = decontaminate([row], build_index(DATA, ["aime24"], n=7))[1]
    assert removed[0]["contaminated_by"] == [{"benchmark": "aime24", "id": "aime24-I-01"}]


def test_short_benchmark_problem_matches_whole():
    index = NgramIndex(8)
    index.add("What is 2 + 2?", ("toy", "t-1"))  # fewer than 8 words: no 8-grams at all
    assert ngrams("What is 2 + 2?", 8) == set()
    assert index.matches("what   is 2 + 2?") == [("toy", "t-1")]
    assert index.matches("What is 2 + 3?") == []


def test_cli_writes_kept_rows_and_report(tmp_path):
    original = _benchmark_problem("gsm8k_test.jsonl", "gsm8k-test-0000")
    rows = [{"id": "a", "question": original}, {"id": "b", "question": "How many legs do 3 spiders have?"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out" / "clean.jsonl"
    assert cli(["--input", str(tmp_path / "in.jsonl"), "--output", str(out), "--data_dir", str(DATA),
                "--column", "question", "--benchmarks", "gsm8k,math500"]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["b"]
    report = json.loads((tmp_path / "out" / "clean.jsonl.report.json").read_text())
    assert report["removed"] == 1 and report["removed_by_benchmark"] == {"gsm8k": 1}
    assert report["removed_rows"] == [{"id": "a", "matches": [{"benchmark": "gsm8k", "id": "gsm8k-test-0000"}]}]
    assert report["benchmarks"] == {"gsm8k": 1319, "math500": 500}
