"""`r1lite eval` (evaluate): math benchmarks, pass@k with confidence intervals (stats), s1 budget forcing
(budget_forcing), results.json / tables / plots and run comparison (eval_report); safety benchmarks (HarmBench)
judged for refusal and attack success (safety, with the offline phrase judge in refusal), and per-stage refusal
changes for the demo (eval_report.stage_refusals)."""

from r1lite.eval.eval_report import problems_of, pyplot, read_records, save, stage_refusals
from r1lite.eval.stats import mean_ci, paired_diff_ci

__all__ = ["mean_ci", "paired_diff_ci", "problems_of", "pyplot", "read_records", "save", "stage_refusals"]
