"""Format rewards: one well-formed <think> block then the answer (Format), the four tags once each (TagCount),
step-by-step markers (ReasoningSteps)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from r1lite.grading import boxed_values, completion_text


def _think_parts(text: str, think_prefilled: bool) -> tuple[str, str] | None:
    """(reasoning, after) when the text is exactly one well-formed think block followed by the rest, else None."""
    body = text.lstrip()
    if not think_prefilled or body.startswith("<think>"):
        if not body.startswith("<think>"):
            return None
        body = body[len("<think>"):]
    if body.count("</think>") != 1 or "<think>" in body:
        return None
    reasoning, after = body.split("</think>")
    return reasoning, after


@dataclass
class Format:
    """1.0 for `<think>reasoning</think>` then a final answer, else 0.0.

    answer: "boxed" (a \\boxed{} after the think block, R1's format), "tag" (`<answer>...</answer>`, R1-Zero's
    format) or "any" (any non-empty text). think_prefilled: the chat template already emitted `<think>` (the
    R1-Distill templates), so the completion starts inside the reasoning and must not open another block.
    """

    answer: str = "boxed"
    think_prefilled: bool = False
    CONTEXT: ClassVar[tuple[str, ...]] = ("think_prefilled",)
    __name__: ClassVar[str] = "format"

    def __post_init__(self) -> None:
        if self.answer not in ("boxed", "tag", "any"):
            raise ValueError(f"format reward answer={self.answer!r}; allowed values: boxed, tag, any")

    def __call__(self, completions: list, **_: Any) -> list:
        return [float(self._formatted(completion_text(c))) for c in completions]

    def _formatted(self, text: str) -> bool:
        parts = _think_parts(text, self.think_prefilled)
        if parts is None or parts[0].strip() == "":
            return False
        if self.answer == "boxed":
            return bool(boxed_values(parts[1]))
        if self.answer == "tag":
            return re.fullmatch(r"\s*<answer>(?!.*<answer>).+?</answer>\s*", parts[1], re.DOTALL) is not None
        return parts[1].strip() != ""


@dataclass
class TagCount:
    """Partial format credit (open-r1's tag_count, whitespace-tolerant): an equal share for each of <think>,
    </think> (and <answer>, </answer> with answer_tag) that appears exactly once."""

    answer_tag: bool = False
    think_prefilled: bool = False
    CONTEXT: ClassVar[tuple[str, ...]] = ("think_prefilled",)
    __name__: ClassVar[str] = "tag_count"

    def __call__(self, completions: list, **_: Any) -> list:
        tags = ["<think>", "</think>"] + (["<answer>", "</answer>"] if self.answer_tag else [])
        scores = []
        for c in completions:
            text = completion_text(c)
            counts = {t: text.count(t) for t in tags}
            if self.think_prefilled and counts["<think>"] == 0:
                counts["<think>"] = 1
            scores.append(sum(counts[t] == 1 for t in tags) / len(tags))
        return scores


_STEP = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", re.MULTILINE)


@dataclass
class ReasoningSteps:
    """min(1, steps / min_steps) for explicit step markers ("Step 1:", "1.", bullets, "First,", ...)."""

    min_steps: int = 3
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    __name__: ClassVar[str] = "reasoning_steps"

    def __call__(self, completions: list, **_: Any) -> list:
        return [min(1.0, len(_STEP.findall(completion_text(c)[:50_000])) / self.min_steps) for c in completions]

