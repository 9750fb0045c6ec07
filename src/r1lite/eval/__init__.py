"""r1lite.eval."""

from r1lite.eval.eval_report import problems_of, pyplot, read_records, save
from r1lite.eval.stats import mean_ci, paired_diff_ci

__all__ = [
    "mean_ci",
    "paired_diff_ci",
    "problems_of",
    "pyplot",
    "read_records",
    "save",
]
