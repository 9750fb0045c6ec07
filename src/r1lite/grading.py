"""Is this completion's final answer the gold answer? One grader for the GRPO accuracy reward and for `r1lite eval`.

Pure Python (no torch). `grade` may call math-verify, which can take unbounded time on pathological input; call it
through `r1lite.scoring` (process pool, hard deadline) from training and eval code. math-verify's own timeouts use
SIGALRM, which only works on the main thread, so they are switched off here and the deadline is enforced by the
scorer instead.

Where the answer is: see `r1lite.answer_extraction`. How it is compared: see `grade`.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from r1lite.answer_extraction import (
    BOXED_MARKERS,
    answer_in,
    boxed_values,
    candidates,
    completion_text,
    extract_answer,
    final_boxes,
    final_segment,
    last_number,
)

__all__ = ["Grade", "as_number", "boxed_values", "completion_text", "extract_answer", "final_segment", "grade",
           "grade_quick", "is_equivalent", "normalize", "read_gold"]

EXACT_PLACES = 6  # a decimal answer to an exact gold needs this many places (math-verify's float_rounding)

_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_UNIT = (r"(?:dollars?|cents?|units?|degrees?|square|sq|cubic|cm|mm|km|m|meters?|inches?|inch|feet|foot|ft|miles?|"
         r"hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|years?|pounds?|lbs?|kg|grams?|g|mph|percent|"
         r"percentage|pct|people|students|apples|cookies|points?)")
# one or more unit words, each maybe squared or cubed: " cm", " square inches", " cm^2"
_UNIT_WORDS = re.compile(rf"(?:\s*{_UNIT}(?:\^\{{?[23]\}}?|[²³])?(?![A-Za-z]))+\.?", re.IGNORECASE)
# a text command and the power written after it: \mbox{ cm}^2
_TEXT_CMD_POWER = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mbox)\s*\{([^{}]*)\}(?:\s*\^\s*\{?[23]\}?)?")
# what models write in Unicode instead of LaTeX: √2, ∞, ½, 3×4
_UNICODE_SQRT = re.compile(r"√\s*(\d+|[A-Za-z]|\{[^{}]*\}|\([^()]*\))")
_UNICODE_MATH = {"∞": "\\infty ", "π": "\\pi ", "½": "\\frac{1}{2}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}",
                 "×": "\\times ", "·": "\\cdot ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "−": "-"}
_DEGREE_O = re.compile(r"(?<=\d)\^\{?o\}?(?![A-Za-z])")  # 30^o
_PERCENT_WORD = re.compile(r"(\d)\s*(?:percent(?:age)?|pct)\b", re.IGNORECASE)
_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")
_MIXED = re.compile(r"([+-]?)(\d+)(?: (\d+)/(\d+)|\\frac\{(\d+)\}\{(\d+)\})")
_REPEATING = re.compile(r"[+-]?(\d*)\.(\d*)\\overline\{(\d+)\}")
_DECIMAL_COMMA = re.compile(r"-?(?:0,\d+|\d+,\d\d|\d{4,},\d+)")  # 0,111  1,22  1000,99: a decimal comma
_SCIENTIFIC = re.compile(r"([+-]?\d+(?:\.\d+)?)(?:\\times|\\cdot)10\^\{?([+-]?\d{1,3})\}?")
# 1011_2, 52_{8}, (52)_8, \text{52}_8, 52_{(8)}, 52_{\text{eight}}: a numeral and its base
_BASE_NUMERAL = re.compile(r"\(?(?:\\text\{)?([0-9A-Fa-f]+)\}?\)?_\{?\(?(\d+|\\text\{[a-z]+\}|[a-z]+)\)?\}?")
_BASE_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
               "eleven": 11, "twelve": 12, "sixteen": 16}
_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$|^(-?)\\frac(\d)(\d)$")
_LEADING_VAR = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=[^=<>]*$)")
_CHOICE = re.compile(r"^\(?([A-E])\)?(?:[.:]?\s.*)?$", re.DOTALL)
_CHOICE_GOLD = re.compile(r"\(?([A-E])\)?(?:[.:]?\s+[A-Z][a-z]+\b.*)?", re.DOTALL)  # C, (C), (D) Alina
_OTHER_CHOICE = re.compile(r"(?:\bor\b|\band\b|[,/&])\s*\(?[A-Ea-e]\)?(?![A-Za-z])")  # "C or D", "(C)/(D)": a hedge
_CHOICE_LABEL = re.compile(r"^\s*\([A-Ea-e]\)\s*")  # "(B) ellipse": an option named by letter and text
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
# normal forms


def clean(answer: str) -> str:
    """The answer without what never changes its value: $ delimiters, one enclosing \\boxed, \\left/\\right, thin
    spaces, units, degree signs, trailing periods, thousands commas. Spacing and \\\\ row breaks are kept."""
    s = answer.strip().strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2].strip()
    inner = boxed_values(s)
    if len(inner) == 1 and s.startswith(BOXED_MARKERS) and s.rstrip(" .$").endswith("}"):
        s = inner[0]
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3})", ",", s)  # 11,\! 111,\! 100 is one number
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""),
                     ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"), ("^\\circ", ""),
                     ("^{\\circ}", ""), ("°", ""), ("\\$", ""), ("$", ""), ("\\displaystyle", ""), ("{,}", ","), ("€", ""),
                     ("£", ""), ("**", "^"), ("\\varnothing", "\\emptyset"), ("~", " "), ("\\langle", "("),
                     ("\\rangle", ")")):
        s = s.replace(old, new)
    s = _UNICODE_SQRT.sub(lambda m: "\\sqrt{" + m.group(1).strip("{}") + "}", s)
    for old, new in _UNICODE_MATH.items():
        s = s.replace(old, new)
    s = _DEGREE_O.sub("", s)
    s = re.sub(r"(?<!\\)\\ ", " ", s)  # "\ " is a space; "\\ " (a row break then a space) is not
    s = _PERCENT_WORD.sub(r"\1\\%", s)
    s = _TEXT_CMD_POWER.sub(_without_unit, s)
    number = re.match(r"^(-?[\d,.]+(?:\\%)?)\s*(.*)$", s)
    if number and number.group(2) and _UNIT_WORDS.fullmatch(" " + number.group(2)):
        s = number.group(1)  # "18 dollars", "5 cm"
    s = s.strip().rstrip(".").strip()
    return s.replace(",", "") if _THOUSANDS.match(s) else s


def _without_unit(text_cmd: re.Match) -> str:
    """A text command holding only units (`\\text{ cm}^2`) as nothing, one holding a number and units
    (`\\mbox{15 cm}^2`) as the number; any other text as written."""
    inside = text_cmd.group(1)
    if _UNIT_WORDS.fullmatch(inside):
        return ""
    number = re.fullmatch(r"\s*(-?[\d,.]*\d)(.+)", inside)
    if number and _UNIT_WORDS.fullmatch(number.group(2)):
        return number.group(1)
    return text_cmd.group(0)


def normalize(answer: str) -> str:
    """A canonical string for exact comparison and answer keys: `clean` without any whitespace."""
    return re.sub(r"\s+", "", clean(answer))


def _bare_text(answer: str) -> str:
    """The answer cleaned and without text commands around its words (`\\text{(B) ellipse}` -> `(B) ellipse`)."""
    s = clean(answer)
    while (stripped := _TEXT_CMD.sub(lambda m: m.group(1), s)) != s:
        s = stripped
    return s


def _text_key(answer: str) -> str:
    """Words as words: no text commands, case, punctuation or extra spaces (`\\text{Evelyn}` -> `evelyn`)."""
    return " ".join(re.sub(r"[^\w\s]", " ", _bare_text(answer)).lower().split())


def _choice(answer: str) -> str | None:
    """The letter of a multiple-choice answer: `C`, `(c)`, `\\text{(C)}`, `C. 12` -> "C"; None for a hedge between
    letters (`C or D`)."""
    s = _bare_text(answer)
    if _OTHER_CHOICE.search(s):
        return None
    m = _CHOICE.match(s.strip()) or re.fullmatch(r"\(?([a-e])\)?", s.strip())  # (c) alone is a letter too
    return m.group(1).upper() if m else None


def as_number(answer: str) -> Fraction | None:
    """The exact value of a plain number (`3`, `-2.5`, `1,000`, `\\frac{1}{2}`, `3/4`, `4 4/9`, `0.\\overline{3}`,
    `x = 5`, `28\\%` as 28), else None."""
    s = clean(answer).replace("\\%", "").replace("%", "")
    if re.search(r",\s", s):  # "32, 349" is a list, not 32349
        return None
    s = _LEADING_VAR.sub("", re.sub(r"(?<=\d) (?=\d{3}\b)", "", s).strip())  # "1 000"
    s = re.sub(r"(?<=\d) +(?=\d+/\d)", "&", s)  # the space of a mixed number 4 4/9 means plus
    s = re.sub(r"\s+", "", s).replace("&", " ")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(s):
        s = s.replace(",", ".")
    try:
        return _numeral(s)
    except (ValueError, ZeroDivisionError):
        return None


def _numeral(s: str) -> Fraction | None:
    """The value of a numeral without spaces or separators; ZeroDivisionError for a zero denominator."""
    if m := _MIXED.fullmatch(s):  # 4 4/9, 6\frac{1}{4}: a whole number and a proper fraction
        whole, num, den = int(m.group(2)), int(m.group(3) or m.group(5)), int(m.group(4) or m.group(6))
        value = whole + Fraction(num, den) if 0 <= num < den else None
        return -value if value is not None and m.group(1) == "-" else value
    if m := _REPEATING.fullmatch(s):  # 0.1\overline{6} = 1/6
        start, period = m.group(2), m.group(3)
        value = int(m.group(1) or 0) + Fraction(int(start or 0), 10 ** len(start)) + Fraction(
            int(period), 10 ** len(start) * (10 ** len(period) - 1))
        return -value if s.startswith("-") else value
    if re.fullmatch(r"[+-]?(?:\d+(\.\d+)?|\.\d+)(?:[eE][+-]?\d{1,3})?", s):  # 1.5e-3 is scientific notation
        return Fraction(s)
    if m := _SCIENTIFIC.fullmatch(s):  # 6.72\times10^{-5}: exact, like the decimal it stands for
        return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
    if m := re.fullmatch(r"(-?\d+)/(\d+)", s):
        return Fraction(int(m.group(1)), int(m.group(2)))
    if m := _FRAC.fullmatch(s):
        sign, num, den = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5), m.group(6))
        return Fraction(int(num), int(den)) * (-1 if sign else 1)
    return None


def _places(answer: str) -> int | None:
    """Decimal places a number is written with; None for an exact number (integer or fraction)."""
    s = re.sub(r"\s+", "", clean(answer))
    m = re.search(r"\.(\d+)\D*$", s)
    return len(m.group(1)) if m and "frac" not in s and "/" not in s else None


def _has_percent(answer: str) -> bool:
    return "%" in clean(answer)


def _base_numeral(answer: str) -> tuple[str, int] | None:
    """(digits, base) of a numeral written with a base subscript (`52_8`); None when it has none."""
    m = _BASE_NUMERAL.fullmatch(normalize(answer))
    if not m or not re.search(r"\d", m.group(1)):  # a_n, x_1 are names, not numerals
        return None
    base = m.group(2).removeprefix("\\text{").rstrip("}")
    if not base.isdigit() and base not in _BASE_WORDS:
        return None
    return m.group(1).upper(), int(base) if base.isdigit() else _BASE_WORDS[base]


def base_numerals_equal(answer: str, gold: str) -> bool | None:
    """Compare numerals when either carries a base subscript: the same digits in the same base (`4210_6` is not
    `4210_5`); a numeral with the subscript left off (`1011` for `1011_2`) counts. None when neither has one."""
    a, g = _base_numeral(answer), _base_numeral(gold)
    if a is None and g is None:
        return None
    if a is not None and g is not None:
        return a == g
    digits = normalize(answer if g is not None else gold).upper()
    return digits == (g or a)[0]


def numbers_equal(answer: str, gold: str) -> bool | None:
    """Compare two plain numbers exactly; None when either is not one.

    A decimal answer to an exact gold (integer, fraction) is right only when it is exact or written to at least
    EXACT_PLACES places (0.33 is not 1/3, 99.6 is not 100); a gold written as a decimal sets the precision itself
    (70/9 is 7.78)."""
    na, ng = as_number(answer), as_number(gold)
    if na is None or ng is None:
        return None
    if na == ng:
        return True
    if _has_percent(answer) != _has_percent(gold):  # 28% is 28 and 0.28, nothing else
        return na / 100 == ng if _has_percent(answer) else na == ng / 100
    pa, pg = _places(answer), _places(gold)
    if pg is not None:
        return pa is None and abs(na - ng) <= Fraction(1, 2 * 10**pg)
    return pa is not None and pa >= EXACT_PLACES and abs(na - ng) < Fraction(1, 10**EXACT_PLACES)


def explosive(answer: str) -> bool:
    return bool(_EXPLOSIVE.search(answer))


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
    bare = _TEXT_CMD.sub(lambda m: m.group(1), s).strip()
    if letter := _CHOICE_GOLD.fullmatch(bare):  # "C", "(C)", "\text{(C)}", "(D) Alina"
        return Gold(letter.group(1), "choice")
    written_as_text = bool(_TEXT_CMD.fullmatch(s) and re.search(r"[A-Za-z]", bare))
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
        if op1 in _LESS and op2 in _LESS:
            return _interval(low, op1 != "<", high, op2 != "<")
        if op1 in _GREATER and op2 in _GREATER:
            return _interval(high, op2 != ">", low, op1 != ">")
        return None
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
    if gold.kind == "choice":
        return _choice(answer) == gold.text
    if gold.kind == "text":
        return _text_key(gold.text) in (_text_key(answer), _text_key(_CHOICE_LABEL.sub("", _bare_text(answer))))
    if normalize(answer) == normalize(gold.text):
        return True
    decided = base_numerals_equal(answer, gold.text)
    if decided is None:
        decided = numbers_equal(answer, gold.text)
    if decided is not None:
        return decided
    if not symbolic:
        return None
    if explosive(answer):
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

    places, value = _places(gold), as_number(gold)
    if places is None or value is None or _has_percent(gold) or not parsed_answer:
        return False
    answer = parsed_answer[0]
    if not isinstance(answer, sympy.Expr) or answer.free_symbols:
        return False
    error = sympy.Abs(answer - sympy.Rational(value.numerator, value.denominator)).evalf(30)
    return bool(error.is_real and error <= sympy.Rational(1, 2 * 10**places))


def is_equivalent(answer: str | None, gold: str) -> bool:
    """True when `answer` equals `gold` (see `grade` for the rules); False also when the gold cannot be read."""
    target = read_gold(gold)
    return target is not None and bool(_verdict(answer, target))


def _offered_together(segment: str, gold: Gold) -> list[str]:
    """The boxes of the final answer when they offer different values (`\\boxed{3} or \\boxed{4}`) for a single-valued
    gold, else []."""
    boxes = [] if gold.several else final_boxes(segment)
    return boxes if len({normalize(b) for b in boxes}) > 1 else []


def _all_right(answers: list[str], gold: Gold, symbolic: bool) -> bool | None:
    """Every one of several answers equals the gold (`\\boxed{\\frac52} or \\boxed{2.5}`); one wrong makes a hedge."""
    verdicts = [_verdict(a, gold, symbolic) for a in answers]
    return False if False in verdicts else None if None in verdicts else True


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
    together = _offered_together(segment, target)
    correct = _all_right(together, target, symbolic) if together else _verdict(answer, target, symbolic)
    if correct is None:
        return None
    if not anywhere:
        return Grade(answer, correct, boxed, correct and boxed, None)
    found: bool | None = correct
    if not correct:
        verdicts = [_verdict(c, target, symbolic) for c in _anywhere_candidates(text, segment)]
        found = True if any(verdicts) else None if None in verdicts else False
    if found is None:
        return None
    return Grade(answer, correct, boxed, correct and boxed, found)


def grade(completion: Any, gold: str | None, anywhere: bool = True) -> Grade:
    """Grade one completion against the gold answer (a bare answer such as `\\frac{14}{3}` or `72`, or a reference
    solution with a boxed answer).

    Rules, in order:
    - The answer is read from the text after `</think>` (see `r1lite.answer_extraction`): the last `\\boxed{}`, else
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
