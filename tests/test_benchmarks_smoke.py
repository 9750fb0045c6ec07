"""The throughput benchmarks run end to end at a tiny size and print their summary line (no timing is asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_reward_completions_are_distinct_and_cover_every_kind():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import reward_throughput
    finally:
        sys.path.pop(0)
    items = reward_throughput.build_completions(400, seed=0)
    assert len(items) == 400 and len({(c, g) for _, c, g in items}) == 400  # no cache hit flatters r1lite
    assert {k for k, _, _ in items} == set(reward_throughput.KINDS)
    assert items == reward_throughput.build_completions(400, seed=0)  # seeded


def test_reward_throughput_runs():
    out = run("reward_throughput.py", "--n", "60", "--batch", "16")
    assert "SUMMARY reward_throughput" in out and "agreement on well-formed" in out


@pytest.mark.slow
def test_sft_throughput_runs():
    out = run("sft_throughput.py", "--n", "48", "--seconds", "0", "--max_length", "256")
    assert "SUMMARY sft_throughput" in out


def test_gpu_verify_loads_its_recipes_and_predicts_without_a_gpu(tmp_path, monkeypatch):
    """gpu_verify's CPU parts: each stage's recipe validates and resolves to the stage's run (cli.py), plan
    predicts its memory; without CUDA it measures nothing and exits 2."""
    import torch

    from r1lite import cli

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_verify
    finally:
        sys.path.pop(0)
    for stage, raw in gpu_verify.recipes("tiny:qwen2", tmp_path, steps=2).items():
        recipe, run_stage = gpu_verify.load(stage, raw)
        assert run_stage is cli.module(stage).run and recipe.trainer["max_steps"] == 2
        assert 1 < gpu_verify.predicted(stage, recipe, gpu_memory_gib=80.0)["peak_gib"] < 80
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu_verify.py"])
    assert gpu_verify.main() == 2
