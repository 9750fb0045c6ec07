"""What a hostile but realistic user feeds r1lite (issue 16): every case ends in one line naming the field or file,
exit code 2 (1 for a server that fails mid-run), no traceback, no model loaded, no output folder left behind; keys
never reach stderr or a settings file; a server that ignores sampling is noticed."""

import contextlib
import io
import json
import logging
import re
from pathlib import Path

import pytest
import yaml
from conftest import json_server

from r1lite.backends import Completion, SamplingParams
from r1lite.cli import main
from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks shipped in the package
from r1lite.eval.evaluate import EvalRecipe
from r1lite.eval.evaluate import run as run_eval
from r1lite.recipe.config import load_recipe, to_dict
from r1lite.train.grpo import GRPORecipe

KEY = "sk-live-0123456789abcdefABCDEF"


def run_cli(*argv: str) -> tuple[int, str]:
    """main(argv) in process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(list(argv))
    return rc, err.getvalue()


PROGRESS = re.compile(r"\d+%\||[\d?.]+ ?\w+/s\]")  # tqdm bars of a run that got that far (stderr in a terminal)


def one_line_error(rc: int, err: str, *expected: str, code: int = 2) -> None:
    lines = [line for line in re.split(r"[\r\n]+", err) if line.strip() and "WARNING" not in line]
    lines = [line for line in lines if not PROGRESS.search(line)]
    assert rc == code and len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]


def write_yaml(path: Path, raw: dict) -> str:
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def grpo_raw(source: dict | None = None, **trainer) -> dict:
    return {"model": {"model_name_or_path": "tiny:qwen2"},
            "data": {"sources": [source or {"path": "synthetic:arithmetic"}]},
            "rewards": [{"name": "accuracy"}],
            "trainer": {"per_device_train_batch_size": 8, "num_generations": 4, **trainer}}


def check(tmp_path: Path, raw: dict, stage: str = "grpo") -> tuple[int, str]:
    return run_cli("check", "--config", write_yaml(tmp_path / "recipe.yaml", raw), "--stage", stage)


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- 1. duplicate benchmark ids ---------------------------------------------------------------------------------------


def test_custom_benchmark_with_repeated_ids_is_refused_before_anything_runs(tmp_path):
    bench = jsonl(tmp_path / "mine.jsonl", [{"id": i % 2, "problem": f"{i} + 1?", "answer": str(i + 1)}
                                             for i in range(6)])
    out = tmp_path / "eval"
    raw = {"model": "tiny:qwen2", "benchmarks": ["mine"], "benchmark_args": {"mine": {"path": str(bench)}},
           "output_dir": str(out)}
    recipe = write_yaml(tmp_path / "eval.yaml", raw)
    one_line_error(*run_cli("check", "--config", recipe, "--stage", "eval"), "benchmark_args.mine.path",
                   "4 rows repeat an id", "'0' (rows 0 and 2)")
    one_line_error(*run_cli("eval", "--config", recipe), "repeat an id")
    assert not out.exists()


# -- 2-4 are in test_kill_resume.py -----------------------------------------------------------------------------------
# -- 5. recipes that would train on garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize("template, expected", [
    ("Solve this carefully.", "no {problem} slot"),
    ("Solve: {problm}", "{problm} is not a placeholder; did you mean {problem}?"),
])
def test_prompt_template_without_problem_slot(tmp_path, template, expected):
    raw = grpo_raw()
    raw["data"]["prompt_template"] = template
    one_line_error(*check(tmp_path, raw), "data.prompt_template", expected)
    raw["data"]["prompt_template"] = "Solve {problem}, answer in \\boxed{answer}."  # other braces are literal text
    assert check(tmp_path, raw)[0] == 0


def test_sft_source_without_solution_column(tmp_path):
    data = jsonl(tmp_path / "qa.jsonl", [{"problem": "1+1?", "answer": "2"}])
    raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": str(data)}]}}
    one_line_error(*check(tmp_path, raw, "sft"), "data.sources[0]", "no `solution` or `completion` column")
    jsonl(data, [{"problem": "1+1?", "answer": "2", "solution": "1+1=2"}, {"problem": "2+2?", "solution": None}])
    one_line_error(*check(tmp_path, raw, "sft"), f"{data}:2", "'solution' is null")


# -- 6. secrets -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_args, field", [
    ({"base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY}, "backend_args.api_key_env"),
    ({"base_url": "http://127.0.0.1:9/v1", "api_key": KEY}, "backend_args.api_key"),
])
def test_eval_refuses_a_key_in_the_recipe_without_echoing_it(tmp_path, backend_args, field):
    out = tmp_path / "eval"
    recipe = write_yaml(tmp_path / "eval.yaml", {"model": "m", "backend": "openai", "benchmarks": ["gsm8k"],
                                                 "data_dir": str(DATA), "backend_args": backend_args,
                                                 "output_dir": str(out)})
    rc, err = run_cli("eval", "--config", recipe)
    one_line_error(rc, err, field)
    assert KEY not in err and "sk-" not in err and not out.exists()


def test_a_key_pasted_anywhere_is_never_echoed(tmp_path):
    raw = {"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "data_dir": str(DATA), "backend_args": KEY}
    rc, err = run_cli("eval", "--config", write_yaml(tmp_path / "eval.yaml", raw))
    one_line_error(rc, err, "backend_args: expected a mapping")
    rc, err = run_cli("eval", KEY)
    one_line_error(rc, err, "unexpected argument")
    assert KEY not in err


def test_settings_files_never_hold_a_key_like_value(tmp_path):
    recipe = load_recipe(EvalRecipe, raw={"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "data_dir": str(DATA),
                                          "system_prompt": f"my key is {KEY}", "output_dir": str(tmp_path / "e"),
                                          "backend_args": {"hub_token": "hf_abcdefghijklmnopqrstuv"}})
    from r1lite.eval.evaluate import open_output_dir

    open_output_dir(recipe, tmp_path / "e")
    text = (tmp_path / "e" / "resolved_recipe.yaml").read_text()
    assert KEY not in text and "hf_abcdefghij" not in text and "<redacted>" in text
    from r1lite.eval.eval_report import build_results

    results = json.dumps(build_results(recipe, [], wall_s=0.0))  # results.json
    assert KEY not in results and "hf_abcdefghij" not in results
    raw = grpo_raw(hub_token="hf_abcdefghijklmnopqrstuv")
    assert "hf_abc" not in json.dumps(to_dict(load_recipe(GRPORecipe, raw=raw)))  # resolved_recipe.yaml


# -- 7. trainer values: TRL's annotations and the ranges r1lite relies on ---------------------------------------------


@pytest.mark.parametrize("field, value, expected", [
    ("learning_rate", "fast", "expected a number"),
    ("max_steps", "thirty", "expected an integer"),
    ("max_steps", 2.5, "expected an integer"),
    ("max_steps", 0, "a positive integer, or -1"),
    ("learning_rate", -1, "a number > 0"),
    ("temperature", -1, "a number > 0"),
    ("save_steps", 0, "steps between checkpoints"),
    ("max_completion_length", "1e9", "expected an integer"),
    ("max_completion_length", 10 ** 9, "at most 1048576"),
    ("bf16", "maybe", "expected true or false"),
    ("report_to", 3, "expected null or a string or a list"),
    ("save_strategy", "sometimes", "one of no, steps, epoch, best"),
])
def test_trainer_values_of_the_wrong_type_or_range(tmp_path, field, value, expected):
    one_line_error(*check(tmp_path, grpo_raw(**{field: value})), f"trainer.{field}", expected)


# -- 8. data files: every row, by file and line -----------------------------------------------------------------------

GOOD = {"problem": "1+1?", "answer": "2"}
BAD_FILES = {  # name: (file content as bytes, what the error says besides the file name)
    "bad_json_in_the_middle.jsonl": (b'{"problem": "a", "answer": "1"}\n{"problem": "b", "answer"\n' +
                                     json.dumps(GOOD).encode() + b"\n", ":2: not valid JSON"),
    "later_row_without_problem.jsonl": ((json.dumps(GOOD) + "\n") * 3 + '{"answer": "3"}\n', ":4: no 'problem' field"),
    "null_problem.jsonl": (json.dumps(GOOD) + '\n{"problem": null, "answer": "1"}\n', ":2: 'problem' is null"),
    "empty_list.json": (b"[]", "no rows (empty file)"),
    "numbers.json": (b"[1, 2, 3]", "item 0: expected a JSON object"),
    "scalars.jsonl": (b"1\n2\n", ":1: expected a JSON object"),
    "strings.jsonl": (b'"hello"\n"world"\n', ":1: expected a JSON object"),
    "empty.jsonl": (b"", "no rows (empty file)"),
    "binary.jsonl": (bytes(range(256)) * 4, "not UTF-8 text"),
    "utf16.jsonl": ((json.dumps(GOOD) + "\n").encode("utf-16"), "not UTF-8 text"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_data_files_name_the_file_and_line(tmp_path, name):
    content, expected = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    one_line_error(*check(tmp_path, grpo_raw({"path": str(path)})), "data.sources[0].path", str(path), expected)


@pytest.mark.parametrize("task_args, expected", [
    ({"difficulity": 2}, "task_args.difficulity: not an argument of synthetic:arithmetic; allowed values: n,"),
    ({"n": "abc"}, "task_args.n: expected an integer"),
    ({"n": 0}, "task_args.n: must be a positive number"),
    ({"seed": [1]}, "task_args.seed: expected an integer"),
    ({"difficulty": 9}, "task_args: arithmetic difficulty 9; allowed values: 1, 2, 3, 4, 5"),
])
def test_synthetic_task_args(tmp_path, task_args, expected):
    raw = grpo_raw({"path": "synthetic:arithmetic", "task_args": task_args})
    one_line_error(*check(tmp_path, raw), f"data.sources[0].{expected}")


def test_sft_chat_rows_must_end_with_the_assistant(tmp_path):
    chat = jsonl(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                         {"role": "assistant", "content": "<think>x</think> 1"}]},
                                           {"messages": [{"role": "user", "content": "hi"}]}])
    raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": str(chat)}]}}
    one_line_error(*check(tmp_path, raw, "sft"), f"{chat}:2", "ending with the assistant's")


def test_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("x")
    one_line_error(*check(tmp_path, grpo_raw(output_dir=str(tmp_path / "taken"))), "trainer.output_dir", "is a file")
    recipe = eval_yaml(tmp_path, **custom(jsonl(tmp_path / "mine.jsonl", [GOOD])), output_dir=str(tmp_path / "taken"))
    one_line_error(*run_cli("eval", "--config", recipe), "output_dir", "is a file")


def test_every_row_of_a_large_file_is_checked_quickly(tmp_path):
    import time

    path = tmp_path / "big.jsonl"
    path.write_text((json.dumps(GOOD) + "\n") * 50_000 + '{"problem": 7, "answer": "1"}\n')
    start = time.perf_counter()
    one_line_error(*check(tmp_path, grpo_raw({"path": str(path)})), f"{path}:50001", "'problem' is 7")
    assert time.perf_counter() - start < 2.0


# -- 9. models --------------------------------------------------------------------------------------------------------


def test_model_names(tmp_path):
    raw = grpo_raw()
    raw["model"]["model_name_or_path"] = "smollm2-13m"
    one_line_error(*check(tmp_path, raw), "model.model_name_or_path", "did you mean 'smollm2-135m'?")
    raw["model"]["model_name_or_path"] = str(tmp_path / "no" / "such" / "model")
    one_line_error(*check(tmp_path, raw), "model.model_name_or_path", "no such folder")
    garbage = tmp_path / "model.gguf"
    garbage.write_bytes(b"not a model at all")
    raw["model"]["model_name_or_path"] = str(garbage)
    one_line_error(*check(tmp_path, raw), "model.model_name_or_path", "not a GGUF file")
    (tmp_path / "empty_folder").mkdir()
    raw["model"]["model_name_or_path"] = str(tmp_path / "empty_folder")
    one_line_error(*check(tmp_path, raw), "model.model_name_or_path", "no config.json")


# -- 10. eval / generate failures and usage errors --------------------------------------------------------------------


def eval_yaml(tmp_path: Path, **fields) -> str:
    raw = {"model": "tiny:qwen2", "benchmarks": ["mine"], "output_dir": str(tmp_path / "eval"), **fields}
    return write_yaml(tmp_path / "eval.yaml", raw)


def custom(path) -> dict:
    return {"benchmark_args": {"mine": {"path": str(path)}}}


@pytest.mark.parametrize("case, expected", [
    ("missing", "does not exist"),
    ("malformed", ":2: not valid JSON"),
    ("empty", "no rows"),
    ("no_answer", "lacks 'problem' or 'answer'"),
    ("openai_without_base_url", "backend_args.base_url: required"),
    ("key_variable_unset", "R1LITE_TEST_UNSET_KEY"),
])
def test_eval_failures_are_one_line_and_leave_no_folder(tmp_path, monkeypatch, case, expected):
    monkeypatch.delenv("R1LITE_TEST_UNSET_KEY", raising=False)
    bench = tmp_path / "mine.jsonl"
    fields = custom(bench)
    if case == "malformed":
        bench.write_text(json.dumps(GOOD) + "\n{oops\n")
    elif case == "empty":
        bench.write_text("\n")
    elif case == "no_answer":
        jsonl(bench, [{"problem": "1+1?"}])
    elif case != "missing":
        jsonl(bench, [GOOD])
        fields.update(backend="openai", backend_args={} if case == "openai_without_base_url" else
                      {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "R1LITE_TEST_UNSET_KEY"})
    one_line_error(*run_cli("eval", "--config", eval_yaml(tmp_path, **fields)), expected)
    assert not (tmp_path / "eval").exists()


def rejecting_server(detail: str):
    """A chat-completions endpoint that answers every request with a 400 and a FastAPI-style JSON detail."""
    return json_server(lambda body, request: (400, {"detail": detail}))


def test_server_errors_are_one_line(tmp_path):
    bench = jsonl(tmp_path / "mine.jsonl", [GOOD])
    with rejecting_server("max_tokens is too large for this model") as url:
        args = {"base_url": url, "api_key_env": None, "max_retries": 0}
        recipe = eval_yaml(tmp_path, backend="openai", backend_args=args, **custom(bench))
        one_line_error(*run_cli("eval", "--config", recipe), "server error", "(400)",
                       "max_tokens is too large for this model", code=1)
    closed = {"base_url": url, "api_key_env": None, "max_retries": 1, "backoff_s": 0.01}
    recipe = eval_yaml(tmp_path, backend="openai", backend_args=closed, output_dir=str(tmp_path / "e2"),
                       **custom(bench))
    one_line_error(*run_cli("eval", "--config", recipe), "giving up after 2 attempts", "Connection refused", code=1)


def test_usage_errors(tmp_path):
    one_line_error(*run_cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")), "not a finished eval folder")
    one_line_error(*run_cli("check", "--config", write_yaml(tmp_path / "r.yaml", grpo_raw()), "--stage"),
                   "--stage: needs a value")
    one_line_error(*run_cli("check", "--config"), "--config: needs a value")
    one_line_error(*run_cli("grpo", "--config", str(tmp_path)), "is a folder")
    one_line_error(*run_cli("check"), "usage: r1lite check")


# -- 11. resuming an eval with other settings -------------------------------------------------------------------------


class Echo:
    """A backend that answers every prompt with fixed text; distinct samples unless `identical`."""

    def __init__(self, identical: bool = False):
        self.identical = identical

    def generate(self, prompts, params):
        return [[Completion("\\boxed{2}" if self.identical else f"\\boxed{{{j}}}") for j in range(params.n)]
                for _ in prompts]


def test_eval_resume_with_other_settings_names_them(tmp_path):
    bench = jsonl(tmp_path / "mine.jsonl", [GOOD])
    raw = {"model": "tiny:qwen2", "benchmarks": ["mine"], **custom(bench), "output_dir": str(tmp_path / "eval"),
           "dtype": "float32", "num_samples": 1}
    run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())
    one_line_error(*run_cli("eval", "--config", write_yaml(tmp_path / "e.yaml", raw), "--dtype", "bfloat16",
                            "--batch_size", "4"),
                   'dtype: "float32" -> "bfloat16"', 'batch_size: 32 -> 4')
    openai = {**raw, "backend": "openai", "output_dir": str(tmp_path / "api"),
              "backend_args": {"base_url": "http://a:1/v1", "api_key_env": None}}
    run_eval(load_recipe(EvalRecipe, raw=openai), backend=Echo())
    moved = {**openai, "backend_args": {"base_url": "http://b:2/v1", "api_key_env": None, "max_concurrency": 2}}
    one_line_error(*run_cli("eval", "--config", write_yaml(tmp_path / "e.yaml", moved)), "backend_args:",
                   "http://a:1/v1", "http://b:2/v1")
    # how requests are sent (concurrency, retries) is not a setting of the samples
    polite = {**openai, "backend_args": {**openai["backend_args"], "max_concurrency": 1}}
    run_eval(load_recipe(EvalRecipe, raw=polite), backend=Echo())


# -- 12. servers that ignore sampling ---------------------------------------------------------------------------------


def test_identical_samples_at_positive_temperature_are_reported(tmp_path, caplog):
    from r1lite.backends import SamplingWatch

    watch = SamplingWatch(SamplingParams(n=2, temperature=0.6))
    same = [[Completion("a"), Completion("a")]]
    assert watch.add(same) is None and watch.add(same) is None
    assert "do_sample" in watch.add(same) and watch.add(same) is None  # once
    assert SamplingWatch(SamplingParams(n=2, temperature=0.0)).add(same * 5) is None  # greedy: expected
    varied = SamplingWatch(SamplingParams(n=2, temperature=0.6))
    assert varied.add([[Completion("a"), Completion("b")]] + same * 5) is None
    bench = jsonl(tmp_path / "mine.jsonl", [{"problem": f"{i}+1?", "answer": str(i + 1)} for i in range(4)])
    raw = {"model": "tiny:qwen2", "benchmarks": ["mine"], **custom(bench), "output_dir": str(tmp_path / "eval"),
           "num_samples": 2, "temperature": 0.6}
    with caplog.at_level(logging.WARNING):
        run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo(identical=True))
    assert "ignores temperature" in caplog.text and "do_sample" in caplog.text


def test_model_folders_r1lite_writes_sample_by_default(tmp_path, monkeypatch):
    from r1lite.models import models

    monkeypatch.setenv("R1LITE_CACHE", str(tmp_path))
    folder = Path(models.materialize("tiny:qwen2"))
    config = json.loads((folder / "generation_config.json").read_text())
    assert config["do_sample"] is True and config["temperature"] == 0.6 and config["top_p"] == 0.95


def generate_yaml(tmp_path: Path, **teacher) -> str:
    data = jsonl(tmp_path / "problems.jsonl", [GOOD])
    raw = {"teacher": {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0,
                       **teacher},
           "data": {"sources": [{"path": str(data)}], "system_prompt": None}, "sampling": {"n": 2},
           "decontamination": {"enabled": False}, "output_dir": str(tmp_path / "gen")}
    return write_yaml(tmp_path / "gen.yaml", raw)


def test_generate_failures_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("R1LITE_TEST_UNSET_KEY", raising=False)
    one_line_error(*run_cli("generate", "--config", generate_yaml(tmp_path, api_key_env="R1LITE_TEST_UNSET_KEY")),
                   "teacher:", "R1LITE_TEST_UNSET_KEY")
    assert not (tmp_path / "gen").exists()
    one_line_error(*run_cli("generate", "--config", generate_yaml(tmp_path, api_key_env=KEY)),
                   "teacher.api_key_env")
    with rejecting_server("temperature must be a float") as url:
        rc, err = run_cli("generate", "--config", generate_yaml(tmp_path, api_key_env=None, base_url=url))
    one_line_error(rc, err, "server error", "(400)", "temperature must be a float", code=1)


def test_offline_hub_benchmark_and_missing_decontamination_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("datasets.config.HF_HUB_OFFLINE", True, raising=False)
    hub_only = {"aime24": {"hub_id": "nobody/no-such-benchmark", "local_file": None}}  # not the bundled copy
    recipe = write_yaml(tmp_path / "e.yaml", {"model": "tiny:qwen2", "benchmarks": ["aime24"],
                                              "benchmark_args": hub_only, "output_dir": str(tmp_path / "eval")})
    one_line_error(*run_cli("eval", "--config", recipe), "benchmarks: aime24")
    assert not (tmp_path / "eval").exists()
    (tmp_path / "bench").mkdir()
    raw = yaml.safe_load(Path(generate_yaml(tmp_path, api_key_env=None)).read_text())
    raw["decontamination"] = {"data_dir": str(tmp_path / "bench"), "benchmarks": ["gsm8k"]}
    one_line_error(*run_cli("generate", "--config", write_yaml(tmp_path / "g.yaml", raw)),
                   "decontamination.data_dir", "gsm8k_test.jsonl")
