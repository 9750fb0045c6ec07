"""Every recipe validates and trains one tiny CPU step; accelerate configs load; Slurm launchers render right."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from r1lite.cli import main
from r1lite.recipe.config import ConfigError
from r1lite.tools import recipes_check

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").rglob("*.yaml")) + sorted(recipes_check.DEMO_RECIPES.glob("*.yaml"))
ACCELERATE_CONFIGS = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # recipes name local data relative to the repository root


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(REPO)))
def test_recipe_passes_check(path):
    result = recipes_check.check_recipe(path.relative_to(REPO))
    assert result.ok, result.message
    if result.stage in recipes_check.TRAINING:
        assert "1 step on tiny:" in result.message


def test_smoke_swaps_gpu_hub_and_length_settings_and_keeps_the_method():
    path = "recipes/qwen2.5-7b/grpo/dapo_math17k.yaml"
    raw = yaml.safe_load(Path(path).read_text())
    smoke = recipes_check.smoke_raw(raw, "grpo", path, Path("/data"), Path("/tmp/out"))
    t = smoke["trainer"]
    assert smoke["model"]["model_name_or_path"] == "tiny:qwen2" and smoke["model"]["dtype"] == "float32"
    assert t["use_vllm"] is False and t["bf16"] is False and t["max_steps"] == 1 and t["use_cpu"] is True
    assert "steps_per_generation" not in t and t["gradient_checkpointing"] is False
    # the method is what is being checked: it stays
    assert (t["loss_type"], t["epsilon_high"], t["mask_truncated_completions"]) == ("dapo", 0.28, True)
    assert smoke["data"]["sources"] == [{"path": "/data/math_train_256.jsonl", "num_samples": recipes_check.ROWS}]
    assert smoke["rewards"][1] == {"name": "soft_overlong", "weight": 1.0, "args": {}}  # follows the tiny length
    gsm8k = recipes_check.smoke_raw(yaml.safe_load(Path("recipes/qwen2.5-0.5b-instruct/grpo/gsm8k_lora_24gb.yaml")
                                                   .read_text()), "grpo", "x", Path("/data"), Path("/tmp/out"))
    assert gsm8k["data"]["sources"][0]["path"] == "/data/gsm8k_train_256.jsonl"
    assert gsm8k["model"]["use_peft"] is True  # LoRA is part of the recipe's method


def test_stage_of():
    assert recipes_check.stage_of("recipes/m/grpo/x.yaml") == "grpo"
    assert recipes_check.stage_of("recipes/m/demo/sft.yaml") == "sft"
    assert recipes_check.stage_of("recipes/m/eval/x.yaml") == "eval"
    with pytest.raises(ConfigError, match="cannot tell the stage"):
        recipes_check.stage_of("recipes/m/other/x.yaml")


def test_command_reports_each_recipe_and_fails_on_a_bad_one(tmp_path, capsys):
    assert main(["recipes", "check", "recipes/smollm2-135m/sft"]) == 0
    assert "ok    sft" in capsys.readouterr().out
    bad = tmp_path / "m" / "grpo" / "typo.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text(yaml.safe_dump({"model": {"model_name_or_path": "tiny:qwen2"},
                                   "data": {"sources": [{"path": "synthetic:arithmetic"}]},
                                   "trainer": {"learning_rat": 1e-6}}))
    assert main(["recipes", "check", str(bad), "--validate_only"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "learning_rate" in out and "0/1 recipes passed" in out


# ---------------------------------------------------------------------------------------------------------------------
# accelerate configs


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_loads_with_accelerates_parser(path):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    config = load_config_from_file(str(path))
    assert isinstance(config, ClusterConfig)
    assert path.read_text().startswith("#")  # a header saying when to use it


def test_accelerate_configs_say_what_their_names_say():
    from accelerate.commands.config.config_args import load_config_from_file

    def load(name):
        return load_config_from_file(str(REPO / "configs/accelerate" / f"{name}.yaml"))

    assert load("single_gpu").distributed_type == "NO" and load("single_gpu").num_processes == 1
    assert load("ddp").distributed_type == "MULTI_GPU"
    for name, stage in [("zero2", 2), ("zero3", 3), ("multi_node_zero3", 3)]:
        assert load(name).distributed_type == "DEEPSPEED" and load(name).deepspeed_config["zero_stage"] == stage
    for name in ("fsdp", "multi_node_fsdp"):
        assert load(name).distributed_type == "FSDP" and load(name).fsdp_config["fsdp_version"] == 2
    for name in ("multi_node_zero3", "multi_node_fsdp"):
        assert load(name).num_machines > 1
    for name in ("ddp", "zero2", "zero3", "fsdp"):
        assert load(name).num_machines == 1 and load(name).num_processes == 8


# ---------------------------------------------------------------------------------------------------------------------
# Slurm launchers


@pytest.mark.parametrize("script", ["train", "eval", "generate"])
def test_slurm_scripts_parse(script):
    subprocess.run(["bash", "-n", f"scripts/slurm/{script}.slurm"], check=True)
    subprocess.run(["bash", "-n", "scripts/slurm/common.sh"], check=True)


def dry_run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.run(["bash", f"scripts/slurm/{script}.slurm", *args], capture_output=True, text=True, check=False,
                          env={**clean, "DRY_RUN": "1", "GPUS_PER_NODE": "8", **env}, timeout=120)


def test_train_dry_run_renders_the_multi_node_launch_line():
    recipe = "recipes/qwen2.5-7b-instruct/sft/distill_openr1_math.yaml"
    proc = dry_run("train", "--learning_rate", "1e-5", RECIPE=recipe, HOSTS="n1 n2",
                   ACCELERATE_CONFIG="configs/accelerate/multi_node_zero3.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [(
        "accelerate launch --config_file configs/accelerate/multi_node_zero3.yaml --num_machines 2 "
        "--num_processes 16 --machine_rank $SLURM_PROCID --main_process_ip n1 --main_process_port 29500 "
        f"-m r1lite sft --config {recipe} --learning_rate 1e-5")]


def test_train_dry_run_grpo_server_mode_serves_on_the_first_node():
    recipe = "recipes/deepseek-r1-distill-qwen-1.5b/grpo/deepscaler_stage2_16k.yaml"
    proc = dry_run("train", RECIPE=recipe, HOSTS="n1 n2 n3 n4 n5",
                   ACCELERATE_CONFIG="configs/accelerate/multi_node_zero3.yaml")
    assert proc.returncode == 0, proc.stderr
    serve, launch = proc.stdout.splitlines()
    assert serve == ("trl vllm-serve --model runs/deepseek-r1-distill-qwen-1.5b-deepscaler-8k --tensor_parallel_size 1 "
                     "--data_parallel_size 8 --port 8000")
    args = shlex.split(launch.replace("$SLURM_PROCID", "RANK"))
    assert args[:2] == ["accelerate", "launch"]
    def flags(name):
        return args[args.index(name) + 1]

    assert flags("--num_machines") == "4" and flags("--num_processes") == "32"
    assert flags("--main_process_ip") == "n2" and flags("--vllm_server_host") == "n1"
    assert flags("--machine_rank") == "RANK"
    assert args[args.index("-m") + 1: args.index("-m") + 3] == ["r1lite", "grpo"]
    # server mode on one node is refused, with the reason
    proc = dry_run("train", RECIPE=recipe, HOSTS="n1")
    assert proc.returncode == 2 and "at least 2 nodes" in proc.stderr


def test_train_dry_run_colocate_grpo_uses_every_node_and_default_config():
    recipe = "recipes/qwen2.5-math-7b/grpo/r1_zero_math.yaml"
    proc = dry_run("train", RECIPE=recipe, HOSTS="a b")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("accelerate launch --config_file configs/accelerate/multi_node_zero3.yaml "
                                          "--num_machines 2 --num_processes 16")
    assert "vllm-serve" not in proc.stdout


def test_eval_and_generate_dry_runs():
    proc = dry_run("eval", "--limit", "5", RECIPE="src/r1lite/recipes/demo/eval.yaml")
    assert proc.stdout.strip() == ("accelerate launch --config_file configs/accelerate/ddp.yaml --num_machines 1 "
                                   "--num_processes 8 -m r1lite eval --config src/r1lite/recipes/demo/eval.yaml "
                                   "--limit 5")
    vllm_recipe = REPO / "recipes/deepseek-r1-distill-qwen-1.5b/eval/r1_protocol.yaml"
    if vllm_recipe.is_file() and yaml.safe_load(vllm_recipe.read_text()).get("backend") == "vllm":
        proc = dry_run("eval", RECIPE=str(vllm_recipe.relative_to(REPO)))
        assert proc.stdout.strip().endswith(f"-m r1lite eval --config {vllm_recipe.relative_to(REPO)}")
        assert "accelerate" not in proc.stdout
    recipe = "recipes/smollm2-135m/generate/arithmetic_local.yaml"
    proc = dry_run("generate", RECIPE=recipe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"python -m r1lite generate --config {recipe}"


def test_missing_recipe_is_refused():
    proc = dry_run("train", RECIPE="recipes/nope.yaml")
    assert proc.returncode == 2 and "RECIPE" in proc.stderr


def test_bad_options_are_one_line_configuration_errors():
    from r1lite.tools.recipes_check import cli as recipes_cli

    with pytest.raises(ConfigError, match="unknown option '--bogus'; usage: r1lite recipes check"):
        recipes_cli(["check", "--bogus"])
    with pytest.raises(ConfigError, match="--data_dir: expected one argument"):
        recipes_cli(["check", "--data_dir"])
