"""The package is self-contained: benchmarks and training slices ship inside it, and nothing in the repository
reads a folder beside it."""

import subprocess
from pathlib import Path

import pytest

from r1lite.data import data, dataset_formats
from r1lite.data.benchmarks import BENCHMARKS, BUNDLED_DIR, bundled_file, load_benchmark
from r1lite.data.data import DataArgs, DataSource
from r1lite.recipe.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
SIZES = {"math500": 500, "aime24": 30, "aime25": 30, "amc23": 40, "gsm8k": 1319,  # the README's line counts
         "harmbench": 200, "harmbench_dan": 200}


@pytest.fixture
def no_hub(monkeypatch):
    import datasets

    def refuse(*args, **kwargs):
        raise AssertionError("the Hub was asked for a bundled benchmark")

    monkeypatch.setattr(datasets, "load_dataset", refuse)


def test_every_benchmark_loads_offline_without_data_dir(no_hub):
    assert set(SIZES) == set(BENCHMARKS)
    for name, size in SIZES.items():
        rows = load_benchmark(name)
        assert len(rows) == size and all(r["problem"] and r["answer"] for r in rows)
    math500 = load_benchmark("math500", limit=1)[0]
    assert math500["id"].startswith("test/") and math500["level"] in range(1, 6) and "\\boxed{}" in math500["prompt"]
    assert load_benchmark("gsm8k", limit=1)[0]["answer"].isdigit()


def test_data_dir_still_wins(tmp_path, no_hub):
    (tmp_path / "gsm8k_test.jsonl").write_text('{"id": "mine-0", "problem": "1+1?", "answer": "2"}\n')
    assert [r["id"] for r in load_benchmark("gsm8k", tmp_path)] == ["mine-0"]
    with pytest.raises(FileNotFoundError, match="math500.jsonl does not exist"):
        load_benchmark("math500", tmp_path)  # a data_dir without the file is an error, not a silent fallback


def test_readme_documents_every_bundled_file():
    readme = (BUNDLED_DIR / "README.md").read_text()
    for path in BUNDLED_DIR.glob("*.jsonl.gz"):
        assert f"`{path.name}`" in readme
    for heading in ("License", "## Fields", "`answer`", "`solution`"):
        assert heading in readme
    assert 'data/benchmark_data/*' in (REPO / "pyproject.toml").read_text()  # installed with the package


def test_bundled_training_slice_is_a_data_source():
    args = DataArgs(sources=[DataSource(path="bundled:gsm8k_train_256")], shuffle=False)
    dataset_formats.check_source(args.sources[0], "data.sources[0]")
    problems = data.load_problems(args)
    assert len(problems) == 256 and problems[0]["id"] == "gsm8k-train-0000"
    with pytest.raises(ConfigError, match="allowed values: .*gsm8k_train_256"):
        dataset_formats.check_source(DataSource(path="bundled:gsm8k_train_2k"), "data.sources[0]")
    assert bundled_file("math_train_256").is_file()


def test_nothing_reads_a_folder_beside_the_repository():
    needles = ("../" + "shared", '"shared" / ' + '"data"')  # spelled apart so this file does not match itself
    tracked = subprocess.run(["git", "ls-files", "src", "tests", "recipes", "benchmarks", "scripts", "Makefile"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    texts = {p: (REPO / p).read_text() for p in tracked if not p.endswith(".gz")}
    assert [p for p, text in texts.items() if any(n in text for n in needles)] == []
