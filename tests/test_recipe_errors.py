"""What the recipe alone decides is found by `check`, as one configuration-error line with rc 2 (issue 24): mixed
formats within a file, ambiguous overrides, bundled typos, sampling ranges, a band that can keep nothing, the pass
reward that follows training; and the messages of help and of dropped prompts."""

import json
import logging
from pathlib import Path

import pytest
import yaml

from r1lite.cli import main
from r1lite.data import data
from r1lite.recipe.config import load_recipe
from r1lite.train.grpo import GRPORecipe


def write(path: Path, raw: dict) -> str:
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def check(tmp_path, capfd, raw, stage="grpo", *extra):
    rc = main(["check", "--config", write(tmp_path / "r.yaml", raw), "--stage", stage, *extra])
    out, err = capfd.readouterr()
    return rc, out, err


def one_line(rc, err, *expected):
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "configuration error" in lines[0], lines[0]
    for text in expected:
        assert text in lines[0], lines[0]


def grpo_raw(tmp_path, source="synthetic:arithmetic", **extra):
    return {"model": {"model_name_or_path": "tiny:qwen2"}, "data": {"sources": [{"path": source}]},
            "trainer": {"per_device_train_batch_size": 2, "num_generations": 2, "output_dir": str(tmp_path / "g")},
            **extra}


def jsonl(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


CHAT = [{"role": "user", "content": "1+1?"}]


@pytest.mark.parametrize("stage, rows, expected", [
    ("grpo", [{"prompt": CHAT, "answer": "2"}, {"prompt": "2+2?", "answer": "4"}],
     "mixed.jsonl:2: 'prompt' is text but"),
    ("sft", [{"prompt": "1+1=", "completion": " 2"}, {"prompt": CHAT, "completion": [{"role": "assistant",
                                                                                      "content": "2"}]}],
     "mixed.jsonl:2: 'prompt' is chat messages but"),
])
def test_mixed_formats_within_one_file_are_caught_at_check(tmp_path, capfd, stage, rows, expected):
    raw = grpo_raw(tmp_path, jsonl(tmp_path / "mixed.jsonl", rows))
    if stage == "sft":
        raw = {"model": raw["model"], "data": raw["data"]}
    one_line(*check(tmp_path, capfd, raw, stage)[::2], expected, "one file holds one format")


def test_a_name_in_two_present_sections_asks_for_the_section(tmp_path, capfd):
    raw = grpo_raw(tmp_path, difficulty_filter={"num_samples": 4})
    rc, _, err = check(tmp_path, capfd, raw, "grpo", "--num_samples", "8")
    one_line(rc, err, "--num_samples is ambiguous: use one of --data.num_samples, --difficulty_filter.num_samples")
    recipe = load_recipe(GRPORecipe, raw=grpo_raw(tmp_path), overrides={"num_samples": 8})
    assert recipe.data.num_samples == 8 and recipe.difficulty_filter is None  # one section has it: no doubt


def test_bundled_typo_suggests_the_name(tmp_path, capfd):
    rc, _, err = check(tmp_path, capfd, grpo_raw(tmp_path, "bundled:gsm8k_trian_256"))
    one_line(rc, err, "data.sources[0].path", "did you mean 'bundled:gsm8k_train_256'?")


@pytest.mark.parametrize("stage, raw_of, expected", [
    ("grpo", lambda t: grpo_raw(t, difficulty_filter={"top_p": 1.5}), "difficulty_filter.top_p: 1.5 must be in (0, 1]"),
    ("eval", lambda t: {"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "top_p": 2}, "top_p: 2.0 must be in (0, 1]"),
    ("eval", lambda t: {"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "top_p": 0}, "top_p: 0.0 must be in (0, 1]"),
    ("grpo", lambda t: grpo_raw(t, difficulty_filter={"num_samples": 1}),
     ("difficulty_filter.band: [0.0, 1.0] (exclusive) can never keep a prompt: with num_samples 1 a pass rate is "
      "one of 0, 1")),
    ("grpo", lambda t: grpo_raw(t, difficulty_filter={"num_samples": 4, "band": [0.3, 0.45]}),
     "can never keep a prompt"),
    ("grpo", lambda t: grpo_raw(t, rewards=[{"name": "format"}], difficulty_filter={}),
     "difficulty_filter.pass_reward: the recipe's rewards have no correctness reward"),
])
def test_sampling_ranges_and_impossible_bands_are_caught_at_check(tmp_path, capfd, stage, raw_of, expected):
    one_line(*check(tmp_path, capfd, raw_of(tmp_path), stage)[::2], expected)


def test_pass_reward_follows_the_reward_the_recipe_trains_on(tmp_path):
    countdown = grpo_raw(tmp_path, "synthetic:countdown", rewards=[{"name": "format"}, {"name": "countdown"}],
                         difficulty_filter={})
    assert load_recipe(GRPORecipe, raw=countdown).difficulty_filter.pass_reward == "countdown"
    math = grpo_raw(tmp_path, difficulty_filter={})
    assert load_recipe(GRPORecipe, raw=math).difficulty_filter.pass_reward == "accuracy"
    explicit = grpo_raw(tmp_path, difficulty_filter={"pass_reward": "format"})
    assert load_recipe(GRPORecipe, raw=explicit).difficulty_filter.pass_reward == "format"


def test_long_prompts_dropped_are_counted(tmp_path, caplog):
    from r1lite.models import load_tokenizer

    rows = [{"problem": "1+1?", "answer": "2"}, {"problem": "word " * 2000, "answer": "3"}]
    recipe = load_recipe(GRPORecipe, raw=grpo_raw(tmp_path, jsonl(tmp_path / "p.jsonl", rows)))
    recipe.data.max_prompt_tokens, recipe.data.system_prompt = 400, None
    with caplog.at_level(logging.WARNING, logger="r1lite"):
        prompts = data.to_prompts(data.load_problems(recipe.data), recipe.data, load_tokenizer("tiny:qwen2"))
    assert len(prompts) == 1
    assert "data.max_prompt_tokens: dropped 1 of 2 prompts longer than 400 tokens" in caplog.text


def test_eval_compare_help_is_compares(capfd):
    assert main(["eval", "compare", "--help"]) == 0
    out = capfd.readouterr().out
    assert out.startswith("usage: r1lite eval compare RUN_A RUN_B") and "thinking_budgets" not in out


@pytest.mark.parametrize("stage", ["grpo", "sft"])
def test_help_lines_are_never_cut(stage, capfd):
    """A long doc is wrapped under its field, whole, not cut with "..."."""
    from r1lite.recipe.trl_schema import trainer_fields

    assert main([stage, "--help"]) == 0
    text = " ".join(line.strip() for line in capfd.readouterr().out.splitlines())
    doc = " ".join(trainer_fields(stage)["auto_find_batch_size"].help.split())
    assert len(doc.split(". ")[0]) > 110 and doc.split(". ")[0] in text
