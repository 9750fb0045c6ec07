"""kill -9 at the two moments that used to corrupt a run: between a log write and the next checkpoint, and in the
middle of a checkpoint save. After `--resume_from_checkpoint latest` the logs hold one row per step, and `latest`
skips (and says so) a checkpoint the kill left half-written. A fresh or overwriting run starts fresh logs."""

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from r1lite.recipe.config import load_recipe
from r1lite.train.grpo import GRPORecipe
from r1lite.train.grpo import run as run_grpo
from r1lite.train.sft import SFTRecipe
from r1lite.train.sft import run as run_sft

REPO = Path(__file__).resolve().parents[1]

# Runs a stage in a child process and SIGKILLs it at a chosen point:
#   after_log  : in the loss computation of the step after step K was logged (GRPO: its completions are recorded)
#   during_save: in checkpoint-K's save, after the weights and optimizer, before trainer_state.json
CHILD = """
import json, os, signal, sys
import transformers
from r1lite import rewards
from r1lite.recipe.config import load_recipe
from r1lite.train.grpo import GRPORecipe
from r1lite.train.sft import SFTRecipe

stage, mode, kill_step, raw = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])

class DigitShare:
    __name__ = "digit_share"
    def __call__(self, completions, **kwargs):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]

rewards.REWARDS["digit_share"] = lambda: DigitShare()

def kill_at(cls, method):
    original = getattr(cls, method)
    def wrapper(self, *args, **kwargs):
        if self.state.global_step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)
    setattr(cls, method, wrapper)

if stage == "grpo":
    from trl import GRPOTrainer as Trainer
    from r1lite.train.grpo import run
    recipe = load_recipe(GRPORecipe, raw=raw)
else:
    from trl import SFTTrainer as Trainer
    from r1lite.train.sft import run
    recipe = load_recipe(SFTRecipe, raw=raw)
if mode == "after_log":
    kill_at(Trainer, "compute_loss")
else:
    kill_at(transformers.Trainer, "_save_rng_state")
run(recipe)
"""



def grpo_raw(out: Path, **trainer) -> dict:
    return {
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 32, "difficulty": 1}}],
                 "system_prompt": None},
        "rewards": [{"name": "digit_share"}],
        "trainer": {"output_dir": str(out), "max_steps": 4, "per_device_train_batch_size": 8, "num_generations": 4,
                    "max_completion_length": 8, "learning_rate": 1e-3, "loss_type": "dr_grpo",
                    "save_strategy": "steps", "save_steps": 2, "seed": 0, **trainer},
    }


def sft_raw(out: Path, **trainer) -> dict:
    return {
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 32, "ops": ["sub"]}}],
                 "system_prompt": None},
        "trainer": {"output_dir": str(out), "max_steps": 4, "per_device_train_batch_size": 8, "max_length": 96,
                    "learning_rate": 1e-3, "save_strategy": "steps", "save_steps": 2, "seed": 0, **trainer},
    }


def run_killed(stage: str, mode: str, kill_step: int, raw: dict) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, stage, mode, str(kill_step), json.dumps(raw)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def loss_steps(out: Path) -> list[int]:
    return [r["step"] for r in rows(out / "metrics.jsonl") if "loss" in r]


def test_grpo_kill_between_log_and_save_resumes_with_one_row_per_step(tmp_path, digit_reward):
    out = tmp_path / "grpo"
    run_killed("grpo", "after_log", 3, grpo_raw(out))
    assert loss_steps(out) == [1, 2, 3]  # step 3 was logged, its checkpoint never written
    assert {r["step"] for r in rows(out / "completions.jsonl")} == {0, 1, 2, 3}
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    run_grpo(load_recipe(GRPORecipe, raw=grpo_raw(out, resume_from_checkpoint="latest")))
    assert loss_steps(out) == [1, 2, 3, 4]
    recorded = rows(out / "completions.jsonl")
    assert [sum(r["step"] == s for r in recorded) for s in range(4)] == [8, 8, 8, 8]  # one generation batch per step


def test_grpo_kill_during_save_skips_the_incomplete_checkpoint(tmp_path, digit_reward, caplog):
    out = tmp_path / "grpo"
    run_killed("grpo", "during_save", 4, grpo_raw(out))
    assert (out / "checkpoint-4" / "model.safetensors").is_file()
    assert not (out / "checkpoint-4" / "trainer_state.json").exists()
    with caplog.at_level(logging.INFO, logger="r1lite"):
        run_grpo(load_recipe(GRPORecipe, raw=grpo_raw(out, resume_from_checkpoint="latest")))
    assert "skipping incomplete checkpoint" in caplog.text and "checkpoint-4" in caplog.text
    assert f"resuming from {out / 'checkpoint-2'}" in caplog.text
    assert loss_steps(out) == [1, 2, 3, 4]
    assert json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


def test_sft_kill_between_log_and_save_resumes_with_one_row_per_step(tmp_path):
    out = tmp_path / "sft"
    run_killed("sft", "after_log", 3, sft_raw(out))
    assert loss_steps(out) == [1, 2, 3]
    run_sft(load_recipe(SFTRecipe, raw=sft_raw(out, resume_from_checkpoint="latest")))
    assert loss_steps(out) == [1, 2, 3, 4]


def test_fresh_run_is_not_blocked_by_a_half_written_checkpoint(tmp_path, digit_reward):
    out = tmp_path / "grpo"
    (out / "checkpoint-6").mkdir(parents=True)  # a save killed before trainer_state.json
    (out / "checkpoint-6" / "model.safetensors").write_bytes(b"\0" * 16)
    (out / "metrics.jsonl").write_text('{"step": 5, "loss": 1.0}\n{"step": 6, "lo')
    run_grpo(load_recipe(GRPORecipe, raw=grpo_raw(out, max_steps=2, save_strategy="no")))
    assert loss_steps(out) == [1, 2]
    assert not (out / "checkpoint-6").exists()


def test_resuming_a_finished_run_keeps_one_summary_row(tmp_path):
    out = tmp_path / "sft"
    run_sft(load_recipe(SFTRecipe, raw=sft_raw(out, max_steps=2)))
    run_sft(load_recipe(SFTRecipe, raw=sft_raw(out, max_steps=2, resume_from_checkpoint="latest")))
    metrics = rows(out / "metrics.jsonl")
    steps = loss_steps(out)
    assert steps[:2] == [1, 2] and len(set(steps)) == len(steps)
    assert sum("train_runtime" in r for r in metrics) == 1


def test_overwrite_output_dir_starts_fresh_logs(tmp_path, digit_reward):
    out = tmp_path / "grpo"
    run_grpo(load_recipe(GRPORecipe, raw=grpo_raw(out, max_steps=2)))
    again = grpo_raw(out, max_steps=2)
    again["overwrite_output_dir"] = True
    run_grpo(load_recipe(GRPORecipe, raw=again))
    assert loss_steps(out) == [1, 2]
    assert sorted({r["step"] for r in rows(out / "completions.jsonl")}) == [0, 1]


def test_checkpoints_in_other_layouts_count_as_complete(tmp_path):
    """DeepSpeed and FSDP checkpoints keep their weights in shard folders; trainer_state.json (written last) is what
    tells a finished save, so they are resumed from, never removed as incomplete."""
    from r1lite.train.checkpoints import prepare_output_dir

    deepspeed = tmp_path / "checkpoint-2"
    (deepspeed / "global_step2").mkdir(parents=True)
    (deepspeed / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4, "log_hi')  # cut by a kill
    assert prepare_output_dir(tmp_path, "latest", overwrite=False) == str(deepspeed)
    assert deepspeed.is_dir() and not (tmp_path / "checkpoint-4").exists()
