"""Correctness rewards: is the final answer right (Accuracy), and length-shaped variants of it (Cosine, Length);
TinyZero's countdown score. Answer checking runs through `r1lite.grading` with a hard deadline per completion."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from r1lite.grading import completion_text, extract_answer, grade_batch, grade_countdown


def _golds(n: int, answer: Sequence | None, solution: Sequence | None) -> list[str | None]:
    """Gold answers from the `answer` column, else the final answer of a `solution` column."""
    if answer is not None:
        return [None if a is None else str(a) for a in answer]
    if solution is not None:
        return [None if s is None else (extract_answer(str(s)) or str(s)) for s in solution]
    return [None] * n


def completion_lengths(completions: Sequence[Any], completion_ids: Sequence[Sequence[int]] | None) -> list[int]:
    """Lengths in tokens when TRL passes ids; else whitespace words (direct calls, tests)."""
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    return [len(completion_text(c).split()) for c in completions]



@dataclass
class Accuracy:
    """1.0 when the final answer (after </think>; last \\boxed{} wins) equals the gold, 0.0 when not, None when the
    gold cannot be parsed. Bounded by `timeout_s` per completion. boxed_only: pay only a right answer inside
    \\boxed{} (an unboxed "The answer is 60" earns 0), so RL cannot trade the answer format for correctness."""

    boxed_only: bool = False
    timeout_s: float = 5.0
    num_workers: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers")
    __name__: ClassVar[str] = "accuracy"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 **_: Any) -> list:
        grades = grade_batch(completions, _golds(len(completions), answer, solution), self.timeout_s,
                             self.num_workers, anywhere=False)
        return [None if g.correct is None else float(g.correct_boxed if self.boxed_only else g.correct)
                for g in grades]


@dataclass
class Cosine:
    """Cosine length scaling (Yeo et al. 2025): short correct answers earn most, short wrong ones lose most. Lengths
    are tokens, clamped at max_len (default: the trainer's max_completion_length; no wrap-around past it, unlike
    open-r1's version)."""

    max_len: int | None = None
    min_value_wrong: float = -1.0
    max_value_wrong: float = -0.5
    min_value_correct: float = 0.5
    max_value_correct: float = 1.0
    timeout_s: float = 5.0
    num_workers: int | None = None
    max_completion_length: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers", "max_completion_length")
    __name__: ClassVar[str] = "cosine"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 completion_ids: list | None = None, **_: Any) -> list:
        max_len = self.max_len or self.max_completion_length or 1024
        grades = grade_batch(completions, _golds(len(completions), answer, solution), self.timeout_s,
                             self.num_workers, anywhere=False)
        scores: list[float | None] = []
        for g, length in zip(grades, completion_lengths(completions, completion_ids)):
            if g.correct is None:
                scores.append(None)
                continue
            progress = min(length, max_len) / max_len
            lo, hi = ((self.min_value_correct, self.max_value_correct) if g.correct
                      else (self.max_value_wrong, self.min_value_wrong))
            scores.append(lo + 0.5 * (hi - lo) * (1.0 + math.cos(progress * math.pi)))
        return scores


@dataclass
class Length:
    """Kimi k1.5 length penalty within each prompt's group: lambda = 0.5 - (len - min) / (max - min); correct
    answers get lambda, wrong ones min(0, lambda). 0 when all lengths in a group are equal."""

    timeout_s: float = 5.0
    num_workers: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers")
    __name__: ClassVar[str] = "length"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 completion_ids: list | None = None, prompts: list | None = None, **_: Any) -> list:
        golds = _golds(len(completions), answer, solution)
        grades = grade_batch(completions, golds, self.timeout_s, self.num_workers, anywhere=False)
        lengths = completion_lengths(completions, completion_ids)
        keys = [completion_text(p) for p in prompts] if prompts is not None else golds
        groups: dict[Any, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            groups[key].append(i)
        scores: list[float | None] = [None] * len(completions)
        for members in groups.values():
            lo, hi = min(lengths[i] for i in members), max(lengths[i] for i in members)
            for i in members:
                if grades[i].correct is None:
                    continue
                lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
                scores[i] = lam if grades[i].correct else min(0.0, lam)
        return scores



# countdown (TinyZero): the checker lives in the grading layer (checkers.py), shared with generate and eval


@dataclass
class Countdown:
    """TinyZero's countdown score: 1.0 for a valid equation reaching the target, format_score for a stated but
    wrong equation, 0.0 for none."""

    format_score: float = 0.1
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    __name__: ClassVar[str] = "countdown"

    def __call__(self, completions: list, nums: list, target: list, **_: Any) -> list:
        grades = [grade_countdown(completion_text(c), n, t) for c, n, t in zip(completions, nums, target)]
        return [1.0 if g.correct else self.format_score if g.answer else 0.0 for g in grades]
