"""Rejection-sampling filters for teacher traces: FilterArgs (the recipe's filters: section), the checks, and `judge`.

Each check is a pure function on text (no model, no I/O) saying whether one sample is fit for distillation;
`near_duplicates` and `select` act on the samples of one prompt. `judge` applies them to one prompt's samples in the
order `r1lite generate` counts what each removed (REASONS): error, truncated, think (missing or broken <think>
block), language (mixing scripts), repetition, then correctness against the gold (checkers, as the rewards),
duplicates, selection.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from r1lite.backends import Completion
from r1lite.grading import ScoringArgs, check_answers

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_WORDS = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# why judge rejects a sample, in the order it checks
REASONS = ("error", "truncated", "think", "language", "repetition", "incorrect", "unverifiable", "duplicate",
           "selection")


@dataclass
class FilterArgs:
    truncated: bool = True  # drop samples that hit max_new_tokens
    think: bool = True  # drop samples without exactly one <think>…</think> followed by an answer
    language: bool = True
    max_foreign_ratio: float = 0.01  # share of letters outside Latin/Greek scripts tolerated
    repetition: bool = True
    repetition_ngram: int = 10
    max_repeated_ratio: float = 0.3  # share of word n-grams repeating an earlier one tolerated
    dedup: bool = True  # exact and near-duplicate samples of the same prompt
    near_dup_threshold: float = 0.9  # word 5-shingle Jaccard similarity
    keep: Literal["all", "shortest"] = "all"  # among the correct samples of a prompt
    max_per_prompt: int | None = None


def is_truncated(finish_reason: str) -> bool:
    """The sample hit the token limit (its reasoning or answer is cut off)."""
    return finish_reason == "length"


def think_problem(text: str) -> str | None:
    """Why `text` is not `<think>reasoning</think>answer`, or None when it is: exactly one think block, opening the
    text, with non-empty reasoning and a non-empty answer after it."""
    opens, closes = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    if opens == 0 and closes == 0:
        return "missing"
    if opens != 1 or closes != 1:
        return "unbalanced"
    start, end = text.index(THINK_OPEN), text.index(THINK_CLOSE)
    if text[:start].strip() or end < start:
        return "misplaced"
    if not text[start + len(THINK_OPEN):end].strip():
        return "empty reasoning"
    if not text[end + len(THINK_CLOSE):].strip():
        return "no answer"
    return None


def _foreign(ch: str) -> bool:
    """A letter outside the Latin and Greek scripts (Greek letters are ordinary math notation)."""
    name = unicodedata.name(ch, "")
    return not name.startswith(("LATIN", "GREEK"))


def foreign_script_ratio(text: str) -> float:
    """Share of letters (CJK ideographs, Cyrillic, ...) that are not Latin or Greek: language mixing in an English
    trace, which R1-Zero was known for."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if not ch.isascii() and _foreign(ch)) / len(letters)


def is_language_mixed(text: str, max_ratio: float = 0.01) -> bool:
    return foreign_script_ratio(text) > max_ratio


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def repeated_ngram_ratio(text: str, n: int = 10) -> float:
    """Share of word n-grams that repeat an earlier one: near 0 for prose, near 1 for a degenerate loop."""
    tokens = words(text)
    total = len(tokens) - n + 1
    if total <= 1:
        return 0.0
    unique = len({tuple(tokens[i:i + n]) for i in range(total)})
    return 1.0 - unique / total


def is_repetitive(text: str, n: int = 10, max_ratio: float = 0.3) -> bool:
    return repeated_ngram_ratio(text, n) > max_ratio


def normalized_hash(text: str) -> str:
    """Exact-duplicate key: case and whitespace do not make a sample new."""
    return hashlib.sha1(_SPACE.sub(" ", text.lower()).strip().encode()).hexdigest()


def shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < k:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(texts: Sequence[str], threshold: float = 0.9, k: int = 5) -> list[bool]:
    """For each text, True when it duplicates an earlier one: the same normalized text, or word k-shingle Jaccard
    similarity >= threshold. Meant for the few samples of one prompt (pairwise, exact, no MinHash estimate)."""
    seen_hashes: set[str] = set()
    kept: list[set[tuple[str, ...]]] = []
    out = []
    for text in texts:
        key = normalized_hash(text)
        grams = shingles(text, k)
        duplicate = key in seen_hashes or any(jaccard(grams, other) >= threshold for other in kept)
        out.append(duplicate)
        if not duplicate:
            seen_hashes.add(key)
            kept.append(grams)
    return out


def select(lengths: Sequence[int], keep: str = "all", max_per_prompt: int | None = None) -> list[int]:
    """Indices of the correct samples to keep: "all" (in sample order) or "shortest" (by length, ties in sample
    order; one unless max_per_prompt says more); at most max_per_prompt either way."""
    if keep == "all":
        order = list(range(len(lengths)))
        return order[:max_per_prompt] if max_per_prompt else order
    if keep == "shortest":
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        return sorted(order[:max_per_prompt or 1])
    raise ValueError(f"keep {keep!r} is unknown; allowed values: all, shortest")


def verify(row: dict[str, Any], texts: list[str], scoring: ScoringArgs) -> list[bool | None]:
    """Each text's final answer against the row's gold, for any task (None: the gold cannot be parsed)."""
    return check_answers([row] * len(texts), texts, scoring.timeout_s, scoring.num_workers)


def judge(row: dict[str, Any], completions: list[Completion], texts: list[str], f: FilterArgs,
          scoring: ScoringArgs) -> list[str | None]:
    """Per sample: the first reason it is rejected (see REASONS), or None when it is kept."""
    reasons: list[str | None] = []
    for c, text in zip(completions, texts):
        if c.finish_reason == "error":
            reasons.append("error")
        elif f.truncated and is_truncated(c.finish_reason):
            reasons.append("truncated")
        elif f.think and think_problem(text):
            reasons.append("think")
        elif f.language and is_language_mixed(text, f.max_foreign_ratio):
            reasons.append("language")
        elif f.repetition and is_repetitive(text, f.repetition_ngram, f.max_repeated_ratio):
            reasons.append("repetition")
        else:
            reasons.append(None)
    alive = [k for k, r in enumerate(reasons) if r is None]
    for k, correct in zip(alive, verify(row, [texts[k] for k in alive], scoring)):
        if not correct:
            reasons[k] = "unverifiable" if correct is None else "incorrect"
    if f.dedup:
        alive = [k for k, r in enumerate(reasons) if r is None]
        for k, duplicate in zip(alive, near_duplicates([texts[k] for k in alive], f.near_dup_threshold)):
            if duplicate:
                reasons[k] = "duplicate"
    alive = [k for k, r in enumerate(reasons) if r is None]
    lengths = [completions[k].completion_tokens or len(texts[k]) for k in alive]
    chosen = {alive[i] for i in select(lengths, f.keep, f.max_per_prompt)}
    return [r if r is not None or k in chosen else "selection" for k, r in enumerate(reasons)]
