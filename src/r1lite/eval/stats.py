"""Evaluation metrics: pass@1 over k samples (DeepSeek-R1's protocol), unbiased pass@k, maj@k, confidence intervals.

Plain functions over per-problem lists of per-sample booleans, so they are testable without a model.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Z95 = 1.959964


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def majority(answers: Sequence[str | None]) -> str | None:
    """The most frequent answer (None = no answer never wins); a tie goes to the answer that appeared first."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): a 95% normal interval on per-problem scores, or Wilson's when they are all 0/1."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = sum(values) / n
    if all(v in (0.0, 1.0) for v in values):
        return wilson(sum(values), n)
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    half = Z95 * math.sqrt(var / n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def wilson(successes: float, n: int) -> tuple[float, float, float]:
    """(proportion, low, high): Wilson's 95% score interval, sound at 0/n and n/n, unlike the normal one."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p = successes / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def paired_diff_ci(before: Sequence[float], after: Sequence[float]) -> tuple[float, float, float]:
    """(mean difference after - before, low, high): a 95% interval on per-problem differences (same problems).

    Per-problem 0/1 scores use Agresti-Min's adjusted interval for paired proportions (half a count added to each
    discordant cell), which stays honest when every problem moved the same way; fractional scores (k > 1 samples)
    use the normal interval. NaN below two problems."""
    if len(before) != len(after):
        raise ValueError(f"paired comparison needs the same problems: {len(before)} vs {len(after)}")
    n = len(before)
    if n < 2:
        return float("nan"), float("nan"), float("nan")
    diffs = [a - b for a, b in zip(after, before)]
    mean = sum(diffs) / n
    if all(v in (0.0, 1.0) for v in (*before, *after)):
        gained, lost = sum(d > 0 for d in diffs) + 0.5, sum(d < 0 for d in diffs) + 0.5
        p_gain, p_loss = gained / (n + 2), lost / (n + 2)
        centre = p_gain - p_loss
        half = Z95 * math.sqrt(max(0.0, p_gain + p_loss - centre ** 2) / (n + 2))
        return mean, max(-1.0, centre - half), min(1.0, centre + half)
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    half = Z95 * math.sqrt(var / n)
    return mean, mean - half, mean + half


def summarize(problems: Sequence[dict]) -> dict[str, float | list[float] | int]:
    """Scores of one benchmark from per-problem records {"correct": [bool]*k, "answers": [str|None]*k,
    "tokens": [int]*k, "truncated": [bool]*k, "formatted": [bool]*k, "correct_anywhere": [bool]*k, "gold_ok": bool,
    "timed_out": [bool]*k}. Problems whose gold cannot be parsed are excluded and counted.

    pass@1 is the mean over problems of the share of correct samples (R1's "pass@1 averaged over k samples");
    maj@k is correct when the majority answer was graded correct in at least one sample.
    """
    excluded = sum(p.get("gold_ok") is False for p in problems)
    problems = [p for p in problems if p.get("gold_ok") is not False]  # an unparseable gold says nothing of the model
    k = min(len(p["correct"]) for p in problems) if problems else 0
    per_problem = [sum(p["correct"]) / len(p["correct"]) for p in problems]
    p1, low, high = mean_ci(per_problem)
    samples = [i for p in problems for i in range(len(p["correct"]))]
    result: dict[str, float | list[float] | int] = {
        "num_problems": len(problems), "num_samples": k, "pass@1": p1, "pass@1_ci95": [low, high],
        "correct_anywhere": _share(problems, "correct_anywhere"),
        "format_rate": _share(problems, "formatted"),
        "truncation_rate": _share(problems, "truncated"),
        "mean_tokens": (sum(t for p in problems for t in p["tokens"]) / len(samples)) if samples else float("nan"),
        "excluded_unparseable_gold": excluded,
        "grading_timeouts": sum(sum(p.get("timed_out", [])) for p in problems),
    }
    for kk in sorted({1, 2, 4, 8, 16, 32, 64, k} - {0}):
        if kk <= k and kk > 1:
            result[f"pass@{kk}"] = sum(pass_at_k(len(p["correct"]), sum(p["correct"]), kk) for p in problems) / len(
                problems)
    if k > 1:
        result[f"maj@{k}"] = sum(_majority_correct(p) for p in problems) / len(problems)
    return result


def _share(problems: Sequence[dict], key: str) -> float:
    values = [v for p in problems for v in p.get(key, [])]
    return sum(values) / len(values) if values else float("nan")


def _majority_correct(problem: dict) -> bool:
    winner = majority(problem["answers"])
    return winner is not None and any(a == winner and c for a, c in zip(problem["answers"], problem["correct"]))
