"""GRPO on a tiny model: the reward rises on an easily learnable reward, resume is exact, torchrun works."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.train.grpo import GRPORecipe
from r1lite.train.grpo import run as run_grpo

REPO = Path(__file__).resolve().parents[1]




def raw_recipe(tmp_path, reward="digit_share", **trainer):
    return {
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 64, "difficulty": 1}}],
                 "system_prompt": None},
        "rewards": [{"name": reward}],
        "trainer": {"output_dir": str(tmp_path / "grpo"), "max_steps": 2, "per_device_train_batch_size": 16,
                    "num_generations": 8, "max_completion_length": 16, "learning_rate": 2e-3,
                    "temperature": 1.0, "loss_type": "dr_grpo", "save_strategy": "no", "seed": 0, **trainer},
    }


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_reward_rises_on_learnable_reward(tmp_path, digit_reward):
    out = run_grpo(load_recipe(GRPORecipe, raw=raw_recipe(tmp_path, max_steps=30)))
    rows = [r for r in metrics(out) if "rewards/digit_share/mean" in r]
    first = sum(r["rewards/digit_share/mean"] for r in rows[:5]) / 5
    last = sum(r["rewards/digit_share/mean"] for r in rows[-5:]) / 5
    assert last > first + 0.15, (first, last)
    # every completion was recorded with its per-function score
    recorded = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert len(recorded) == 30 * 16 and set(recorded[0]["rewards"]) == {"digit_share"}
    assert {"completions/mean_length", "completions/clipped_ratio"} <= set(rows[0])


def test_accuracy_reward_trains_end_to_end(tmp_path):
    out = run_grpo(load_recipe(GRPORecipe, raw=raw_recipe(tmp_path, reward="accuracy")))
    row = next(r for r in metrics(out) if "rewards/accuracy/mean" in r)
    assert 0.0 <= row["rewards/accuracy/mean"] <= 1.0
    assert (out / "model.safetensors").is_file()


def test_resume_continues_at_the_right_step_with_the_same_state(tmp_path, digit_reward):
    full = run_grpo(load_recipe(GRPORecipe, raw=raw_recipe(tmp_path / "a", max_steps=4, save_strategy="steps",
                                                           save_steps=2)))
    # a "killed" run: only checkpoint-2 survives
    killed = tmp_path / "b" / "grpo"
    killed.mkdir(parents=True)
    os.rename(full / "checkpoint-2", killed / "checkpoint-2")
    with pytest.raises(ConfigError, match="already holds checkpoints"):  # never resumes silently
        run_grpo(load_recipe(GRPORecipe, raw=raw_recipe(tmp_path / "b", max_steps=4)))
    resumed = run_grpo(load_recipe(GRPORecipe, raw=raw_recipe(tmp_path / "b", max_steps=4, save_strategy="steps",
                                                              save_steps=2, resume_from_checkpoint="latest")))
    assert [r["step"] for r in metrics(resumed) if "loss" in r] == [3, 4]
    optimizer = torch.load(resumed / "checkpoint-4" / "optimizer.pt", weights_only=False)
    assert all(s["step"] == 4 for s in optimizer["state"].values())  # Adam continued, not restarted
    from safetensors.torch import load_file

    a, b = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # identical to the uninterrupted run


LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"],
    "accelerate": [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                   str(REPO / "configs" / "accelerate" / "cpu_ddp.yaml"), "--main_process_port", "29518"],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_processes(tmp_path, launcher):
    recipe = tmp_path / "recipe.yaml"
    raw = raw_recipe(tmp_path, reward="accuracy", per_device_train_batch_size=8, max_steps=2)
    recipe.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [*LAUNCHERS[launcher], "-m", "r1lite", "grpo", "--config", str(recipe)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "grpo"
    assert (out / "model.safetensors").is_file()
    assert (out / "completions.rank0.jsonl").is_file() and (out / "completions.rank1.jsonl").is_file()
    assert [r["step"] for r in metrics(out) if "loss" in r] == [1, 2]
