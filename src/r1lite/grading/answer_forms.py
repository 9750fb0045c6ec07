"""What an answer string is worth, read without math-verify: its normal form, its exact value, its letter or words.

One answer string flows top to bottom: `clean` drops what never changes the value ($, one \\boxed, units, degree
signs, thousands commas) -> `normalize` (no whitespace: exact comparison, answer keys) -> `as_number` (the exact
Fraction of a plain number) -> the comparisons `numbers_equal` (a decimal against an exact gold needs EXACT_PLACES
places) and `base_numerals_equal` (52_8) -> `plain_verdict`, which also compares multiple-choice letters and words
and says None when only math-verify can tell. Pure Python and fast: `r1lite.grading.grading` tries it before math-verify.
"""

from __future__ import annotations

import re
from fractions import Fraction

from r1lite.grading.answer_extraction import BOXED_MARKERS, boxed_values

EXACT_PLACES = 6  # a decimal answer to an exact gold needs this many places (math-verify's float_rounding)

TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_UNIT = (r"(?:dollars?|cents?|units?|degrees?|square|sq|cubic|cm|mm|km|m|meters?|inches?|inch|feet|foot|ft|miles?|"
         r"hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|years?|pounds?|lbs?|kg|grams?|g|mph|percent|"
         r"percentage|pct|people|students|apples|cookies|points?)")
# one or more unit words, each maybe squared or cubed: " cm", " square inches", " cm^2"
_UNIT_WORDS = re.compile(rf"(?:\s*{_UNIT}(?:\^\{{?[23]\}}?|[²³])?(?![A-Za-z]))+\.?", re.IGNORECASE)
# a text command and the power written after it: \mbox{ cm}^2
_TEXT_CMD_POWER = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mbox)\s*\{([^{}]*)\}"
                             r"(?:\s*\^\s*\{?[23]\}?)?")
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
_OTHER_CHOICE = re.compile(r"(?:\bor\b|\band\b|[,/&])\s*\(?[A-Ea-e]\)?(?![A-Za-z])")  # "C or D", "(C)/(D)": a hedge
_CHOICE_LABEL = re.compile(r"^\s*\([A-Ea-e]\)\s*")  # "(B) ellipse": an option named by letter and text


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
                     ("^{\\circ}", ""), ("°", ""), ("\\$", ""), ("$", ""), ("\\displaystyle", ""), ("{,}", ","),
                     ("€", ""), ("£", ""), ("**", "^"), ("\\varnothing", "\\emptyset"), ("~", " "), ("\\langle", "("),
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


def decimal_places(answer: str) -> int | None:
    """Decimal places a number is written with; None for an exact number (integer or fraction)."""
    s = re.sub(r"\s+", "", clean(answer))
    m = re.search(r"\.(\d+)\D*$", s)
    return len(m.group(1)) if m and "frac" not in s and "/" not in s else None


def has_percent(answer: str) -> bool:
    return "%" in clean(answer)


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
    if has_percent(answer) != has_percent(gold):  # 28% is 28 and 0.28, nothing else
        return na / 100 == ng if has_percent(answer) else na == ng / 100
    pa, pg = decimal_places(answer), decimal_places(gold)
    if pg is not None:
        return pa is None and abs(na - ng) <= Fraction(1, 2 * 10**pg)
    return pa is not None and pa >= EXACT_PLACES and abs(na - ng) < Fraction(1, 10**EXACT_PLACES)


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


def _bare_text(answer: str) -> str:
    """The answer cleaned and without text commands around its words (`\\text{(B) ellipse}` -> `(B) ellipse`)."""
    s = clean(answer)
    while (stripped := TEXT_COMMAND.sub(lambda m: m.group(1), s)) != s:
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


def plain_verdict(answer: str, gold: str, kind: str) -> bool | None:
    """Does `answer` equal `gold`, a gold of this kind (see grading.Gold), by its letter, its words, its normal form
    or its exact value? None when only math-verify can tell."""
    if kind == "choice":
        return _choice(answer) == gold
    if kind == "text":
        return _text_key(gold) in (_text_key(answer), _text_key(_CHOICE_LABEL.sub("", _bare_text(answer))))
    if normalize(answer) == normalize(gold):
        return True
    decided = base_numerals_equal(answer, gold)
    return numbers_equal(answer, gold) if decided is None else decided
