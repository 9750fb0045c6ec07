"""Users' own code and data, the TRL way: reward functions by import path, every TRL dataset format, and the
examples the README shows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from r1lite.cli import main
from r1lite.data import data
from r1lite.data.data import DataArgs, DataSource
from r1lite.data.dataset_formats import check_formats
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.rewards import make_reward
from r1lite.train import sft
from r1lite.train.grpo import GRPORecipe
from r1lite.train.sft import SFTRecipe

REPO = Path(__file__).resolve().parents[1]
USER_REWARDS = '''
def length_penalty(completions, max_words=3, **kwargs):
    return [-float(len(c.split()) > max_words) for c in completions]

def no_kwargs(completions):
    return [0.0] * len(completions)

THRESHOLD = 3
'''


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _grpo(tmp_path, source: str, rewards: list[dict] | None = None, **trainer) -> dict:
    return {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": source}]},
            "rewards": rewards or [{"name": "accuracy"}],
            "trainer": {"output_dir": str(tmp_path / "out"), "per_device_train_batch_size": 2, "num_generations": 2,
                        "max_completion_length": 8, **trainer}}


CHAT = [{"role": "user", "content": "2+2?"}]


# ---------------------------------------------------------------------------------------------------------------------
# rewards by import path


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(USER_REWARDS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("my_rewards", None)


@pytest.mark.parametrize("form", ["module", "file"])
def test_reward_by_import_path_gets_its_args_and_weight(tmp_path, user_module, form):
    name = "my_rewards:length_penalty" if form == "module" else f"{user_module / 'my_rewards.py'}:length_penalty"
    problems = _jsonl(tmp_path / "p.jsonl", [{"problem": "2+2?", "answer": "4"}])
    recipe = load_recipe(GRPORecipe, raw=_grpo(tmp_path, problems, [{"name": "accuracy"},
                                                                    {"name": name, "weight": 0.5,
                                                                     "args": {"max_words": 1}}]))
    spec = recipe.rewards[1]
    reward = make_reward(spec.name, spec.args)
    assert reward.__name__ == "length_penalty" and spec.weight == 0.5  # logged as rewards/length_penalty
    assert reward(completions=["four", "it is four"], answer=["4", "4"]) == [0.0, -1.0]


@pytest.mark.parametrize("name, args, message", [
    ("no_such_module:f", {}, "no_such_module cannot be imported"),
    ("my_rewards:missing", {}, "has no attribute 'missing'; its callables: length_penalty, no_kwargs"),
    ("my_rewards:THRESHOLD", {}, "THRESHOLD is a int, not a function"),
    ("my_rewards:no_kwargs", {}, "must accept \\*\\*kwargs"),
    ("my_rewards:length_penalty", {"max_chars": 3}, "args.max_chars is not a parameter.*allowed values: max_words"),
    ("nowhere/rewards.py:f", {}, "does not exist"),
])
def test_check_rejects_a_reward_that_will_not_work(tmp_path, user_module, name, args, message):
    problems = _jsonl(tmp_path / "p.jsonl", [{"problem": "2+2?", "answer": "4"}])
    with pytest.raises(ConfigError, match=f"rewards\\[0\\].name: .*{message}"):
        load_recipe(GRPORecipe, raw=_grpo(tmp_path, problems, [{"name": name, "args": args}]))


def test_example_recipe_checks_and_trains_one_step(tmp_path):
    """README: the custom reward recipe, with a tiny model and one step."""
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    check = subprocess.run([sys.executable, "-m", "r1lite", "check", "--config", "examples/grpo_custom_reward.yaml"],
                           cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    run = subprocess.run([sys.executable, "-m", "r1lite", "grpo", "--config", "examples/grpo_custom_reward.yaml",
                          "--model_name_or_path", "tiny:qwen2", "--max_steps", "1", "--max_completion_length", "8",
                          "--per_device_train_batch_size", "2", "--num_generations", "2",
                          "--output_dir", str(tmp_path / "out")], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    logged = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/length_penalty/mean" in row for row in logged)


def test_own_trainer_script_uses_r1lite_rewards(tmp_path):
    """README: r1lite's rewards in a user's own GRPOTrainer."""
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "examples/trl_with_r1lite_rewards.py", "--output_dir", str(tmp_path)],
                         cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rewards/accuracy/mean" in run.stdout and "rewards/format/mean" in run.stdout


# ---------------------------------------------------------------------------------------------------------------------
# dataset formats


def test_grpo_conversational_and_standard_prompts_are_used_as_given(tmp_path):
    chat = _jsonl(tmp_path / "chat.jsonl", [{"prompt": CHAT, "answer": "4"}] * 4)
    text = _jsonl(tmp_path / "text.jsonl", [{"prompt": "User: 2+2?\nAssistant: <think>", "answer": "4"}] * 4)
    for path, expected in [(chat, CHAT), (text, "User: 2+2?\nAssistant: <think>")]:
        recipe = load_recipe(GRPORecipe, raw=_grpo(tmp_path, path))
        assert data.to_prompts(data.load_problems(recipe.data), recipe.data)[0]["prompt"] == expected


def test_grpo_trains_on_a_conversational_prompt(tmp_path):
    """Used to pass `r1lite check` and then fail with KeyError: 'problem'."""
    from r1lite.train.grpo import run as run_grpo

    chat = _jsonl(tmp_path / "chat.jsonl", [{"prompt": CHAT, "answer": "4"}] * 4)
    out = run_grpo(load_recipe(GRPORecipe, raw=_grpo(tmp_path, chat, max_steps=1, report_to="none")))
    rows = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert rows and rows[0]["prompt"] == "2+2?"


@pytest.mark.parametrize("rows, stage, message", [
    ([{"prompt": {"role": "user", "content": "q"}, "answer": "1"}], "grpo", "column `prompt` holds a dict"),
    ([{"messages": [{"role": "user", "content": "q"}]}], "sft", "ends with a 'user' turn"),
    ([{"prompt": CHAT, "completion": "4"}], "sft", "must be both messages or both text"),
    ([{"problem": "q"}], "sft", "no `solution` or `completion` column"),
])
def test_check_rejects_rows_naming_the_column_and_the_formats(tmp_path, rows, stage, message):
    path = _jsonl(tmp_path / "d.jsonl", rows)
    raw = _grpo(tmp_path, path) if stage == "grpo" else {"data": {"sources": [{"path": path}]},
                                                          "model": {"model_name_or_path": "tiny:qwen2"}}
    with pytest.raises(ConfigError) as raised:
        load_recipe(GRPORecipe if stage == "grpo" else SFTRecipe, raw=raw)
    assert message in str(raised.value) and f"accepted {stage} formats" in str(raised.value)


def test_check_rejects_sources_that_cannot_mix(tmp_path):
    chat = _jsonl(tmp_path / "chat.jsonl", [{"prompt": CHAT, "answer": "4"}])
    with pytest.raises(ConfigError, match="conversational prompt, problem cannot be mixed"):
        check_formats(DataArgs(sources=[DataSource(path=chat), DataSource(path="synthetic:arithmetic")]), "grpo")


def test_sft_accepts_every_trl_format_and_wraps_only_when_asked(tmp_path):
    formats = {
        "messages": [{"messages": CHAT + [{"role": "assistant", "content": "4"}]}],
        "conv_pc": [{"prompt": CHAT, "completion": [{"role": "assistant", "content": "4"}]}],
        "std_pc": [{"prompt": "2+2=", "completion": "4"}],
        "text": [{"text": "2+2=4"}],
        "problem": [{"problem": "2+2?", "solution": "Two and two make 4.", "answer": "4"}],
    }
    loaded = {}
    for name, rows in formats.items():
        args = DataArgs(sources=[DataSource(path=_jsonl(tmp_path / f"{name}.jsonl", rows))], system_prompt=None)
        check_formats(args, "sft")
        loaded[name] = sft.load_conversations(args)[0]
    assert loaded["messages"]["messages"] == loaded["conv_pc"]["messages"] == CHAT + [{"role": "assistant",
                                                                                        "content": "4"}]
    assert (loaded["std_pc"]["prompt"], loaded["std_pc"]["completion"]) == ("2+2=", "4")
    assert loaded["text"]["text"] == "2+2=4"
    assert loaded["problem"]["messages"][-1]["content"] == "Two and two make 4."  # as written: no <think> added
    wrapped = sft.load_conversations(DataArgs(sources=[DataSource(path=str(tmp_path / "problem.jsonl"))],
                                               system_prompt=None, wrap_in_think=True))[0]
    assert wrapped["messages"][-1]["content"] == "<think>\nTwo and two make 4.\n</think>\nThe answer is \\boxed{4}."


@pytest.mark.parametrize("rows", [[{"prompt": "2+2=", "completion": " 4"}], [{"text": "2+2=4. 3+3=6."}]])
def test_sft_trains_on_standard_formats(tmp_path, rows):
    from r1lite.train.sft import run as run_sft

    path = _jsonl(tmp_path / "d.jsonl", rows * 4)
    raw = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": path}], "system_prompt": None},
           "trainer": {"output_dir": str(tmp_path / "out"), "max_steps": 1, "per_device_train_batch_size": 2,
                       "max_length": 64, "report_to": "none"}}
    out = run_sft(load_recipe(SFTRecipe, raw=raw))
    assert any(out.glob("*.safetensors"))


def test_r1lite_check_cli_names_the_bad_reward(tmp_path, capsys):
    recipe = tmp_path / "grpo.yaml"
    problems = _jsonl(tmp_path / "p.jsonl", [{"problem": "2+2?", "answer": "4"}])
    recipe.write_text(f"data: {{sources: [{{path: {problems}}}]}}\nrewards: [{{name: 'nope.mod:f'}}]\n")
    assert main(["check", "--config", str(recipe), "--stage", "grpo"]) == 2
    assert "rewards[0].name: 'nope.mod:f': nope.mod cannot be imported" in capsys.readouterr().err


def test_readme_shows_the_examples_the_tests_run():
    readme = (REPO / "README.md").read_text()
    for example in ("examples/my_rewards.py", "examples/trl_with_r1lite_rewards.py"):
        assert (REPO / example).read_text().strip() in readme, example
    recipe = (REPO / "examples/grpo_custom_reward.yaml").read_text()
    assert '- {name: "examples/my_rewards.py:length_penalty", weight: 0.5, args: {max_words: 60}}' in recipe
    assert '- {name: "examples/my_rewards.py:length_penalty", weight: 0.5, args: {max_words: 60}}' in readme
