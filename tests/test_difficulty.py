"""Difficulty filtering: exactly the prompts in the band are kept, a killed pass resumes without re-sampling, the
recipe section is validated, and the whole path runs on a tiny model with the real HF backend and grader."""

import json

import pytest

from r1lite.backends import Completion
from r1lite.data import data
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.recipe.trl_schema import trainer_value
from r1lite.train import difficulty
from r1lite.train.grpo import GRPORecipe

K = 4  # samples per prompt


def recipe(tmp_path, model=None, **section):
    return load_recipe(GRPORecipe, raw={
        "model": model or {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 40, "difficulty": 1}}],
                 "system_prompt": None},
        "difficulty_filter": {"num_samples": K, "temperature": 1.0, "max_new_tokens": 8, **section},
        "trainer": {"output_dir": str(tmp_path / "grpo"), "max_steps": 1, "per_device_train_batch_size": 8,
                    "num_generations": 4, "max_completion_length": 8, "save_strategy": "no"},
    })


def filter_prompts(ds, r, output_dir, backend, grade):
    """The filter as GRPO calls it, on the recipe's sections."""
    sampling = {k: trainer_value(r, k) for k in ("temperature", "max_completion_length")}
    return difficulty.filter_prompts(ds, r.difficulty_filter, r.model, r.rewards, r.scoring, sampling, output_dir,
                                     backend, grade)


def prompts(r):
    return data.to_prompts(data.load_problems(r.data), r.data)


class FakePolicy:
    """Solves prompt i in `solved[i]` of its K samples (the gold, else "wrong"); records what it was asked."""

    def __init__(self, solved, fail_after_calls=None):
        self.solved, self.fail_after_calls, self.asked, self.calls = solved, fail_after_calls, [], 0

    def generate(self, prompts, params):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        out = []
        for p in prompts:
            text = p[-1]["content"]
            self.asked.append(text)
            right, gold = self.solved[text]
            out.append([Completion(gold if j < right else "wrong") for j in range(params.n)])
        return out


def exact(texts, row):
    return [t == row["answer"] for t in texts]


def policy_for(ds):
    """Prompt i is solved i % (K + 1) times out of K: every pass rate 0, 1/4, ..., 1 occurs."""
    return {row["prompt"][-1]["content"]: (i % (K + 1), row["answer"]) for i, row in enumerate(ds)}


@pytest.mark.parametrize("band, inclusive, wanted", [([0.0, 1.0], False, {1, 2, 3}),
                                                     ([0.25, 0.5], True, {1, 2}),
                                                     ([0.0, 0.75], True, {0, 1, 2, 3})])
def test_filter_keeps_exactly_the_prompts_in_the_band(tmp_path, band, inclusive, wanted):
    r = recipe(tmp_path, band=band, inclusive=inclusive)
    ds = prompts(r)
    kept = filter_prompts(ds, r, tmp_path / "grpo", FakePolicy(policy_for(ds)), exact)
    assert sorted(kept["id"]) == sorted(row["id"] for i, row in enumerate(ds) if i % (K + 1) in wanted)
    summary = json.loads((tmp_path / "grpo" / difficulty.SUMMARY).read_text())
    assert summary["candidates"] == len(ds) == 40 and summary["kept"] == len(kept)
    assert [(h["pass_rate"], h["prompts"]) for h in summary["histogram"]] == [(j / K, 8) for j in range(K + 1)]
    assert {h["pass_rate"] for h in summary["histogram"] if h["kept"]} == {j / K for j in wanted}


def test_killed_pass_resumes_without_resampling(tmp_path):
    r = recipe(tmp_path)
    ds = prompts(r)
    solved = policy_for(ds)
    with pytest.raises(KeyboardInterrupt):  # killed after the first chunk of prompts
        filter_prompts(ds, r, tmp_path / "grpo", FakePolicy(solved, fail_after_calls=1), exact)
    path = tmp_path / "grpo" / difficulty.PASS_RATES
    finished = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert len(finished) == difficulty.CHUNK < len(ds)
    resumed = FakePolicy(solved)
    kept = filter_prompts(ds, r, tmp_path / "grpo", resumed, exact)
    # the second pass sampled only the prompts the first did not finish, each once
    assert sorted(resumed.asked) == sorted(row["prompt"][-1]["content"] for row in ds if row["id"] not in finished)
    uninterrupted = filter_prompts(ds, r, tmp_path / "fresh", FakePolicy(solved), exact)
    assert kept["id"] == uninterrupted["id"]
    # a later run with the same settings samples nothing; other settings sample again
    again = FakePolicy(solved)
    filter_prompts(ds, r, tmp_path / "grpo", again, exact)
    assert again.asked == []
    other = recipe(tmp_path, temperature=0.5)
    filter_prompts(ds, other, tmp_path / "grpo", again, exact)
    assert len(again.asked) == len(ds)


def test_recipe_section_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'num_samples'"):
        recipe(tmp_path, num_sample=4)
    with pytest.raises(ConfigError, match="allowed values: hf, vllm, openai"):
        recipe(tmp_path, backend="hff")
    with pytest.raises(ConfigError, match="0 <= low <= high <= 1"):
        recipe(tmp_path, band=[0.5, 0.2])
    with pytest.raises(ConfigError, match="did you mean 'accuracy'"):
        recipe(tmp_path, pass_reward="acuracy")
    assert load_recipe(GRPORecipe, raw={"data": recipe(tmp_path).data.__dict__ | {"sources": [
        {"path": "synthetic:arithmetic"}]}}).difficulty_filter is None  # off without the section


def test_grpo_with_filter_on_a_tiny_model(tmp_path):
    """The real path: HF backend on the starting model, the recipe's accuracy reward, then training on what is kept.
    A random tiny model never solves arithmetic, so the default band keeps nothing (and says why); an inclusive
    [0, 1] band keeps every prompt."""
    from r1lite.train.grpo import run as run_grpo

    with pytest.raises(ConfigError, match=r"no training prompt has a pass rate in \[0.0, 1.0\].*0.00: 40"):
        run_grpo(recipe(tmp_path))
    out = run_grpo(recipe(tmp_path, inclusive=True))
    records = [json.loads(line) for line in (out / difficulty.PASS_RATES).read_text().splitlines()]
    assert len(records) == 40 and all(r["samples"] == K and r["pass_rate"] == 0.0 for r in records)
    assert json.loads((out / difficulty.SUMMARY).read_text())["kept"] == 40
    assert (out / "model.safetensors").is_file()


def test_filter_backend_loads_the_whole_model_section(tmp_path, model_loads, fake_vllm):
    """The starting policy is sampled as training loads it: model.model_revision, trust_remote_code and
    attn_implementation reach transformers (hf) and vLLM's LLM."""
    section = {"model_name_or_path": "tiny:qwen2", "model_revision": "v1.0", "trust_remote_code": True,
               "attn_implementation": "eager"}  # a tag on a local folder: transformers ignores it

    def policy(backend):
        r = recipe(tmp_path, model=section, backend=backend)
        return difficulty.make_filter_backend(r.difficulty_filter, r.model)

    assert policy("hf").model.config._attn_implementation == "eager"
    assert (model_loads[-1]["revision"], model_loads[-1]["trust_remote_code"]) == ("v1.0", True)
    policy("vllm")
    assert (fake_vllm["llm"]["revision"], fake_vllm["llm"]["trust_remote_code"]) == ("v1.0", True)


def test_pass_rates_are_not_reused_for_another_grader_or_policy(tmp_path):
    """The settings key holds the pass reward's args and backend_args (which can name another policy): pass rates
    measured under one are sampled again under another, and reused under the same."""
    r = recipe(tmp_path)
    ds = prompts(r)
    solved = policy_for(ds)
    filter_prompts(ds, r, tmp_path / "grpo", FakePolicy(solved), exact)
    same = FakePolicy(solved)
    filter_prompts(ds, recipe(tmp_path), tmp_path / "grpo", same, exact)
    assert same.asked == []
    boxed_only = recipe(tmp_path)
    boxed_only.rewards[0].args = {"boxed_only": True}
    for other in (boxed_only, recipe(tmp_path, backend_args={"model": "another/policy"})):
        again = FakePolicy(solved)
        filter_prompts(ds, other, tmp_path / "grpo", again, exact)
        assert len(again.asked) == len(ds)


def test_chunk_seeds_are_unchanged_and_the_filter_needs_no_eval_stage():
    """chunk_seed lives with the sampling parameters; its values are those eval has always used (a resumed eval or
    filter pass must sample as the interrupted one did)."""
    import ast
    from pathlib import Path

    from r1lite.backends import chunk_seed

    assert chunk_seed(0, None, 0) == 1659360842 and chunk_seed(3, 512, 7) == 4158298227
    tree = ast.parse(Path(difficulty.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "r1lite.eval.evaluate" not in imported
