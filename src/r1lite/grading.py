"""Answer extraction and equivalence: is this completion's final answer the gold answer?

Pure Python (no torch). `grade` may call math-verify, which can take unbounded time on pathological input; call it
through `r1lite.scoring` (process pool, hard deadline) from training and eval code. math-verify's own timeouts use
SIGALRM, which only works on the main thread, so they are switched off here and the deadline is enforced by the
scorer instead.

Extraction cascade, on the text after the last `</think>` when there is one:
last `\\boxed{}`/`\\fbox{}` > last `<answer>...</answer>` > last "the (final) answer is X" > last `#### X`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

THINK_END = "</think>"
BOXED_MARKERS = ("\\boxed", "\\fbox")
MAX_ANSWER_CHARS = 400  # longer "answers" are prose, not answers
MAX_BRACED_CHARS = 2000  # an unclosed \\boxed{ scans at most this far (keeps extraction linear)
MAX_MARKERS = 16  # boxed values read from the end of a text: the answer is the last one

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*([^\n]{1,200})", re.IGNORECASE)
_HASHES = re.compile(r"####\s*([^\n]{1,200})")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox|textrm)\s*\{([^{}]*)\}")
_UNIT_WORDS = re.compile(
    r"\s*(?:dollars?|cents?|units?|degrees?|square|sq|cubic|cm|mm|km|m|meters?|inches?|inch|feet|foot|ft|miles?|"
    r"hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|years?|pounds?|lbs?|kg|grams?|g|mph|percent|"
    r"people|students|apples|cookies|points?)\b\.?",
    re.IGNORECASE)
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$|^(-?)\\[dt]?frac(\d)(\d)$")
_LEADING_VAR = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=[^=])")


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


def completion_text(completion: Any) -> str:
    """A TRL completion (plain string or chat messages) as text."""
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    return "" if completion is None else str(completion)


def final_segment(text: str) -> str:
    """The text after the last </think>; all of it when there is no think block; nothing when a <think> is still
    open (a completion cut off mid-reasoning has not answered yet, whatever numbers its thoughts contain)."""
    cut = text.rfind(THINK_END)
    if text.rfind("<think>") > cut:
        return ""
    return text[cut + len(THINK_END):] if cut >= 0 else text


def _braced(text: str, open_at: int) -> str | None:
    """Contents of the brace group starting at text[open_at] == '{' (brace-matched), else None."""
    depth = 0
    for i in range(open_at, min(len(text), open_at + MAX_BRACED_CHARS)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return None


def boxed_values(text: str) -> list[str]:
    """Every \\boxed{...} / \\fbox{...} (and `\\boxed 5`) value in order of appearance."""
    values = []
    for marker in BOXED_MARKERS:
        start = max(0, _nth_last(text, marker, MAX_MARKERS))  # only the last few matter; keeps garbage linear
        while (at := text.find(marker, start)) >= 0:
            start = at + len(marker)
            rest = start
            while rest < len(text) and text[rest] == " ":
                rest += 1
            if rest < len(text) and text[rest] == "{":
                inner = _braced(text, rest)
                if inner is not None:
                    values.append((at, inner))
            elif rest > start and rest < len(text):  # "\boxed 5"
                token = re.match(r"[^\s$]+", text[rest:])
                if token:
                    values.append((at, token.group(0)))
    return [v for _, v in sorted(values)]


def _nth_last(text: str, marker: str, n: int) -> int:
    at = len(text)
    for _ in range(n):
        at = text.rfind(marker, 0, at)
        if at < 0:
            return 0
    return at


def _candidates(segment: str) -> list[tuple[str, str]]:
    """(kind, answer) for every answer-like span, in cascade order (most trusted first, last occurrence first)."""
    found = [("boxed", v) for v in reversed(boxed_values(segment))]
    found += [("tag", m.group(1)) for m in reversed(list(_ANSWER_TAG.finditer(segment)))]
    found += [("answer_is", m.group(1)) for m in reversed(list(_ANSWER_IS.finditer(segment)))]
    found += [("hashes", m.group(1)) for m in reversed(list(_HASHES.finditer(segment)))]
    return [(k, v.strip()) for k, v in found if v.strip() and len(v.strip()) <= MAX_ANSWER_CHARS]


def extract_answer(text: str) -> str | None:
    """The final answer of a completion or a reference solution, or None when it states none."""
    return _answer_in(final_segment(text))


def _answer_in(segment: str) -> str | None:
    found = _candidates(segment)
    if not found:
        return None
    kind, value = found[0]
    if kind in ("answer_is", "hashes"):  # free text: keep the math, drop the trailing prose
        value = re.split(r"(?<=[\d}$])\s*[.;](?:\s|$)|\s+(?:because|since|which|so)\b", value)[0]
        value = value.rstrip(". ")
        inner = boxed_values(value)
        value = inner[-1] if inner else value
    return value.strip() or None


def normalize(answer: str) -> str:
    """A canonical string: no $ delimiters, \\left/\\right, spacing commands, units, %, degrees or thousands commas."""
    s = answer.strip()
    s = s.strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2].strip()
    inner = boxed_values(s)
    if len(inner) == 1 and s.startswith(BOXED_MARKERS):
        s = inner[0]
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""),
                     ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("^\\circ", ""), ("^{\\circ}", ""), ("°", ""),
                     ("\\%", ""), ("%", ""), ("\\$", ""), ("$", ""), ("\\displaystyle", ""), ("\\ ", " ")):
        s = s.replace(old, new)
    s = _TEXT_CMD.sub(lambda m: "" if _UNIT_WORDS.fullmatch(m.group(1).strip()) else m.group(1), s)
    s = _LEADING_VAR.sub("", s.strip())
    number = re.match(r"^(-?[\d,.]+)\s*(.*)$", s)
    if number and number.group(2) and _UNIT_WORDS.fullmatch(" " + number.group(2)):
        s = number.group(1)  # "18 dollars", "5 cm"
    s = s.strip().rstrip(".").strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return re.sub(r"\s+", "", s)


def as_number(answer: str) -> Fraction | None:
    """The exact value of a plain number, decimal or simple fraction (`3`, `-2.5`, `\\frac{1}{2}`, `3/4`)."""
    s = normalize(answer)
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?|-?\.\d+", s):
            return Fraction(s)
        if m := re.fullmatch(r"(-?\d+)/(\d+)", s):
            return Fraction(int(m.group(1)), int(m.group(2))) if int(m.group(2)) else None
        if m := _FRAC.fullmatch(s):
            sign, num, den = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5),
                                                                                       m.group(6))
            value = Fraction(int(num), int(den)) if int(den) else None
            return -value if value is not None and sign else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def fast_equivalent(answer: str, gold: str) -> bool | None:
    """Decide cheaply when both sides are plain numbers or identical after normalisation; None = undecided."""
    a, g = normalize(answer), normalize(gold)
    if a == g and a:
        return True
    na, ng = as_number(a), as_number(g)
    if na is None or ng is None:
        return None
    # exact arithmetic (float() overflows on a 5000-digit "answer"); a decimal on one side only is compared at its
    # own precision, so 0.33 matches 1/3 but 1000001 never matches 1000000
    places = [len(x.split(".")[1]) if "." in x else None for x in (a, g)]
    if (places[0] is None) == (places[1] is None):
        return na == ng
    digits = places[0] if places[0] is not None else places[1]
    exact, decimal = (ng, na) if places[0] is not None else (na, ng)
    return abs(exact - decimal) <= Fraction(1, 2 * 10**digits)


# answers sympy would spend minutes on (a^{b^{c}}, 10^5-digit literals, 5000!): never the right answer to a
# benchmark problem, so they are graded wrong at once instead of burning a worker's deadline
_EXPLOSIVE = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\d+\s*\^|\d{80,}|\d{4,}\s*!")


def explosive(answer: str) -> bool:
    return bool(_EXPLOSIVE.search(answer))


def _mv_parse(answer: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns on every call that its timeout is off

    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    return parse("\\boxed{" + normalize(answer) + "}", extraction_config=configs, parsing_timeout=None)


def gold_parses(gold: str | None) -> bool:
    if gold is None or not str(gold).strip():
        return False
    return as_number(str(gold)) is not None or bool(_mv_parse(str(gold)))


def is_equivalent(answer: str | None, gold: str) -> bool:
    """True when `answer` equals `gold` mathematically (numbers exactly, else math-verify's symbolic check)."""
    if answer is None:
        return False
    decided = fast_equivalent(answer, gold)
    if decided is not None:
        return decided
    if explosive(answer):
        return False
    from math_verify import verify

    parsed_gold, parsed_answer = _mv_parse(gold), _mv_parse(answer)
    if not parsed_gold or not parsed_answer:
        return False
    return bool(verify(parsed_gold, parsed_answer, timeout_seconds=None))


def _last_number(segment: str) -> str | None:
    numbers = _NUMBER.findall(segment[-2000:])
    return numbers[-1].rstrip(".") if numbers else None


def _anywhere_candidates(text: str, segment: str) -> list[str]:
    """Every answer-like span of the whole completion, and the last number of its final segment, deduplicated."""
    found = [v for _, v in _candidates(text)]
    if (number := _last_number(segment)) is not None:
        found.append(number)
    return list(dict.fromkeys(found))


def grade(completion: Any, gold: str | None, anywhere: bool = True) -> Grade:
    """Grade one completion against the gold answer (a bare answer such as `\\frac{14}{3}` or `72`).
    anywhere=False skips correct_anywhere (None), which rewards do not need: it checks every answer-like span."""
    text = completion_text(completion)
    segment = final_segment(text)
    answer, boxed = _answer_in(segment), bool(boxed_values(segment))
    if gold is None or not gold_parses(str(gold)):
        return Grade(answer, None, boxed)
    gold = str(gold)
    correct = is_equivalent(answer, gold)
    if not anywhere:
        return Grade(answer, correct, boxed, correct and boxed, None)
    found = correct or any(is_equivalent(c, gold) for c in _anywhere_candidates(text, segment))
    return Grade(answer, correct, boxed, correct and boxed, found)


def grade_quick(completion: Any, gold: str | None, anywhere: bool = True) -> Grade | None:
    """`grade` without math-verify: a Grade when numbers/strings decide it, else None (send it to the scorer)."""
    text = completion_text(completion)
    if len(text) > 20_000 or gold is None:
        return None
    gold = str(gold)
    if as_number(gold) is None:
        return None
    segment = final_segment(text)
    answer, boxed = _answer_in(segment), bool(boxed_values(segment))
    correct = fast_equivalent(answer, gold) if answer is not None else False
    if correct is None:
        return None
    if not anywhere:
        return Grade(answer, correct, boxed, correct and boxed, None)
    found = correct
    if not correct:
        verdicts = [fast_equivalent(c, gold) for c in _anywhere_candidates(text, segment)]
        if any(verdicts):
            found = True
        elif any(v is None for v in verdicts):
            return None
    return Grade(answer, correct, boxed, correct and boxed, found)
