"""Synthetic verifiable tasks generated in code, seeded: `arithmetic` (difficulty knob), `word_problems` (one-step
stories: read which operation the story asks for, then compute) and `countdown` (TinyZero).

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


def _arithmetic_one(rng: random.Random, op: str, difficulty: int, operands: tuple[int, int] | None,
                    second: tuple[int, int] | None, place_value: bool = False) -> tuple[str, int, list[str]]:
    lo, hi = operands or _operand_range(difficulty)
    a, b, c = rng.randint(lo, hi), rng.randint(*second) if second else rng.randint(lo, hi), rng.randint(lo, hi)
    if op == "add":
        return f"{a} + {b}", a + b, [f"{a} + {b} = {a + b}."]
    if op == "sub":
        a, b = (a, b) if second else (max(a, b), min(a, b))
        return f"{a} - {b}", a - b, [f"{a} - {b} = {a - b}."]
    if op == "mul":
        if not operands and not second:  # the difficulty's own factor ranges
            a, b = rng.randint(2, 9 if difficulty <= 2 else 12 * difficulty), rng.randint(2, 9 if difficulty <= 2 else 20)
        return f"{a} \\times {b}", a * b, place_value_steps(a, b) if place_value else [f"{a} \\times {b} = {a * b}."]
    if op == "add3":
        return f"{a} + {b} + {c}", a + b + c, [f"{a} + {b} = {a + b}.", f"{a + b} + {c} = {a + b + c}."]
    if op == "muladd":
        a, b = rng.randint(2, 9 + 3 * difficulty), rng.randint(2, 9 + 3 * difficulty)
        return f"{a} \\times {b} + {c}", a * b + c, [f"{a} \\times {b} = {a * b}.", f"{a * b} + {c} = {a * b + c}."]
    raise ValueError(f"arithmetic op {op!r} is unknown; allowed values: {', '.join(ARITHMETIC_OPS)}")


def place_value_steps(a: int, b: int) -> list[str]:
    """a x b worked by place value: each nonzero digit's part of `a` times b, then their sum (one line when `a` has a
    single nonzero digit: nothing to split)."""
    parts = [int(d) * 10 ** k for k, d in enumerate(reversed(str(a))) if d != "0"][::-1]
    if len(parts) == 1:
        return [f"{a} \\times {b} = {a * b}."]
    products = [p * b for p in parts]
    return ([f"{p} \\times {b} = {p * b}." for p in parts]
            + [" + ".join(map(str, products)) + f" = {a * b}."])


def r1_solution(steps: list[str], answer: Any) -> str:
    """A short R1-format completion: the reasoning in <think>, then the boxed answer."""
    return "<think>\n" + "\n".join(steps) + "\n</think>\nThe answer is \\boxed{" + str(answer) + "}."


REASONING = ("short", "steps", "mixed")


def arithmetic(n: int = 1000, difficulty: int = 2, ops: list[str] | str | None = None, seed: int = 0,
               split: str = "train", template: str = "What is {expr}?", operands: list[int] | None = None,
               second_operands: list[int] | None = None, reasoning: str = "short") -> list[dict[str, Any]]:
    """`n` distinct problems of the given ops (default: all) at difficulty 1 (one digit) to 5 (four digits).

    `operands: [lo, hi]` draws every operand from lo..hi instead of the difficulty's range: a wider space holds more
    held-out problems (the test split is a fifth of it; 2..9 x 2..9 has only ~13). `second_operands: [lo, hi]` draws
    the second one from its own range (47 x 6: operands [11, 99], second_operands [2, 9]; a subtraction then keeps
    its order and may go below zero).
    `reasoning` is the think block of a product (ops [mul] only): "short" one line (47 x 6 = 282), "steps" by place
    value (40 x 6 = 240, 7 x 6 = 42, 240 + 42 = 282), "mixed" either, by a seeded coin per problem: a cold start on
    both lets RL choose the reasoning that pays (benchmarks/RESULTS.md)."""
    if difficulty not in (1, 2, 3, 4, 5):
        raise ValueError(f"arithmetic difficulty {difficulty!r}; allowed values: 1, 2, 3, 4, 5")
    span = _span("arithmetic", operands)
    second = _span("arithmetic", second_operands, "second_operands")
    ops = _ops("arithmetic", ops, ARITHMETIC_OPS)
    if reasoning not in REASONING:
        raise ValueError(f"arithmetic reasoning {reasoning!r}; allowed values: {', '.join(REASONING)}")
    if reasoning != "short" and ops != ["mul"]:
        raise ValueError(f"arithmetic reasoning {reasoning!r} works a product by place value: it needs ops [mul], "
                         f"got {ops}")
    rng = random.Random(f"arithmetic-{seed}-{difficulty}" + (f"-{span}" if span else "")
                        + (f"-{second}" if second else ""))
    coin = random.Random(f"arithmetic-reasoning-{seed}")  # its own stream: the reasoning never changes the problems

    def by_place_value() -> bool:
        return reasoning == "steps" or (reasoning == "mixed" and coin.random() < 0.5)

    return _distinct(n, split, lambda i: _arithmetic_row(rng, ops[i % len(ops)], difficulty, template, span, second,
                                                         by_place_value()))


def _arithmetic_row(rng: random.Random, op: str, difficulty: int, template: str, operands: tuple[int, int] | None,
                    second: tuple[int, int] | None, place_value: bool) -> dict[str, Any]:
    expr, value, steps = _arithmetic_one(rng, op, difficulty, operands, second, place_value)
    return {"problem": template.format(expr=f"${expr}$" if "\\" in expr else expr), "answer": str(value),
            "solution": r1_solution(steps, value), "task": f"arithmetic/{op}"}


def _ops(task: str, ops: list[str] | str | None, allowed: tuple[str, ...]) -> list[str]:
    """The ops asked for (default: all allowed), each checked."""
    ops = [ops] if isinstance(ops, str) else list(ops or allowed)
    for op in ops:
        if op not in allowed:
            raise ValueError(f"{task} op {op!r} is unknown; allowed values: {', '.join(allowed)}")
    return ops


def _span(task: str, operands: list[int] | None, field: str = "operands") -> tuple[int, int] | None:
    """`operands: [lo, hi]` checked, as a tuple; None when not given."""
    if operands is None:
        return None
    if (not isinstance(operands, (list, tuple)) or len(operands) != 2
            or not all(isinstance(x, int) for x in operands) or not 0 <= operands[0] <= operands[1]):
        raise ValueError(f"{task} {field} {operands!r}: expected [lo, hi] with 0 <= lo <= hi")
    return tuple(operands)


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
# word problems: a one-step story; the reasoning is choosing the operation its verb asks for, then the arithmetic

WORD_OPS = ("add", "sub")
_NAMES = ("Sam", "Mia", "Leo", "Ava", "Noah", "Emma", "Liam", "Zoe", "Omar", "Lily", "Ben", "Nora", "Ivan", "Ruby",
          "Kai", "Anna")
_ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils", "cards", "shells", "stamps", "cookies",
          "balloons", "candies")
# verbs name the operation with no shared cue word (a "more" on every adding verb let a cold start learn the cue, not
# the verbs: benchmarks/RESULTS.md); `verbs: k` keeps the first k of each, e.g. a cold start on some verbs only
WORD_VERBS = {"add": ("buys {b}", "finds {b}", "gets {b} from a friend", "wins {b}", "picks up {b}", "is given {b}",
                      "earns {b}", "receives {b}"),
              "sub": ("gives {b} to a friend", "loses {b}", "sells {b}", "drops {b}", "gives away {b}", "uses {b}",
                      "eats {b}", "spends {b}")}


def word_problems(n: int = 1000, ops: list[str] | str | None = None, operands: list[int] | None = None, seed: int = 0,
                  split: str = "train", verbs: int | None = None) -> list[dict[str, Any]]:
    """`n` distinct one-step stories ("Mia has 23 coins. Mia loses 8. How many coins does Mia have now?"), the ops
    (add, sub; default both) taking turns, numbers from `operands: [lo, hi]` (default 1..20; a subtraction's first
    number is the larger), verbs: the first `verbs` of each op's WORD_VERBS (default all 8). The think block is the
    equation the story asks for, so a model must read the verb."""
    ops = _ops("word_problems", ops, WORD_OPS)
    lo, hi = _span("word_problems", operands) or (1, 20)
    kinds = len(WORD_VERBS["add"])
    if verbs is not None and verbs not in range(1, kinds + 1):  # also a string or a float from a recipe
        raise ValueError(f"word_problems verbs {verbs!r}: expected 1..{kinds} (the first verbs of each operation)")
    rng = random.Random(f"word_problems-{seed}-{lo}-{hi}")

    def make(i: int) -> dict[str, Any]:
        op = ops[i % len(ops)]
        a, b = rng.randint(lo, hi), rng.randint(lo, hi)
        if op == "sub":
            a, b = max(a, b), min(a, b)
        name, items = rng.choice(_NAMES), rng.choice(_ITEMS)
        verb = rng.choice(WORD_VERBS[op][:verbs]).format(b=b)
        value, sign = (a + b, "+") if op == "add" else (a - b, "-")
        return {"problem": f"{name} has {a} {items}. {name} {verb}. How many {items} does {name} have now?",
                "answer": str(value), "solution": r1_solution([f"{a} {sign} {b} = {value}."], value),
                "task": f"word_problems/{op}"}

    return _distinct(n, split, make)


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


TASKS: dict[str, Callable[..., list[dict[str, Any]]]] = {"arithmetic": arithmetic, "word_problems": word_problems,
                                                         "countdown": countdown}
