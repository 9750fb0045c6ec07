"""Answer checkers per task: is this completion's final answer right? grade_rows grades rows of any task, deciding
math or countdown per row in one place: eval's records take its Grades (evaluate.grade_records) and generate's
verification its verdicts (check_answers, from filters.verify). The GRPO rewards (rewards/) call the same graders
directly, one reward per task: bounded_pool.grade_batch for math, grade_countdown for countdown.

    math       the final answer (after </think>, last \\boxed{}) equals the row's `answer` (grading.py, bounded and
               parallel in bounded_pool.py)
    countdown  the proposed equation (last <answer> or \\boxed{}) uses each of the row's `nums` once and equals its
               `target` (TinyZero)
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from r1lite.grading.answer_extraction import boxed_values, final_segment
from r1lite.grading.bounded_pool import grade_batch
from r1lite.grading.grading import Grade

TASK_FIELDS = ("nums", "target")  # row fields a non-math checker reads, kept on benchmark rows


def task_of(row: dict[str, Any]) -> str:
    """countdown for rows with `nums` and `target`, else math."""
    return "countdown" if row.get("nums") is not None and row.get("target") is not None else "math"


def grade_rows(rows: Sequence[dict[str, Any]], texts: Sequence[str], timeout_s: float = 5.0,
               num_workers: int | None = None) -> list[Grade]:
    """One Grade per (row, text) pair, by the row's task (task_of); math texts are graded together, bounded and in
    parallel (bounded_pool.grade_batch)."""
    grades: list[Grade | None] = [None if task_of(row) == "math" else grade_countdown(text, row["nums"], row["target"])
                                  for row, text in zip(rows, texts)]
    math = [i for i, g in enumerate(grades) if g is None]
    for i, g in zip(math, grade_batch([texts[i] for i in math], [rows[i].get("answer") for i in math], timeout_s,
                                      num_workers)):
        grades[i] = g
    return grades  # type: ignore[return-value]


def check_answers(rows: Sequence[dict[str, Any]], texts: Sequence[str], timeout_s: float = 5.0,
                  num_workers: int | None = None) -> list[bool | None]:
    """Whether each text answers its row (one text per row) rightly; None when a math gold cannot be parsed."""
    return [g.correct for g in grade_rows(rows, texts, timeout_s, num_workers)]


# ---------------------------------------------------------------------------------------------------------------------
# countdown (TinyZero)

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_EQUATION_CHARS = re.compile(r"[\d+\-*/().\s]+")


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("not an arithmetic expression")


def countdown_equation(text: str) -> str | None:
    """The proposed equation: the last <answer> or \\boxed{} after the think block."""
    segment = final_segment(text)
    tags = re.findall(r"<answer>(.*?)</answer>", segment, re.DOTALL)
    boxed = boxed_values(segment)
    found = (tags or boxed or [None])[-1]
    if found is None:
        return None
    return found.replace("\\times", "*").replace("\\cdot", "*").replace("\\div", "/").strip().strip("$") or None


def grade_countdown(text: str, nums: Sequence[int], target: int) -> Grade:
    """A countdown completion graded like a math one (answer, correct, boxed, ...), for eval's records."""
    equation = countdown_equation(text)
    correct = check_countdown(equation, nums, target)
    boxed = bool(boxed_values(final_segment(text)))
    return Grade(equation, correct, boxed, correct and boxed, correct)


def check_countdown(equation: str | None, nums: Sequence[int], target: int) -> bool:
    """True iff the equation uses each number exactly once, only + - * / and parentheses, and equals target."""
    equation = (equation or "").split("=")[0].strip()  # "expr = target" states the target, drop it
    if not equation or len(equation) > 200 or not _EQUATION_CHARS.fullmatch(equation):
        return False
    if Counter(int(n) for n in re.findall(r"\d+", equation)) != Counter(int(n) for n in nums):
        return False
    try:
        return _evaluate(ast.parse(equation, mode="eval")) == Fraction(int(target))
    except (ValueError, ZeroDivisionError, SyntaxError, TypeError, RecursionError):
        return False
