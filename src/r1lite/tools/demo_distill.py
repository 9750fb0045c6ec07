"""The demo's sixth stage, R1's last step at toy scale (issue 22): on-policy distillation of the GRPO-trained demo
model (teacher) into the untouched base model (student), then evaluated like every other stage. What demo.py and
demo_report.py need to run and report it, as plain functions of the demo's run folder:

    STAGES                      the two stages to append to demo.STAGES: distill (recipes/demo/distill.yaml), then
                                eval_distill (recipes/demo/eval.yaml on out/distill)
    COST, estimate_s(steps)     seconds on 2 CPU cores, for demo.plan / demo.estimate_s
    stage_overrides(...)        the command-line overrides of those two stages, as demo.stage_overrides writes them
    summary(out, wall_s)        the report's numbers: the student's paired gain over base (95% CI), its share of the
                                teacher's held-out accuracy, its wall time beside SFT + GRPO's
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1lite.eval import paired_diff_ci, problems_of, read_records
from r1lite.tools.demo_report import HELD_OUT

STAGES = ("distill", "eval_distill")
COST = {"distill_start": 20, "distill_step": 10, "eval": 60}  # seconds on 2 cores (benchmarks/RESULTS.md)
DISTILL_STEPS = 16


def estimate_s(steps: int = DISTILL_STEPS) -> float:
    return COST["distill_start"] + steps * COST["distill_step"] + COST["eval"]


def stage_overrides(out: Path, model: str, seed: int, steps: int = DISTILL_STEPS,
                    evaluation: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """distill: the base `model` learns from out/grpo; eval_distill: `evaluation` is demo.stage_overrides' eval
    overrides for another stage (its held-out sizes), pointed at out/distill."""
    return {
        "distill": {"model.model_name_or_path": model, "teacher.model_name_or_path": str(out / "grpo"),
                    "trainer.output_dir": str(out / "distill"), "max_steps": steps,
                    "save_steps": max(1, steps // 2), "data.seed": seed, "trainer.seed": seed,
                    "resume_from_checkpoint": "latest"},
        "eval_distill": {**(evaluation or {}), "model": str(out / "distill"), "output_dir": str(out / "eval_distill"),
                         "seed": seed},
    }


def held_out_scores(folder: Path) -> dict[tuple[str, str], float]:
    """Held-out problem -> share of its samples right inside the box (budget-forcing runs left out)."""
    return {(bench, pid): sum(p["correct_boxed"]) / len(p["correct_boxed"])
            for (bench, budget), by_id in problems_of(read_records(folder)).items() if bench in HELD_OUT and not budget
            for pid, p in by_id.items()}


def summary(out: Path, wall_s: dict[str, float]) -> dict[str, Any]:
    """The distilled student against base and teacher, on the held-out problems all three answered."""
    base, teacher, student = (held_out_scores(out / s) for s in ("eval_base", "eval_grpo", "eval_distill"))
    shared = sorted(set(base) & set(student))
    gain, low, high = paired_diff_ci([base[k] for k in shared], [student[k] for k in shared])
    student_mean = sum(student.values()) / max(len(student), 1)
    teacher_mean = sum(teacher.values()) / max(len(teacher), 1)
    return {
        "student_gain_over_base": {"diff": gain, "ci95": [low, high], "n": len(shared), "excludes_zero": low > 0},
        "student_accuracy": student_mean, "teacher_accuracy": teacher_mean,
        "share_of_teacher": student_mean / teacher_mean if teacher_mean else None,
        "wall_s": {"distill": wall_s.get("distill"),
                   "sft_plus_grpo": (wall_s.get("sft") or 0) + (wall_s.get("grpo") or 0)},
    }
