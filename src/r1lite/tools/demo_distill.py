"""The demo's sixth stage, R1's last step at toy scale: the GRPO-trained demo model (teacher) distilled into the
untouched base model (student), then evaluated like every other stage. Off-policy first, then on-policy (Qwen3's
strong-to-weak recipe; R1's distilled models are the off-policy part alone): on-policy distillation alone never
teaches the base model R1's format, since it never samples `<think>` (benchmarks/RESULTS.md). What demo.py and
demo_report.py need to run and report it, as plain functions:

    STAGES                      the four stages demo.STAGES ends with: generate_traces (recipes/demo/generate.yaml:
                                the teacher's rejection-sampled traces), sft_traces (recipes/demo/sft_traces.yaml:
                                the base model's warm start on them), distill (recipes/demo/distill.yaml: on-policy,
                                from the warm-started student), eval_distill (recipes/demo/eval.yaml on out/distill);
                                their costs are in demo_timing
    traces(out)                 what generate_traces kept of what it sampled (None until it finished)
    waiting(out)                the stages whose recipe waits for those traces (validated once they are written)
    stage_overrides(...)        the command-line overrides of those stages, as demo.stage_overrides writes them: with
                                no trace kept there is no warm start, and the student starts from the base model
    student_start(out)          the model the on-policy stage started from (its resolved recipe)
    summary(base, teacher, student)   the report's numbers: the student's paired gain over base (95% CI) and its
                                share of the teacher's held-out accuracy
    wall_times(wall_s)          the whole branch's wall time beside SFT + GRPO's
    headline(d)                 the report's line on the student: those numbers in words
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from r1lite.eval import paired_diff_ci

STAGES = ("generate_traces", "sft_traces", "distill", "eval_distill")
BRANCH = ("generate_traces", "sft_traces", "distill")  # the stages that make the student (its wall time)
NO_TRACES = "no trace survived rejection sampling: no warm start, the student starts from the base model"


def traces(out: Path) -> dict[str, int] | None:
    """{"kept", "sampled"} of the finished generate_traces stage (its stats.json); None until it finished."""
    try:
        stats = json.loads((out / "generate_traces" / "stats.json").read_text())
    except (OSError, ValueError):
        return None
    return {"kept": stats["accepted"], "sampled": stats["requests"]} if stats.get("complete") else None


def waiting(out: Path) -> tuple[str, ...]:
    """Stages whose recipe cannot be validated yet: sft_traces reads the traces generate_traces has not written."""
    return ("sft_traces",) if traces(out) is None else ()


def stage_overrides(out: Path, model: str, seed: int, steps: int, sft_steps: int,
                    evaluation: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """generate_traces: out/grpo samples the traces; sft_traces: the base `model` learns them for `sft_steps` steps
    (left out when the finished generate_traces kept none); distill: the student learns on-policy from out/grpo for
    `steps` steps, starting from out/sft_traces (or `model`); eval_distill: `evaluation` is demo.stage_overrides'
    eval overrides (its held-out sizes), pointed at out/distill."""
    kept = traces(out)
    warm = kept is None or kept["kept"] > 0  # until generate_traces has finished, the warm start is the plan
    training = {"data.seed": seed, "trainer.seed": seed, "resume_from_checkpoint": "latest"}
    warm_start = {"sft_traces": {
        "model_name_or_path": model, "data.sources": [{"path": str(out / "generate_traces" / "data")}],
        "trainer.output_dir": str(out / "sft_traces"), "max_steps": sft_steps, "save_steps": max(1, sft_steps // 2),
        **training}} if warm else {}
    return {
        "generate_traces": {"model_name_or_path": str(out / "grpo"), "output_dir": str(out / "generate_traces"),
                            "data.seed": seed, "sampling.seed": seed},
        **warm_start,
        "distill": {"model.model_name_or_path": str(out / "sft_traces") if warm else model,
                    "teacher.model_name_or_path": str(out / "grpo"),
                    "trainer.output_dir": str(out / "distill"), "max_steps": steps,
                    "save_steps": max(1, steps // 2), **training},
        "eval_distill": {**(evaluation or {}), "model": str(out / "distill"), "output_dir": str(out / "eval_distill"),
                         "seed": seed},
    }


def student_start(out: Path) -> str | None:
    """The model the on-policy distillation started from, as its run recorded it (None before it ran)."""
    try:
        recipe = yaml.safe_load((out / "distill" / "resolved_recipe.yaml").read_text())
    except OSError:
        return None
    return recipe["model"]["model_name_or_path"]


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
    """Seconds of each stage of the branch, of the whole branch (traces, warm start, on-policy distillation) and of
    SFT + GRPO together."""
    stages = {stage: wall_s.get(stage) for stage in BRANCH}
    return {**stages, "branch": sum(s or 0 for s in stages.values()),
            "sft_plus_grpo": (wall_s.get("sft") or 0) + (wall_s.get("grpo") or 0)}


def headline(d: dict[str, Any]) -> str:
    """The report's line on the distilled student (d: demo_report's `distill` numbers: summary() per metric,
    wall_times(), traces(), the student's start and R1-format share): how it was made, its paired gain over base,
    its share of its teacher's accuracy, its time beside SFT + GRPO's."""

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    def points(g: dict[str, Any]) -> str:
        return f"{100 * g['diff']:+.1f} points, 95% CI [{100 * g['ci95'][0]:+.1f}, {100 * g['ci95'][1]:+.1f}]"

    def share(s: dict[str, Any]) -> str:
        return "n/a (the teacher solved none)" if s["share_of_teacher"] is None else pct(s["share_of_teacher"])

    fmt, boxed, wall, kept = d["correct_in_format"], d["correct_boxed"], d["wall_s"], d["traces"]
    g = fmt["student_gain_over_base"]
    made = (f"the GRPO model's traces: {kept['kept']} of {kept['sampled']} sampled kept (right, in R1 format)"
            if kept else "no traces")
    if d["warm_start"]:
        made += f"; warm start: SFT of the base model on them ({d['sft_steps']} steps)"
    else:  # no trace kept, or a run folder whose distillation ran before the warm start existed
        made += f"; {NO_TRACES}" if not kept or not kept["kept"] else "; no warm start: the student started from base"
    return (f"\n**Distilled student** (base model <- the GRPO model; {made}; then {d['distill_steps']} on-policy "
            f"distillation steps): {pct(d['r1_format'])} of its held-out answers in R1 format; correct in R1 format, "
            f"paired over {g['n']} problems: {points(g)} over base "
            f"({'interval above zero' if g['above_zero'] else 'interval not above zero'}), {share(fmt)} of the "
            f"teacher's {pct(fmt['teacher_accuracy'])}; correct in the box {points(boxed['student_gain_over_base'])}"
            f", {share(boxed)} of the teacher's {pct(boxed['teacher_accuracy'])}. The branch took "
            f"{wall['branch']:.0f} s (traces {wall['generate_traces'] or 0:.0f} s, "
            + (f"warm start {wall['sft_traces'] or 0:.0f} s, " if d["warm_start"] else "")
            + f"on-policy {wall['distill'] or 0:.0f} s); SFT + GRPO took "
            f"{wall['sft_plus_grpo']:.0f} s.")
