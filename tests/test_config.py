"""Recipe loading: every kind of mistake names the field and the allowed values, before any model loads."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.recipe.config import ConfigError, load_recipe, parse_overrides
from r1lite.train.grpo import GRPORecipe
from r1lite.train.sft import SFTRecipe

REPO = Path(__file__).resolve().parents[1]


def grpo_raw(**trainer):
    return {
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": str(DATA / "gsm8k_train_256.jsonl.gz")}]},
        "rewards": [{"name": "accuracy"}],
        "trainer": {"per_device_train_batch_size": 8, "num_generations": 4, **trainer},
    }


def error_of(raw, overrides=None, cls=GRPORecipe) -> str:
    with pytest.raises(ConfigError) as e:
        load_recipe(cls, raw=raw, overrides=overrides)
    return str(e.value)


def test_valid_recipe_builds_with_trl_fields_passed_through():
    recipe = load_recipe(GRPORecipe, raw=grpo_raw(learning_rate=1e-5, loss_type="dr_grpo"))
    assert recipe.trainer == {"per_device_train_batch_size": 8, "num_generations": 4, "learning_rate": 1e-5,
                              "loss_type": "dr_grpo"}
    assert recipe.model.model_name_or_path == "tiny:qwen2"
    assert recipe.data.sources[0].path.endswith("gsm8k_train_256.jsonl.gz")


def test_command_line_overrides_win_and_are_typed():
    overrides = parse_overrides(["--learning_rate", "1e-6", "--lora_r=8", "--use_peft", "--data.seed", "3",
                                 "--report_to", "tensorboard"])
    recipe = load_recipe(GRPORecipe, raw=grpo_raw(learning_rate=1e-3), overrides=overrides)
    assert recipe.trainer["learning_rate"] == 1e-6 and isinstance(recipe.trainer["learning_rate"], float)
    assert recipe.model.lora_r == 8 and recipe.model.use_peft is True
    assert recipe.data.seed == 3
    assert recipe.trainer["report_to"] == "tensorboard"


@pytest.mark.parametrize("raw_patch, overrides, expected", [
    # a typo in a TRL field: named, with the nearest valid name
    ({"trainer": {"learning_rat": 1e-6}}, None, "did you mean 'learning_rate'"),
    # a typo in r1lite's own section
    ({"data": {"sources": [{"path": "x.jsonl"}], "sytem_prompt": "r1"}}, None, "did you mean 'system_prompt'"),
    # a typo in a reward entry
    ({"rewards": [{"name": "accuracy", "wieght": 1}]}, None, "did you mean 'weight'"),
    # unknown top-level section
    ({"trainr": {}}, None, "did you mean 'trainer'"),
    # a reward that is not in the registry: the allowed names are listed
    ({"rewards": [{"name": "acuracy"}]}, None, "allowed values: accuracy"),
    # generation batch not divisible by num_generations
    ({"trainer": {"per_device_train_batch_size": 6, "num_generations": 4}}, None, "divisible by num_generations"),
    # G < 2
    ({"trainer": {"per_device_train_batch_size": 8, "num_generations": 1}}, None, "at least 2 generations"),
    # non-positive lengths
    ({"trainer": {"max_completion_length": 0}}, None, "trainer.max_completion_length: must be a positive"),
    ({"data": {"sources": [{"path": str(DATA / "gsm8k_train_256.jsonl.gz")}], "max_prompt_tokens": -5}}, None,
     "data.max_prompt_tokens"),
    # an unknown loss name, validated at load time (TRL only fails at the first loss computation)
    ({"trainer": {"loss_type": "drgrpo"}}, None, "allowed values: grpo, bnpo, dr_grpo"),
    # wrong value types
    ({"trainer": {"num_generations": "four"}}, None, "num_generations"),
    ({"model": {"model_name_or_path": "tiny:qwen2", "lora_r": "big"}}, None, "model.lora_r: expected an integer"),
    # dataset columns that do not exist
    ({"data": {"sources": [{"path": str(DATA / "gsm8k_train_256.jsonl.gz"), "columns": {"question": "problem"}}]}}, None,
     "column 'question' is not in"),
    ({"data": {"sources": [{"path": str(DATA / "missing.jsonl")}]}}, None, "does not exist"),
    # LoRA target modules absent from the model
    ({"model": {"model_name_or_path": "tiny:qwen2", "use_peft": True, "lora_target_modules": ["qkv_proj"]}}, None,
     "allowed values: all-linear, down_proj"),
    # command-line mistakes
    ({}, {"learnig_rate": 1e-6}, "did you mean 'learning_rate'"),
    ({}, {"seed": 1}, "ambiguous: use one of --data.seed, --trainer.seed"),
    ({}, {"trainer.bogus": 1}, "--trainer.bogus: unknown field"),
])
def test_config_errors_name_the_field(raw_patch, overrides, expected):
    raw = grpo_raw()
    raw.update(raw_patch)
    if "trainer" in raw_patch:
        raw["trainer"] = {"per_device_train_batch_size": 8, "num_generations": 4, **raw_patch["trainer"]}
    assert expected in error_of(raw, overrides)


def test_answer_column_required_only_when_rewards_need_it(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"problem": "2+2"}\n')
    raw = grpo_raw()
    raw["data"] = {"sources": [{"path": str(rows)}]}
    assert "no answer column" in error_of(raw)
    raw["rewards"] = [{"name": "format"}]
    load_recipe(GRPORecipe, raw=raw)


def test_sft_recipe_checks_its_own_fields():
    raw = {"model": {"model_name_or_path": "tiny:llama"}, "data": {"sources": [{"path": "synthetic:arithmetic"}]},
           "trainer": {"max_length": 0}}
    assert "trainer.max_length: must be a positive" in error_of(raw, cls=SFTRecipe)
    raw["trainer"] = {"num_generations": 4}  # a GRPO field is not an SFT field
    assert "not a field of trl.SFTConfig" in error_of(raw, cls=SFTRecipe)


def test_validation_is_fast_and_loads_no_model(tmp_path):
    """The CLI validates a recipe in a fresh process in under 2 s (transformers is never imported)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(grpo_raw(learning_rate=1e-6)))
    code = ("import sys, time; t = time.time(); from r1lite.cli import main; rc = main(['check', '--config', "
            f"{str(recipe)!r}, '--stage', 'grpo']); print(round(time.time() - t, 2)); "
            "assert 'transformers' not in sys.modules and 'torch' not in sys.modules, 'heavy import'; sys.exit(rc)")
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) < 2.0
    assert time.time() - t < 10


def test_cli_reports_config_errors_with_exit_code_2(tmp_path, capsys):
    from r1lite.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(grpo_raw(learning_rat=1e-6)))
    assert main(["grpo", "--config", str(recipe)]) == 2
    assert "did you mean 'learning_rate'" in capsys.readouterr().err


@pytest.mark.parametrize("path, stage", [
    ("recipes/smollm2-135m/grpo/arithmetic_cpu.yaml", "grpo"), ("recipes/smollm2-135m/sft/cold_start_cpu.yaml", "sft"),
    ("recipes/smollm2-135m/eval/gsm8k_cpu.yaml", "eval"), ("src/r1lite/recipes/demo/eval.yaml", "eval"),
    ("recipes/smollm2-135m/generate/arithmetic_local.yaml", "generate"),
])
def test_check_command_validates_every_stage(path, stage, capsys):
    from r1lite.cli import main, stage_of

    assert stage_of(path) == stage
    assert main(["check", "--config", str(REPO / path)]) == 0
    assert f"valid {stage} recipe" in capsys.readouterr().out
    assert main(["check", "--config", str(REPO / path), "--bogus_field", "1"]) == 2


def test_optional_section_takes_overrides_and_is_created():
    """difficulty_filter (`DifficultyFilterArgs | None`, absent here) is a section for overrides: its dotted path
    and its own names reach it and create it; a name it shares stays with the section every run has while the
    recipe does not have it, and is ambiguous (asking for the section) once it does."""
    overrides = parse_overrides(["--difficulty_filter.num_samples", "4", "--pass_reward", "format",
                                 "--trainer.temperature", "0.5", "--data.num_samples", "16"])
    recipe = load_recipe(GRPORecipe, raw=grpo_raw(), overrides=overrides)
    assert recipe.difficulty_filter.num_samples == 4 and recipe.difficulty_filter.pass_reward == "format"
    assert recipe.trainer["temperature"] == 0.5 and recipe.difficulty_filter.temperature is None
    assert recipe.data.num_samples == 16
    assert "--temperature is ambiguous" in error_of(grpo_raw(), {"pass_reward": "format", "temperature": 0.5})
    plain = load_recipe(GRPORecipe, raw=grpo_raw(), overrides={"temperature": 0.5, "num_samples": 16})
    assert plain.trainer["temperature"] == 0.5 and plain.data.num_samples == 16 and plain.difficulty_filter is None
    assert load_recipe(GRPORecipe, raw=grpo_raw()).difficulty_filter is None  # still off without an override
    assert "did you mean 'difficulty_filter.num_samples'" in error_of(grpo_raw(), {"difficulty_filter.num_sample": 4})
    whole = load_recipe(GRPORecipe, raw=grpo_raw(),
                        overrides=parse_overrides(["--difficulty_filter", "{band: [0.2, 1]}"]))
    assert whole.difficulty_filter.band == [0.2, 1.0]
    off = load_recipe(GRPORecipe, raw={**grpo_raw(), "difficulty_filter": {}}, overrides={"difficulty_filter": None})
    assert off.difficulty_filter is None


def test_check_command_takes_an_optional_section_override(capsys):
    from r1lite.cli import main

    assert main(["check", "--config", str(REPO / "src/r1lite/recipes/demo/grpo.yaml"), "--model_name_or_path",
                 "tiny:qwen2", "--difficulty_filter.num_samples", "4"]) == 0
    assert "valid grpo recipe" in capsys.readouterr().out


def eval_raw(**fields):
    return {"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "data_dir": str(DATA), **fields}


def generate_raw(**fields):
    return {"teacher": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1"},
            "data": {"sources": [{"path": "synthetic:arithmetic"}]}, "decontamination": {"enabled": False}, **fields}


@pytest.mark.parametrize("scoring, expected", [
    ({"num_workers": -1}, "scoring.num_workers: must be a positive number, got -1"),
    ({"num_workers": 0}, "scoring.num_workers: must be a positive number, got 0"),
    ({"timeout_s": 0}, "scoring.timeout_s: must be a positive number, got 0"),
])
def test_every_stage_checks_its_scoring_section(scoring, expected):
    from r1lite.eval.evaluate import EvalRecipe
    from r1lite.generate.generate import GenerateRecipe

    for cls, raw in [(GRPORecipe, grpo_raw()), (EvalRecipe, eval_raw()), (GenerateRecipe, generate_raw())]:
        assert expected in error_of({**raw, "scoring": scoring}, cls=cls), cls.__name__


@pytest.mark.parametrize("rewards, trainer, expected", [
    ([{"name": "accuracy"}, {"name": "format", "args": {"answer": "xml"}}], {},
     "rewards[1].args: format reward answer='xml'; allowed values: boxed, tag, any"),
    ([{"name": "soft_overlong", "args": {"soft_punish_cache": 512}}], {"max_completion_length": 256},
     "rewards[0].args: soft_overlong needs max_len > soft_punish_cache (512); got 256"),
])
def test_reward_arg_values_are_checked_at_load(rewards, trainer, expected):
    raw = {**grpo_raw(**trainer), "rewards": rewards}
    assert expected in error_of(raw)


def test_checking_rewards_starts_no_scoring_worker(monkeypatch):
    from r1lite.grading import bounded_pool

    def no_scorer(*args, **kwargs):
        raise AssertionError("a scorer was made while checking a recipe")

    monkeypatch.setattr(bounded_pool, "Scorer", no_scorer)
    raw = {**grpo_raw(max_completion_length=256), "rewards": [
        {"name": n} for n in ("accuracy", "cosine", "length", "format", "soft_overlong")]}
    recipe = load_recipe(GRPORecipe, raw=raw)
    assert [r.name for r in recipe.rewards] == ["accuracy", "cosine", "length", "format", "soft_overlong"]


@pytest.mark.parametrize("stage, fields, what", [
    ("eval", {}, "a Hub id, a local folder"),
    ("eval", {"backend": "openai", "backend_args": {"base_url": "http://127.0.0.1:9/v1"}}, "server"),
    ("generate", {}, "server"),
    ("generate", {"teacher": {"backend": "hf"}}, "a Hub id, a local folder"),
])
def test_a_null_model_is_a_configuration_error(stage, fields, what):
    from r1lite.cli import recipe_class

    raw = eval_raw(**fields) if stage == "eval" else generate_raw(**fields)
    message = error_of({**raw, "model": {"model_name_or_path": None}}, cls=recipe_class(stage))
    assert message.startswith("model.model_name_or_path: required (") and what in message


def test_check_command_reports_a_null_model_in_one_line(capsys):
    from r1lite.cli import main

    assert main(["check", "--stage", "eval", "--config", str(REPO / "src/r1lite/recipes/demo/eval.yaml"),
                 "--model", "null"]) == 2
    err = capsys.readouterr().err
    assert "model.model_name_or_path: required" in err and "Traceback" not in err
