"""Users' own reward functions under the same bound as the built-in ones (issue 24): a deadline per batch in a worker
process the trainer abandons and replaces, output checked and coerced, every bad reward named on one line, and a run
that never ends silently whatever the function does."""

import json
import logging
import sys
import threading

import pytest
import yaml

from r1lite.cli import main
from r1lite.rewards import RewardError, RewardSpec, build_rewards, reward_names, user_rewards, wrap_rewards

BAD_REWARDS = '''
import os, sys, time

def ok(completions, **kwargs):
    return [1.0] * len(completions)

def hang(completions, **kwargs):
    time.sleep(1e6)

def slow(completions, **kwargs):
    time.sleep(3)
    return [1.0] * len(completions)

def raises(completions, **kwargs):
    raise ValueError("my bug")

def exits(completions, **kwargs):
    sys.exit(0)

def interrupts(completions, **kwargs):
    raise KeyboardInterrupt

def dies(completions, **kwargs):
    os._exit(3)

def too_few(completions, **kwargs):
    return [1.0] * (len(completions) - 1)

def numpy_scores(completions, **kwargs):
    import numpy as np
    return [np.float32(0.5), np.int64(1), None, True][:len(completions)] + [np.float64(0.25)] * (len(completions) - 4)

def numpy_array(completions, **kwargs):
    import numpy as np
    return np.full(len(completions), 0.75, dtype=np.float32)

def strings(completions, **kwargs):
    return ["1.0"] * len(completions)

def dicts(completions, **kwargs):
    return {"score": 1.0}

def nan(completions, **kwargs):
    return [float("nan"), float("inf")] + [0.0] * (len(completions) - 2)

def length_penalty(completions, max_words=3, **kwargs):
    return [-float(len(c.split()) > max_words) for c in completions]
'''

COMPLETIONS = ["a", "b c", "d e f", "g h i j"]


@pytest.fixture
def bad_module(tmp_path, monkeypatch):
    (tmp_path / "bad_rewards.py").write_text(BAD_REWARDS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("bad_rewards", None)


def wrapped(tmp_path, *names, invalid="none", timeout_s=1.0):
    specs = [RewardSpec(f"bad_rewards:{n}") for n in names]
    funcs, _ = build_rewards(specs, timeout_s=timeout_s)
    return wrap_rewards(funcs, tmp_path, reward_names(specs), invalid)


def call_bounded(reward, **columns):
    """The reward's scores; a guard (not a timing assertion) that fails the test instead of hanging it."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(scores=reward(completions=COMPLETIONS, **columns)),
                              daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), f"reward {reward.__name__} hung past its deadline"
    return box["scores"]


@pytest.mark.parametrize("name, expected, logged", [
    ("hang", [None] * 4, "no scores within 1 s"),
    ("slow", [None] * 4, "no scores within 1 s"),
    ("raises", [None] * 4, "ValueError: my bug at bad_rewards.py:"),
    ("exits", [None] * 4, "SystemExit: the function called sys.exit(0)"),
    ("interrupts", [None] * 4, "KeyboardInterrupt"),
    ("dies", [None] * 4, "worker process ended (exit code 3)"),
    ("too_few", [None] * 4, "returned 3 scores for 4 completions"),
    ("numpy_scores", [0.5, 1.0, None, 1.0], None),
    ("numpy_array", [0.75] * 4, None),
    ("strings", [None] * 4, "row 0: \"1.0\" is a str, not a number or None (and 3 more)"),
    ("dicts", [None] * 4, "returned {\"score\": 1.0} (a dict), not a list of 4 scores"),
    ("nan", [None, None, 0.0, 0.0], "row 0: nan is not finite (and 1 more)"),
])
def test_fuzz_every_bad_reward_is_bounded_and_named(tmp_path, bad_module, caplog, name, expected, logged):
    (reward,) = wrapped(tmp_path, name)
    with caplog.at_level(logging.WARNING, logger="r1lite"):
        assert call_bounded(reward, answer=["1"] * 4) == expected
        assert call_bounded(reward, answer=["1"] * 4) == expected  # a replaced worker scores the next batch
    messages = [r.getMessage() for r in caplog.records]
    if logged is None:
        assert not messages
    else:
        assert messages and all(f"reward {name} " in m and "\n" not in m for m in messages), messages
        assert logged in messages[0], messages[0]
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in JSONL"))
            for line in (tmp_path / "completions.jsonl").read_text().splitlines()]
    assert [r["rewards"][name] for r in rows[:4]] == expected


@pytest.mark.parametrize("name, message", [
    ("too_few", "reward too_few returned 3 scores for 4 completions"),
    ("strings", "reward strings row 0: \"1.0\" is a str"),
    ("nan", "reward nan row 0: nan is not finite"),
])
def test_invalid_scores_error_stops_with_one_line_naming_reward_and_row(tmp_path, bad_module, name, message):
    (reward,) = wrapped(tmp_path, name, invalid="error")
    with pytest.raises(RewardError, match=message.replace("(", r"\(")):
        reward(completions=COMPLETIONS)


def test_same_function_twice_logs_two_metrics(tmp_path, bad_module):
    specs = [RewardSpec("bad_rewards:length_penalty", args={"max_words": 1}),
             RewardSpec("bad_rewards:length_penalty", args={"max_words": 3}), RewardSpec("accuracy")]
    assert reward_names(specs) == ["length_penalty(max_words=1)", "length_penalty(max_words=3)", "accuracy"]
    twins = [RewardSpec("bad_rewards:ok"), RewardSpec("bad_rewards:ok")]
    assert reward_names(twins) == ["ok()#0", "ok()#1"]


def test_user_reward_pickles_without_its_worker(tmp_path, bad_module):
    import pickle

    (func,), _ = build_rewards([RewardSpec("bad_rewards:length_penalty", args={"max_words": 1})], timeout_s=2)
    assert func(completions=["a", "b c"]) == [0.0, -1.0]
    clone = pickle.loads(pickle.dumps(func))
    assert clone(completions=["a", "b c"]) == [0.0, -1.0]
    func.close()
    clone.close()


def test_check_refuses_what_cannot_be_bounded(tmp_path, bad_module, monkeypatch, capsys):
    (bad_module / "stuck_on_import.py").write_text("import time\ntime.sleep(1e6)\ndef f(completions, **kw):\n"
                                                   "    return [0.0] * len(completions)\n")
    (bad_module / "exits_on_import.py").write_text("import sys\nsys.exit(1)\n")
    monkeypatch.setattr(user_rewards, "STARTUP_S", 2.0)
    for name, reason in [("stuck_on_import:f", "did not import within 2 s in a worker process"),
                         ("exits_on_import:f", "importing it raised SystemExit")]:
        raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": "synthetic:arithmetic"}]},
               "rewards": [{"name": name}], "trainer": {"per_device_train_batch_size": 2, "num_generations": 2}}
        path = tmp_path / "r.yaml"
        path.write_text(yaml.safe_dump(raw))
        assert main(["check", "--config", str(path), "--stage", "grpo"]) == 2
        err = capsys.readouterr().err
        assert "configuration error: " in err and f"rewards[0].name: {name!r}" in err and reason in err, err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_package_reward_under_the_r1lite_script_gets_a_hint(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "rew.py").write_text("def f(completions, **kw):\n    return [0.0] * len(completions)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    with pytest.raises(ValueError, match=r"which the `r1lite` command does not search: run `PYTHONPATH=. r1lite"):
        user_rewards.check_user_reward("mypkg.rew:f", {})


def test_grpo_run_with_bad_rewards_finishes_and_names_them(tmp_path, bad_module, caplog):
    """hang, sys.exit and numpy rewards in one GRPO step: the run finishes with its model, two metric keys for one
    function with two args, strict JSON logs."""
    out = tmp_path / "out"
    raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": "synthetic:arithmetic"}]},
           "scoring": {"timeout_s": 1},
           "rewards": [{"name": "bad_rewards:hang"}, {"name": "bad_rewards:exits"},
                       {"name": "bad_rewards:numpy_array"}, {"name": "bad_rewards:nan"},
                       {"name": "bad_rewards:length_penalty", "args": {"max_words": 1}},
                       {"name": "bad_rewards:length_penalty", "args": {"max_words": 3}}],
           "trainer": {"output_dir": str(out), "per_device_train_batch_size": 4, "num_generations": 4,
                       "max_completion_length": 4, "max_steps": 1, "save_strategy": "no", "report_to": "none"}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw))
    with caplog.at_level(logging.WARNING, logger="r1lite"):
        assert main(["grpo", "--config", str(path)]) == 0
    assert (out / "model.safetensors").is_file()
    text = caplog.text
    assert "reward hang failed" in text and "reward exits failed" in text and "reward nan row 0" in text
    strict = lambda c: pytest.fail(f"bare {c} in JSONL")
    metrics = [json.loads(line, parse_constant=strict) for line in (out / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*metrics)
    assert {"rewards/length_penalty(max_words=1)/mean", "rewards/length_penalty(max_words=3)/mean"} <= keys
    rows = [json.loads(line, parse_constant=strict) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert rows and all(r["rewards"]["hang"] is None and r["rewards"]["numpy_array"] == 0.75 for r in rows)
