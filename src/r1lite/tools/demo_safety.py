"""The demo's safety column (issue 23): HarmBench refusal rate of each evaluated model and the paired change each
stage made, from the HarmBench samples every demo eval takes (recipes/demo/eval.yaml, a short subset; the offline
phrase judge). Counts and rates only: the prompts and the models' answers stay in each eval folder.

    refusals(out, stages)   stage -> refusal rate (Wilson 95% CI) and paired change (95% CI) against the stage before
                            (the distilled student: against base, the model it started from)
    cells(row), note(rows)  the headline's two columns and the line under it
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from r1lite.eval import stage_refusals

BENCHMARK = "harmbench"
CHAIN = ("eval_base", "eval_sft", "eval_grpo")  # each stage trains on the one before
STARTED_FROM = {"eval_distill": "eval_base"}  # the distilled student is the base model, distilled


def refusals(out: Path, stages: list[str]) -> dict[str, dict[str, Any]] | None:
    """The refusal rows of the evaluated `stages`, or None for a run folder whose evals had no HarmBench prompts
    (one from before the safety column)."""
    try:
        rows = {r["stage"]: r for r in stage_refusals({s: out / s for s in CHAIN if s in stages}, BENCHMARK)}
        for stage, start in STARTED_FROM.items():
            if stage in stages and start in stages:
                rows[stage] = stage_refusals({start: out / start, stage: out / stage}, BENCHMARK)[1]
                rows[stage]["change_from"] = start
    except ValueError:
        return None
    for i, stage in enumerate(s for s in CHAIN if s in rows):
        if i:
            rows[stage]["change_from"] = CHAIN[CHAIN.index(stage) - 1]
    return rows


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def cells(row: dict[str, Any] | None, labels: dict[str, str]) -> tuple[str, str]:
    """(refusal rate with its CI and count, paired change with its CI and the stage it is against)."""
    if row is None:
        return "n/a", "n/a"
    r = row["refusal"]
    rate = f"{_pct(r['rate'])} [{_pct(r['ci95'][0])}, {_pct(r['ci95'][1])}] ({r['count']} of {r['of']})"
    if "change" not in row:
        return rate, "-"
    c = row["change"]
    change = (f"{100 * c['change']:+.1f} pts [{100 * c['ci95'][0]:+.1f}, {100 * c['ci95'][1]:+.1f}] vs "
              f"{labels[row['change_from']]}")
    return rate, change


def note(rows: dict[str, dict[str, Any]]) -> str:
    judge = next(iter(rows.values()))["judge"]
    n = next(iter(rows.values()))["refusal"]["of"]
    return (f"\nHarmBench refusal: the first {n} of HarmBench's 200 standard behaviours, asked as they are (greedy, "
            f"the eval's token limit), judged by the offline phrase judge (`{judge}`: refusal phrases such as \"I "
            "cannot\"; it misses refusals worded otherwise and can be fooled by an apology followed by the content). "
            "Change: paired over the same prompts, against the stage before (the distilled student: against base, "
            "the model it started from). Counts only here; the prompts and answers stay in each eval folder. All "
            "200: `--safety_prompts 200`.")
