"""The demo's sixth stage, R1's last step at toy scale (issue 22): on-policy distillation of the GRPO-trained demo
model (teacher) into the untouched base model (student), then evaluated like every other stage. What demo.py and
demo_report.py need to run and report it, as plain functions:

    STAGES                      the two stages demo.STAGES ends with: distill (recipes/demo/distill.yaml), then
                                eval_distill (recipes/demo/eval.yaml on out/distill); their costs are in demo_timing
    stage_overrides(...)        the command-line overrides of those two stages, as demo.stage_overrides writes them
    summary(base, teacher, student)   the report's numbers: the student's paired gain over base (95% CI) and its
                                share of the teacher's held-out accuracy
    wall_times(wall_s)          the distillation's wall time beside SFT + GRPO's
    headline(d)                 the report's line on the student: those numbers in words
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1lite.eval import paired_diff_ci

STAGES = ("distill", "eval_distill")


def stage_overrides(out: Path, model: str, seed: int, steps: int,
                    evaluation: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """distill: the base `model` learns from out/grpo for `steps` steps; eval_distill: `evaluation` is
    demo.stage_overrides' eval overrides (its held-out sizes), pointed at out/distill."""
    return {
        "distill": {"model.model_name_or_path": model, "teacher.model_name_or_path": str(out / "grpo"),
                    "trainer.output_dir": str(out / "distill"), "max_steps": steps,
                    "save_steps": max(1, steps // 2), "data.seed": seed, "trainer.seed": seed,
                    "resume_from_checkpoint": "latest"},
        "eval_distill": {**(evaluation or {}), "model": str(out / "distill"), "output_dir": str(out / "eval_distill"),
                         "seed": seed},
    }


def summary(base: dict[Any, float], teacher: dict[Any, float], student: dict[Any, float]) -> dict[str, Any]:
    """The distilled student against base, paired over the held-out problems both answered, and against the
    teacher's mean accuracy; each argument maps a problem to the share of its samples that were right."""
    shared = sorted(set(base) & set(student))
    gain, low, high = paired_diff_ci([base[k] for k in shared], [student[k] for k in shared])
    student_mean = sum(student.values()) / max(len(student), 1)
    teacher_mean = sum(teacher.values()) / max(len(teacher), 1)
    return {"student_gain_over_base": {"diff": gain, "ci95": [low, high], "n": len(shared),
                                       "above_zero": bool(shared) and low > 0},
            "student_accuracy": student_mean, "teacher_accuracy": teacher_mean,
            "share_of_teacher": student_mean / teacher_mean if teacher_mean else None}


def wall_times(wall_s: dict[str, float]) -> dict[str, float | None]:
    """Seconds of the distillation stage (sampling, teacher scoring, training) and of SFT + GRPO together."""
    return {"distill": wall_s.get("distill"), "sft_plus_grpo": (wall_s.get("sft") or 0) + (wall_s.get("grpo") or 0)}


def headline(d: dict[str, Any]) -> str:
    """The report's line on the distilled student (d: demo_report's `distill` numbers, summary() per metric plus
    wall_times()): paired gain over base, share of its teacher's accuracy, time beside SFT + GRPO's."""

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    def points(g: dict[str, Any]) -> str:
        return f"{100 * g['diff']:+.1f} points, 95% CI [{100 * g['ci95'][0]:+.1f}, {100 * g['ci95'][1]:+.1f}]"

    def share(s: dict[str, Any]) -> str:
        return "n/a (the teacher solved none)" if s["share_of_teacher"] is None else pct(s["share_of_teacher"])

    fmt, boxed = d["correct_in_format"], d["correct_boxed"]
    g = fmt["student_gain_over_base"]
    return (f"\n**Distilled student** (base model <- the GRPO model, on-policy), held-out correct in R1 format, paired "
            f"over {g['n']} problems: {points(g)} over base "
            f"({'interval above zero' if g['above_zero'] else 'interval not above zero'}), {share(fmt)} of the "
            f"teacher's {pct(fmt['teacher_accuracy'])}; correct in the box {points(boxed['student_gain_over_base'])}"
            f", {share(boxed)} of the teacher's {pct(boxed['teacher_accuracy'])}. Distillation took "
            f"{d['wall_s']['distill'] or 0:.0f} s; SFT + GRPO took {d['wall_s']['sft_plus_grpo']:.0f} s.")
