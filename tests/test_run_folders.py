"""Run folders never mix or lose results (issue 24): one run writes a folder at a time (a lock, taken over from a
killed run), every setting that changes results is in eval's resume key, a default eval folder the same command
finds again, and the files r1lite appends to are never the user's data."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import json_server

from r1lite.backends import Completion
from r1lite.cli import main
from r1lite.eval.evaluate import EvalRecipe
from r1lite.eval.evaluate import run as run_eval
from r1lite.recipe.config import load_recipe

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
PROBLEMS = [{"problem": f"{i}+1?", "answer": str(i + 1)} for i in range(4)]


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write(path: Path, raw: dict) -> str:
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def run_cli(capfd, *argv):
    rc = main(list(argv))
    out, err = capfd.readouterr()
    return rc, out, err


def one_line(rc, err, *expected):
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]


class Echo:
    def generate(self, prompts, params):
        return [[Completion(f"\\boxed{{{j}}}") for j in range(params.n)] for _ in prompts]


def eval_raw(tmp_path, **fields) -> dict:
    bench = jsonl(tmp_path / "mine.jsonl", PROBLEMS)
    return {"model": "tiny:qwen2", "benchmarks": ["mine"], "benchmark_args": {"mine": {"path": str(bench)}},
            "output_dir": str(tmp_path / "eval"), **fields}


# -- one run per folder -----------------------------------------------------------------------------------------------


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that has taken the folder's lock (as a running r1lite stage does) and sleeps."""
    code = ("import sys, time; from pathlib import Path; from r1lite.runs import lock_output_dir; "
            "lock_output_dir(Path(sys.argv[1]), create=True); print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_run_into_a_locked_folder_refuses_at_once_and_a_killed_runs_lock_is_taken_over(tmp_path, capfd):
    raw = eval_raw(tmp_path)
    holder = hold_lock(tmp_path / "eval")
    try:
        rc, _, err = run_cli(capfd, "eval", "--config", write(tmp_path / "e.yaml", raw))
        one_line(rc, err, "output_dir:", "is being written by another r1lite run", f"pid {holder.pid}")
        assert not (tmp_path / "eval" / "samples.jsonl").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    out = run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())  # the dead run's lock is free
    assert len((out / "samples.jsonl").read_text().splitlines()) == len(PROBLEMS)


def test_grpo_into_a_locked_folder_refuses_before_loading(tmp_path, capfd):
    raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": "synthetic:arithmetic"}]},
           "trainer": {"per_device_train_batch_size": 2, "num_generations": 2, "output_dir": str(tmp_path / "g")}}
    holder = hold_lock(tmp_path / "g")
    try:
        rc, _, err = run_cli(capfd, "grpo", "--config", write(tmp_path / "g.yaml", raw))
        one_line(rc, err, "is being written by another r1lite run")
    finally:
        holder.kill()
        holder.wait()


def test_two_concurrent_evals_into_one_folder_lose_and_duplicate_nothing(tmp_path, capfd):
    asked = []

    def slow_answer(body, request):  # a chat-completions endpoint answering each request after 0.5 s
        asked.append(body)
        time.sleep(0.5)
        return 200, {"choices": [{"message": {"content": "\\boxed{1}"}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 2}}

    with json_server(slow_answer) as url:
        raw = eval_raw(tmp_path, backend="openai", num_samples=2,
                       backend_args={"base_url": url, "api_key_env": None, "max_concurrency": 1})
        recipe = write(tmp_path / "e.yaml", raw)
        first = subprocess.Popen([sys.executable, "-m", "r1lite", "eval", "--config", recipe], env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not asked and first.poll() is None:  # it holds the folder once it has asked the server
            time.sleep(0.05)
        rc, _, err = run_cli(capfd, "eval", "--config", recipe)
        one_line(rc, err, "is being written by another r1lite run", f"pid {first.pid}")
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    rows = [json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()]
    keys = [(r["id"], r["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2 * len(PROBLEMS)


# -- what a resume must match -----------------------------------------------------------------------------------------


def test_eval_resumed_with_another_num_samples_is_refused(tmp_path, capfd):
    raw = eval_raw(tmp_path, num_samples=1)
    run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())
    capfd.readouterr()
    rc, _, err = run_cli(capfd, "eval", "--config", write(tmp_path / "e.yaml", raw), "--num_samples", "2")
    one_line(rc, err, "num_samples: 1 -> 2")


def test_default_eval_folder_is_found_again_by_the_same_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    raw = eval_raw(tmp_path)
    del raw["output_dir"]
    first = run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())
    assert capsys.readouterr().out.splitlines()[0] == f"eval: output folder {first}"  # said at start
    again = run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())
    other = run_eval(load_recipe(EvalRecipe, raw={**raw, "temperature": 0.0}), backend=Echo())
    assert again == first != other and first.parent == Path("runs") and "tiny-qwen2" in first.name
    assert len((first / "samples.jsonl").read_text().splitlines()) == len(PROBLEMS)  # resumed: nothing redone


def test_bare_eval_prints_usage_and_runs_nothing(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_cli(capfd, "eval")
    one_line(rc, err, "usage: r1lite eval --model MODEL")
    assert not (tmp_path / "runs").exists()


# -- files r1lite appends to ------------------------------------------------------------------------------------------


def grpo_with_filter(tmp_path, data: Path, **section) -> dict:
    return {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": str(data)}]},
            "difficulty_filter": {"num_samples": 2, **section},
            "trainer": {"per_device_train_batch_size": 2, "num_generations": 2, "output_dir": str(tmp_path / "g")}}


@pytest.mark.parametrize("case, expected", [
    ("training_data", "is data.sources[0], the training data"),
    ("folder", "is a folder"),
    ("not_object", "pass.jsonl:2 is [1, 2], not a pass-rate record"),
    ("missing_field", "pass.jsonl:1 is not a pass-rate record r1lite wrote (no valid 'pass_rate'"),
    ("user_data", "pass.jsonl:1 is not a pass-rate record r1lite wrote (no valid 'settings', 'key', 'pass_rate'"),
])
def test_pass_rates_file_must_be_r1lites_own(tmp_path, capfd, case, expected):
    data = jsonl(tmp_path / "train.jsonl", PROBLEMS)
    record = {"settings": "abc", "key": "k1", "id": 0, "passes": 1, "samples": 2, "pass_rate": 0.5}
    path = tmp_path / "pass.jsonl"
    if case == "training_data":
        path = data
    elif case == "folder":
        path.mkdir()
    elif case == "not_object":
        path.write_text(json.dumps(record) + "\n[1, 2]\n")
    elif case == "missing_field":
        path.write_text(json.dumps({k: v for k, v in record.items() if k != "pass_rate"}) + "\n")
    else:
        jsonl(path, PROBLEMS)
    before = data.read_text()
    rc, _, err = run_cli(capfd, "check", "--config", write(tmp_path / "g.yaml", grpo_with_filter(
        tmp_path, data, pass_rates=str(path))), "--stage", "grpo")
    one_line(rc, err, "difficulty_filter.pass_rates:", expected)
    assert data.read_text() == before


def test_a_pass_rates_file_cut_by_a_kill_is_still_r1lites(tmp_path, capfd):
    data = jsonl(tmp_path / "train.jsonl", PROBLEMS)
    record = {"settings": "abc", "key": "k1", "pass_rate": 0.5}
    (tmp_path / "pass.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(record)[:20])
    rc, _, err = run_cli(capfd, "check", "--config", write(tmp_path / "g.yaml", grpo_with_filter(
        tmp_path, data, pass_rates=str(tmp_path / "pass.jsonl"))), "--stage", "grpo")
    assert rc == 0, err


# -- the lock: taken before anything loads, cleared by a clean exit ---------------------------------------------------


def second_run_refused(folder: Path) -> bool:
    """Whether another process trying to take `folder` now (a second run started by mistake) is refused."""
    code = ("import sys; from pathlib import Path; from r1lite.runs import lock_output_dir; "
            "lock_output_dir(Path(sys.argv[1]), create=True)")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=ENV,
                          timeout=120, check=False)
    return done.returncode != 0 and "is being written by another r1lite run" in done.stderr


def test_eval_locks_a_fresh_folder_before_loading_its_model_and_a_failed_load_leaves_no_folder(tmp_path, capfd,
                                                                                               monkeypatch):
    from r1lite.eval import evaluate
    from r1lite.recipe import ConfigError

    seen = {}

    def loading(recipe):  # the model loading: minutes for a real one
        seen["refused"] = second_run_refused(tmp_path / "eval")
        raise ConfigError("backend_args: the model did not load")

    monkeypatch.setattr(evaluate, "make_eval_backend", loading)
    rc, _, err = run_cli(capfd, "eval", "--config", write(tmp_path / "e.yaml", eval_raw(tmp_path)))
    one_line(rc, err, "the model did not load")
    assert seen["refused"], "a second eval into the fresh folder was not refused while the first loaded its model"
    assert not (tmp_path / "eval").exists()


def test_generate_locks_a_fresh_folder_before_its_teacher_loads(tmp_path, capfd, monkeypatch):
    from r1lite.generate import generate
    from r1lite.recipe import ConfigError

    seen = {}

    def loading(recipe):
        seen["refused"] = second_run_refused(tmp_path / "gen")
        raise ConfigError("teacher: the model did not load")

    monkeypatch.setattr(generate, "make_teacher", loading)
    raw = {"teacher": {"backend": "hf", "model": "tiny:qwen2"},
           "data": {"sources": [{"path": str(jsonl(tmp_path / "p.jsonl", PROBLEMS))}]},
           "decontamination": {"enabled": False}, "output_dir": str(tmp_path / "gen")}
    rc, _, err = run_cli(capfd, "generate", "--config", write(tmp_path / "g.yaml", raw))
    assert rc == 2 and "configuration error: teacher: the model did not load" in err, err
    assert seen["refused"] and not (tmp_path / "gen").exists()


def test_a_clean_run_clears_its_lock_and_only_a_killed_runs_lock_is_reported(tmp_path, capfd, caplog, monkeypatch):
    import logging

    from r1lite.eval import evaluate

    monkeypatch.setattr(evaluate, "make_eval_backend", lambda recipe: Echo())
    recipe = write(tmp_path / "e.yaml", eval_raw(tmp_path))
    lock = tmp_path / "eval" / ".r1lite.lock"
    with caplog.at_level(logging.INFO, logger="r1lite"):
        assert run_cli(capfd, "eval", "--config", recipe)[0] == 0
        assert lock.read_text() == ""
        assert run_cli(capfd, "eval", "--config", recipe)[0] == 0
        assert "taking over the lock" not in caplog.text
        holder = hold_lock(tmp_path / "eval")
        holder.kill()
        holder.wait()
        assert run_cli(capfd, "eval", "--config", recipe)[0] == 0
    assert f"taking over the lock of pid {holder.pid}" in caplog.text
    assert caplog.text.count("taking over the lock") == 1


# -- resume equals a fresh run ----------------------------------------------------------------------------------------


def test_eval_resumed_with_a_grown_limit_equals_a_fresh_run(tmp_path):
    """The first chunk of the grown run holds more rows than the short run's did: it is generated whole again, so
    every response equals a fresh run's (a batch samples differently with other rows in it)."""
    def responses(folder):
        return {(r["id"], r["sample"]): r["response"] for r in map(json.loads, (folder / "samples.jsonl").open())}

    raw = eval_raw(tmp_path, num_samples=2, max_new_tokens=6, temperature=1.0, scoring={"num_workers": 1})
    run_eval(load_recipe(EvalRecipe, raw={**raw, "limit": 2}))
    grown = run_eval(load_recipe(EvalRecipe, raw={**raw, "limit": 4}))
    fresh = run_eval(load_recipe(EvalRecipe, raw={**raw, "limit": 4, "output_dir": str(tmp_path / "fresh")}))
    assert len(responses(grown)) == 8 and len((grown / "samples.jsonl").read_text().splitlines()) == 8
    assert responses(grown) == responses(fresh)
    results = [json.loads((f / "results.json").read_text())["scores"] for f in (grown, fresh)]
    assert results[0] == results[1]


def test_eval_resumed_with_another_scoring_timeout_is_refused(tmp_path, capfd):
    raw = eval_raw(tmp_path, scoring={"timeout_s": 5, "num_workers": 1})
    run_eval(load_recipe(EvalRecipe, raw=raw), backend=Echo())
    capfd.readouterr()
    recipe = write(tmp_path / "e.yaml", raw)
    rc, _, err = run_cli(capfd, "eval", "--config", recipe, "--scoring.timeout_s", "0.5")
    one_line(rc, err, "scoring differ", '"timeout_s": 5')
    rc, _, _ = run_cli(capfd, "eval", "--config", recipe, "--scoring.num_workers", "2")  # how, not what: accepted
    assert rc == 0
