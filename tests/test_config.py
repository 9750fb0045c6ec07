"""Recipe loading: every kind of mistake names the field and the allowed values, before any model loads."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from r1lite.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.config import ConfigError, load_recipe, parse_overrides
from r1lite.grpo import GRPORecipe
from r1lite.sft import SFTRecipe

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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
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
    from r1lite.cli import main
    from r1lite.stages import stage_of

    assert stage_of(path) == stage
    assert main(["check", "--config", str(REPO / path)]) == 0
    assert f"valid {stage} recipe" in capsys.readouterr().out
    assert main(["check", "--config", str(REPO / path), "--bogus_field", "1"]) == 2
