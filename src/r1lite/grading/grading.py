"""Is this completion's final answer the gold answer? One grader for the GRPO accuracy reward and for `r1lite eval`.

grade(completion, gold): `read_gold` reads the gold once (a letter, words, a number or math; one value or several)
-> the final answer is found after </think> (`r1lite.grading.answer_extraction`) -> `_verdict` compares it: letters, words,
normal forms and exact numbers first (`r1lite.grading.answer_forms.plain_verdict`), then math-verify for the rest
(inequalities as intervals, short decimals as fractions) -> a Grade. `grade_quick` takes the same path without
math-verify and returns None where only math-verify can tell.

Pure Python (no torch). math-verify can take unbounded time on pathological input; call `grade` through
`r1lite.grading.bounded_pool` (process pool, hard deadline) from training and eval code. math-verify's own timeouts use SIGALRM,
which only works on the main thread, so they are switched off here and the deadline is enforced by the scorer.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

from r1lite.grading.answer_extraction import (
    answer_in,
    boxed_values,
    candidates,
    completion_text,
    final_boxes,
    final_segment,
    last_number,
)
from r1lite.grading.answer_forms import (
    EXACT_PLACES,
    TEXT_COMMAND,
    as_number,
    clean,
    decimal_places,
    has_percent,
    normalize,
    plain_verdict,
)

_CHOICE_GOLD = re.compile(r"\(?([A-E])\)?(?:[.:]?\s+[A-Z][a-z]+\b.*)?", re.DOTALL)  # C, (C), (D) Alina
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "max", "min", "lcm", "gcd", "det", "inf",
               "infty", "arcsin", "arccos", "arctan", "sqrt", "and", "or"}
# answers sympy would spend minutes on (a^{b^{c}}, 10^5-digit literals, 5000!): never the right answer to a
# benchmark problem, so they are graded wrong at once instead of burning a worker's deadline
_EXPLOSIVE = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\d+\s*\^|\d{80,}|\d{4,}\s*!")


@dataclass(frozen=True)
class Grade:
    """How one completion fares against one gold answer.

    correct is None when the gold itself cannot be parsed (the row carries no signal; rewards skip it).
    correct_anywhere: the gold is among any answer-like span anywhere in the completion (every boxed value, answer
    tag, "answer is", ####, or the last number): an upper bound that separates "cannot solve" from "cannot format".
    """

    answer: str | None
    correct: bool | None
    boxed: bool = False
    correct_boxed: bool | None = None
    correct_anywhere: bool | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class Gold:
    """A gold answer read once: what kind of answer it is and how to compare with it.

    kind: "choice" (a letter A-E), "text" (words: \\text{Evelyn}, Monday), "number" (integer, decimal, fraction)
    or "math" (anything math-verify parses). several: a list or set of values (`1, -2`, `\\{1,2,3\\}`), so the boxes
    of the final answer together are the answer.
    """

    text: str
    kind: str
    several: bool = False


# ---------------------------------------------------------------------------------------------------------------------
# gold answers


def _several(s: str) -> bool:
    """A list or set of values: a set in braces, or a comma or "and" outside any bracket (`1, -2`, `(2,2), (6,2)`)."""
    if s.startswith("\\{") or "\\pm" in s:
        return True
    s = re.sub(r"\\text\{\s*(?:and|or)\s*\}", " and ", s)
    depth = 0
    for i, ch in enumerate(s):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and (ch == "," or s.startswith(" and ", i) or s.startswith("\\quad", i)):
            return True
    return False


def _words_only(s: str) -> bool:
    """Plain prose such as `forty two`: no digits or LaTeX, two or more words that are not math names."""
    if re.search(r"[\d\\^_=+*/<>]", s):
        return False
    return len([w for w in _WORD.findall(s) if w.lower() not in _MATH_WORDS]) >= 2


@functools.lru_cache(maxsize=4096)
def read_gold(gold: str | None, symbolic: bool = True) -> Gold | None:
    """The gold as a Gold, or None when it is not an answer that can be checked (empty, prose, unparseable).
    A reference solution holding boxed answers stands for its final boxes. symbolic=False: decide without
    math-verify, returning kind "math" unchecked (in-process fast path)."""
    s = "" if gold is None else str(gold).strip()
    if boxes := final_boxes(s):
        s = ", ".join(boxes)
    elif re.search(r"answer\s*(?:is|:)|####", s, re.IGNORECASE):
        s = answer_in(s) or ""
    s = clean(s)
    if not s:
        return None
    several = as_number(s) is None and _several(s)
    bare = TEXT_COMMAND.sub(lambda m: m.group(1), s).strip()
    if letter := _CHOICE_GOLD.fullmatch(bare):  # "C", "(C)", "\text{(C)}", "(D) Alina"
        return Gold(letter.group(1), "choice")
    written_as_text = bool(TEXT_COMMAND.fullmatch(s) and re.search(r"[A-Za-z]", bare))
    if written_as_text or re.fullmatch(r"[A-Za-z]{3,}", s) and s.lower() not in _MATH_WORDS:  # \text{east}, Monday
        return Gold(s, "text")
    if _words_only(s):
        return None
    if as_number(s) is not None:
        return Gold(s, "number")
    if symbolic and not _mv_parse(s):
        return None
    return Gold(s, "math", several)


# ---------------------------------------------------------------------------------------------------------------------
# equivalence


@functools.lru_cache(maxsize=8192)
def _mv_parse(answer: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns on every call that its timeout is off
    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    return parse("\\boxed{" + answer + "}", extraction_config=configs, parsing_timeout=None)


def _as_list(answer: str) -> str:
    """Items separated by \\quad or "and" as a comma list, the form math-verify reads as a set."""
    return re.sub(r"\s*(?:,?\s*(?:\\q?quad|\\text\{\s*and\s*\}|\band\b)\s*)+", ", ", answer)


# a decimal written to fewer places than math-verify rounds to, not the start of 0.1\overline{6}
_DECIMAL = re.compile(rf"(?<![\d.])(\d*)\.(\d{{1,{EXACT_PLACES - 1}}})(?![\d.]|\\overline)")


def _as_fraction(decimal: re.Match) -> str:
    """0.57735 as \\frac{57735}{100000}: math-verify rounds decimals to 6 places before comparing, which would
    credit 0.57735 for \\frac{\\sqrt{3}}{3}; a fraction it compares exactly."""
    whole, places = decimal.group(1) or "0", decimal.group(2)
    return f"\\frac{{{int(whole + places)}}}{{{10 ** len(places)}}}"


_LESS = ("<", "\\le", "\\leq", "≤")
_GREATER = (">", "\\ge", "\\geq", "≥")
_FLIPPED = dict(zip(_LESS + _GREATER, _GREATER + _LESS))
_INEQUALITY_OP = r"(<|>|\\leq|\\le|\\geq|\\ge|≤|≥)"
_BOUND = r"((?:(?!\\[lg]e)[^<>=≤≥])+)"  # never spans an operator, so matching stays linear
_ONE_SIDED = re.compile(rf"([a-z]){_INEQUALITY_OP}{_BOUND}|{_BOUND}{_INEQUALITY_OP}([a-z])")
_TWO_SIDED = re.compile(rf"{_BOUND}{_INEQUALITY_OP}([a-z]){_INEQUALITY_OP}{_BOUND}")
_UNION_JOINER = re.compile(r"\\text\{or\}|\\cup|\\lor|\\vee|(?<=[\d}])or(?=[a-z\d-])")


def _interval(low: str, low_closed: bool, high: str, high_closed: bool) -> str:
    return f"{'[' if low_closed else '('}{low},{high}{']' if high_closed else ')'}"


def _inequality_as_interval(part: str) -> str | None:
    """`x<-2` -> `(-\\infty,-2)`, `1\\le x<3` -> `[1,3)` (whitespace removed), else None."""
    if m := _TWO_SIDED.fullmatch(part):
        low, op1, _, op2, high = m.groups()
        if op1 in _GREATER and op2 in _GREATER:  # 3 > x > 1 is 1 < x < 3
            low, op1, op2, high = high, _FLIPPED[op2], _FLIPPED[op1], low
        return _interval(low, op1 != "<", high, op2 != "<") if op1 in _LESS and op2 in _LESS else None
    if m := _ONE_SIDED.fullmatch(part):
        op, bound = m.group(2, 3) if m.group(1) else (_FLIPPED[m.group(5)], m.group(4))  # 3 > x is x < 3
        if op in _LESS:
            return _interval("-\\infty", False, bound, op != "<")
        return _interval(bound, op != ">", "\\infty", False)
    return None


def _union_as_intervals(answer: str) -> str:
    """Inequalities joined by "or" (`x<-2 \\text{ or } x>3`) as the union of intervals they state, which math-verify
    compares with `(-\\infty,-2)\\cup(3,\\infty)`; any other answer as it is."""
    parts = _UNION_JOINER.split(re.sub(r"\s+", "", answer))
    if len(parts) < 2 or not all(re.search(r"[<>≤≥]|\\[lg]e", p) for p in parts):
        return answer
    intervals = [_inequality_as_interval(p) for p in parts]
    return answer if None in intervals else "\\cup".join(intervals)


def _verdict(answer: str | None, gold: Gold, symbolic: bool = True) -> bool | None:
    """Does `answer` equal the gold? None when only math-verify can tell and symbolic=False."""
    if answer is None:
        return False
    decided = plain_verdict(answer, gold.text, gold.kind)
    if decided is not None or not symbolic:
        return decided
    if _EXPLOSIVE.search(answer):
        return False
    from math_verify import verify

    a, g = _union_as_intervals(clean(answer)), _union_as_intervals(gold.text)
    if not _DECIMAL.search(g):
        a = _DECIMAL.sub(_as_fraction, a)
    if gold.several:
        a, g = _as_list(a), _as_list(g)
    parsed_gold, parsed_answer = _mv_parse(g), _mv_parse(a)
    if not parsed_gold or not parsed_answer:
        return False
    # x \in [-2, 7] and -2 \le x \le 7 state the same set, whichever side the gold is on
    if verify(parsed_gold, parsed_answer, allow_set_relation_comp=True, timeout_seconds=None):
        return True
    return gold.kind == "number" and _rounds_to_decimal_gold(parsed_answer, gold.text)


def _rounds_to_decimal_gold(parsed_answer: list, gold: str) -> bool:
    """An exact answer that is no plain number (`\\sqrt{2}`, `\\pi`) against a gold written as a decimal (`1.41`):
    the gold's precision rules, as for fractions (`\\frac{70}{9}` is 7.78)."""
    import sympy

    places, value = decimal_places(gold), as_number(gold)
    if places is None or value is None or has_percent(gold) or not parsed_answer:
        return False
    answer = parsed_answer[0]
    if not isinstance(answer, sympy.Expr) or answer.free_symbols:
        return False
    error = sympy.Abs(answer - sympy.Rational(value.numerator, value.denominator)).evalf(30)
    return bool(error.is_real and error <= sympy.Rational(1, 2 * 10**places))


def _offered_together(segment: str, gold: Gold) -> list[str]:
    """The boxes of the final answer when they offer different values (`\\boxed{3} or \\boxed{4}`) for a single-valued
    gold, else []."""
    boxes = [] if gold.several else final_boxes(segment)
    return boxes if len({normalize(b) for b in boxes}) > 1 else []


def _all_right(verdicts: list[bool | None]) -> bool | None:
    """Three-valued all(): False when any is False, else None when any is undecided."""
    return False if False in verdicts else None if None in verdicts else True


def _any_right(verdicts: list[bool | None]) -> bool | None:
    """Three-valued any(): True when any is True, else None when any is undecided."""
    return True if True in verdicts else None if None in verdicts else False


def _anywhere_candidates(text: str, segment: str) -> list[str]:
    """Every answer-like span of the whole completion, and the last number of its final segment, deduplicated."""
    found = [v for _, v in candidates(text)]
    if (number := last_number(segment)) is not None:
        found.append(number)
    return list(dict.fromkeys(found))


def _grade(completion: Any, gold: str | None, anywhere: bool, symbolic: bool) -> Grade | None:
    text = completion_text(completion)
    segment = final_segment(text)
    target = read_gold(None if gold is None else str(gold), symbolic)
    boxed = bool(boxed_values(segment))
    if target is None:
        return Grade(answer_in(segment), None, boxed)
    if not symbolic and target.kind == "math":
        return None
    answer = answer_in(segment, target.several)
    offered = _offered_together(segment, target) or [answer]  # a hedge earns credit only if every box is right
    correct = _all_right([_verdict(a, target, symbolic) for a in offered])
    if correct is None:
        return None
    found = correct
    if anywhere and not correct:
        found = _any_right([_verdict(c, target, symbolic) for c in _anywhere_candidates(text, segment)])
        if found is None:
            return None
    return Grade(answer, correct, boxed, correct and boxed, found if anywhere else None)


def grade(completion: Any, gold: str | None, anywhere: bool = True) -> Grade:
    """Grade one completion against the gold answer (a bare answer such as `\\frac{14}{3}` or `72`, or a reference
    solution with a boxed answer).

    Rules, in order:
    - The answer is read from the text after `</think>` (see `r1lite.grading.answer_extraction`): the last `\\boxed{}`, else
      the last `<answer>` tag, else the last "the answer is X", else the last `#### X`.
    - One gold value: the last box wins, but several different boxes offered together (`\\boxed{3} or
      \\boxed{4}`) are a hedge and earn credit only if every one of them is right (`\\boxed{\\frac52}` or
      `\\boxed{2.5}`). A list or set gold (`1, -2`, `\\{1,2,3\\}`): the boxes of the final answer together are the
      answer, compared as a set.
    - Numbers compare exactly (`1.5 \\times 10^{-3}` and `1.5e-3` are numbers). A decimal answer to an exact gold
      (integer, fraction, radical, pi) is right only when exact or written to at least 6 places (0.33 is not 1/3,
      99.6 is not 100); a gold written as a decimal sets the precision itself (70/9 and \\sqrt{2} are 7.78 and 1.41).
    - Multiple-choice letters and text answers (`\\text{Evelyn}`) compare as text, never as products of symbols; a
      hedge between letters (`C or D`) earns nothing. Numerals with a base subscript need the same digits and base
      (`4210_6` is not `4210_5`; `1011` counts for `1011_2`).
    - Everything else is math-verify's comparison of the parsed forms (equations, intervals, sets, matrices);
      inequalities joined by "or" (`x<-2 \\text{ or } x>3`) are the union of their intervals.
    - A gold that is prose (`forty two`), empty or unparseable gives correct=None: rewards skip it, eval excludes
      and counts it.
    anywhere=False skips correct_anywhere (None), which rewards do not need: it checks every answer-like span."""
    graded = _grade(completion, gold, anywhere, symbolic=True)
    assert graded is not None  # symbolic grading always decides
    return graded


def grade_quick(completion: Any, gold: str | None, anywhere: bool = True) -> Grade | None:
    """`grade` without math-verify: the same Grade when numbers, letters or text decide it, else None (send it to
    the scorer's workers)."""
    if gold is None or len(completion_text(completion)) > 20_000:
        return None
    return _grade(completion, gold, anywhere, symbolic=False)