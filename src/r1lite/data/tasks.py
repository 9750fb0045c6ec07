"""Synthetic verifiable tasks generated in code, seeded: `arithmetic` (difficulty knob) and `countdown` (TinyZero).

Each row has `problem`, `answer` (the gold), `solution` (a code-made R1-format completion: short reasoning in
<think></think>, then the answer in \\boxed{}, used for cold-start SFT) and `task`. Train and test splits are
disjoint by construction: a problem belongs to "test" iff a hash of its text falls in the test bucket.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

TEST_FRACTION = 0.2  # share of the problem space reserved for the held-out split

# family -> (difficulty range description, generator(rng, difficulty) -> (expression, value, steps))
ARITHMETIC_OPS = ("add", "sub", "mul", "add3", "muladd")


def _in_split(problem: str, split: str) -> bool:
    bucket = int(hashlib.sha256(problem.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return (bucket < TEST_FRACTION) == (split == "test")


def _operand_range(difficulty: int) -> tuple[int, int]:
    return {1: (1, 9), 2: (1, 20), 3: (10, 99), 4: (10, 999), 5: (100, 9999)}[difficulty]


def _arithmetic_one(rng: random.Random, op: str, difficulty: int,
                    operands: tuple[int, int] | None) -> tuple[str, int, list[str]]:
    lo, hi = operands or _operand_range(difficulty)
    a, b, c = rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi)
    if op == "add":
        return f"{a} + {b}", a + b, [f"{a} + {b} = {a + b}."]
    if op == "sub":
        a, b = max(a, b), min(a, b)
        return f"{a} - {b}", a - b, [f"{a} - {b} = {a - b}."]
    if op == "mul":
        if not operands:  # the difficulty's own factor ranges
            a, b = rng.randint(2, 9 if difficulty <= 2 else 12 * difficulty), rng.randint(2, 9 if difficulty <= 2 else 20)
        return f"{a} \\times {b}", a * b, [f"{a} \\times {b} = {a * b}."]
    if op == "add3":
        return f"{a} + {b} + {c}", a + b + c, [f"{a} + {b} = {a + b}.", f"{a + b} + {c} = {a + b + c}."]
    if op == "muladd":
        a, b = rng.randint(2, 9 + 3 * difficulty), rng.randint(2, 9 + 3 * difficulty)
        return f"{a} \\times {b} + {c}", a * b + c, [f"{a} \\times {b} = {a * b}.", f"{a * b} + {c} = {a * b + c}."]
    raise ValueError(f"arithmetic op {op!r} is unknown; allowed values: {', '.join(ARITHMETIC_OPS)}")


def r1_solution(steps: list[str], answer: Any) -> str:
    """A short R1-format completion: the reasoning in <think>, then the boxed answer."""
    return "<think>\n" + "\n".join(steps) + "\n</think>\nThe answer is \\boxed{" + str(answer) + "}."


def arithmetic(n: int = 1000, difficulty: int = 2, ops: list[str] | str | None = None, seed: int = 0,
               split: str = "train", template: str = "What is {expr}?",
               operands: list[int] | None = None) -> list[dict[str, Any]]:
    """`n` distinct problems of the given ops (default: all) at difficulty 1 (one digit) to 5 (four digits).

    `operands: [lo, hi]` draws every operand from lo..hi instead of the difficulty's range: a wider space holds more
    held-out problems (the test split is a fifth of it; 2..9 x 2..9 has only ~13)."""
    if difficulty not in (1, 2, 3, 4, 5):
        raise ValueError(f"arithmetic difficulty {difficulty!r}; allowed values: 1, 2, 3, 4, 5")
    if operands is not None and (len(operands) != 2 or not 0 <= operands[0] <= operands[1]):
        raise ValueError(f"arithmetic operands {operands!r}: expected [lo, hi] with 0 <= lo <= hi")
    ops = [ops] if isinstance(ops, str) else list(ops or ARITHMETIC_OPS)
    for op in ops:
        if op not in ARITHMETIC_OPS:
            raise ValueError(f"arithmetic op {op!r} is unknown; allowed values: {', '.join(ARITHMETIC_OPS)}")
    span = tuple(operands) if operands else None
    rng = random.Random(f"arithmetic-{seed}-{difficulty}" + (f"-{span}" if span else ""))
    return _distinct(n, split, lambda i: _arithmetic_row(rng, ops[i % len(ops)], difficulty, template, span))


def _arithmetic_row(rng: random.Random, op: str, difficulty: int, template: str,
                    operands: tuple[int, int] | None) -> dict[str, Any]:
    expr, value, steps = _arithmetic_one(rng, op, difficulty, operands)
    return {"problem": template.format(expr=f"${expr}$" if "\\" in expr else expr), "answer": str(value),
            "solution": r1_solution(steps, value), "task": f"arithmetic/{op}"}


def _distinct(n: int, split: str, make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Draw until `n` distinct problems of `split`; stops early if the problem space is exhausted."""
    if split not in ("train", "test"):
        raise ValueError(f"synthetic split {split!r}; allowed values: train, test")
    rows, seen = [], set()
    for attempt in itertools.count():
        if len(rows) >= n or attempt > 50 * n + 1000:
            break
        row = make(attempt)
        if row["problem"] in seen or not _in_split(row["problem"], split):
            continue
        seen.add(row["problem"])
        rows.append({"id": f"{row['task']}-{split}-{len(rows):05d}", **row})
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# countdown (TinyZero): reach `target` from `nums` with + - * / using each number once


def _random_expression(rng: random.Random, nums: list[int]) -> tuple[Fraction, str]:
    """A random expression using every number once: combine two random items until one is left."""
    items = [(Fraction(x), str(x)) for x in nums]
    rng.shuffle(items)
    while len(items) > 1:
        (a, ea), (b, eb) = items.pop(), items.pop()
        op = rng.choice("+-*/" if b != 0 else "+-*")
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else a}[op]
        items.append((value, f"({ea} {op} {eb})"))
    value, expr = items[0]
    return value, expr[1:-1] if expr.startswith("(") else expr


def countdown(n: int = 1000, num_count: int = 3, max_number: int = 20, seed: int = 0,
              split: str = "train") -> list[dict[str, Any]]:
    """Countdown problems with `num_count` (2-4) numbers in 1..max_number. The target is built from a random
    expression over the numbers (a positive integer up to max_number * num_count), so it is reachable by construction
    and no search is needed."""
    if not 2 <= num_count <= 4:
        raise ValueError(f"countdown num_count {num_count!r}; allowed values: 2, 3, 4")
    rng = random.Random(f"countdown-{seed}-{num_count}-{max_number}")

    def make(_: int) -> dict[str, Any]:
        while True:
            nums = [rng.randint(1, max_number) for _ in range(num_count)]
            value, expr = _random_expression(rng, nums)
            if value.denominator == 1 and 1 <= value <= max_number * num_count:
                break
        target = int(value)
        problem = (f"Using the numbers {nums}, create an equation that equals {target}. You can use + - * / and "
                   "each number exactly once.")
        return {"problem": problem, "answer": expr, "nums": nums, "target": target,
                "solution": r1_solution([f"{expr} = {target}."], expr), "task": "countdown"}

    return _distinct(n, split, make)


TASKS: dict[str, Callable[..., list[dict[str, Any]]]] = {"arithmetic": arithmetic, "countdown": countdown}
