"""Where a completion states its final answer: the text after </think>, then boxes, answer tags, "the answer is", ####.

Pure string work, linear in the input (no regex backtracking on model output, bounded scans), so it runs in-process
before anything slow. `r1lite.grading.grading` decides whether what is found here equals the gold.
"""

from __future__ import annotations

import re
from typing import Any

THINK_END = "</think>"
BOXED_MARKERS = ("\\boxed", "\\fbox")
MAX_ANSWER_CHARS = 400  # longer "answers" are prose, not answers
MAX_BRACED_CHARS = 2000  # an unclosed \\boxed{ scans at most this far (keeps extraction linear)
MAX_MARKERS = 16  # boxed values read from the end of a text: the answer is the last one

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
# "the answer is X" / "Answer: X", also as lighteval's multilingual prompts write it ("La réponse est X", "答案是X")
_ANSWER_IS = re.compile(r"(?:answer|r[ée]ponse|respuesta|resposta|risposta|antwort|ответ|答案)\s*"
                        r"(?:(?:ist|is|est|es|é|è)\b|是|为|:|：)\s*[:：]?\s*([^\n]{1,200})", re.IGNORECASE)
_HASHES = re.compile(r"####\s*([^\n]{1,200})")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# what may stand between the boxes of one final answer: "\boxed{1}, \boxed{2} and \boxed{3}"
_BOX_JOINER = re.compile(r"(?:\s|[,;&$.]|\\quad|\\qquad|\\[,;:!]|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b|\\\\|"
                         r"\\\]|\\\[|\\\(|\\\))*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=\S)\s*[.;](?:\s|$)|\s+(?:because|since|which|so|I hope)\b")
# one math span and then only words, not a second answer ("$3$ or $4$") or more numbers
_MATH_THEN_WORDS = re.compile(r"\$([^$]+)\$\s+(?!(?:or|and)\b)[A-Za-z][A-Za-z ,'-]*", re.IGNORECASE)
_PROSE_START = re.compile(r"^(?:\*\*)?[A-Za-z][a-z]+\s")  # "The largest $n$ is 34", not "x = 5" or "\frac..."


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


def _braced(text: str, open_at: int) -> tuple[str, int] | None:
    """(contents, index after the closing brace) of the group starting at text[open_at] == '{', else None."""
    depth = 0
    for i in range(open_at, min(len(text), open_at + MAX_BRACED_CHARS)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
    return None


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, value) of every \\boxed{...} / \\fbox{...} (and `\\boxed 5`), in order of appearance."""
    spans = []
    for marker in BOXED_MARKERS:
        start = len(text.rsplit(marker, MAX_MARKERS)[0])  # the last few markers: keeps garbage linear
        while (at := text.find(marker, start)) >= 0:
            start = at + len(marker)
            rest = start
            while rest < len(text) and text[rest] == " ":
                rest += 1
            if rest < len(text) and text[rest] == "{":
                found = _braced(text, rest)
                if found is not None:
                    spans.append((at, found[1], found[0]))
            elif start < rest < len(text):  # "\boxed 5"
                token = re.match(r"[^\s$]+", text[rest:])
                if token:
                    spans.append((at, rest + token.end(), token.group(0)))
    return sorted(spans)


def boxed_values(text: str) -> list[str]:
    """Every boxed value in order of appearance."""
    return [value for _, _, value in boxed_spans(text)]


def final_boxes(text: str) -> list[str]:
    """The boxes that together state the final answer: the last box and those just before it that only commas,
    "and", "or", \\quad or math delimiters separate from it (`\\boxed{1}, \\boxed{2}`). Boxes with prose between them
    are separate attempts; only the last one counts."""
    spans = boxed_spans(text)
    group: list[str] = []
    for i in range(len(spans) - 1, -1, -1):
        if group and not _BOX_JOINER.fullmatch(text[spans[i][1]:spans[i + 1][0]]):
            break
        group.append(spans[i][2].strip())
    return [v for v in reversed(group) if v]


def _stated(value: str) -> str:
    """The answer inside a free-text statement: "The final answer is $100$. I hope it is correct." -> "$100$"."""
    while (inner := _ANSWER_IS.search(value)) is not None:  # "Final Answer: The final answer is X": the last one
        value = inner.group(1)
    value = value.strip().strip("*").strip()  # **Answer:** 7, **Answer: 7**
    value = _SENTENCE_END.split(value)[0].strip().rstrip(".,:;*").strip()  # "7, since ..." is 7
    if boxes := final_boxes(value):
        return ", ".join(boxes)
    if math_then_words := _MATH_THEN_WORDS.fullmatch(value):  # "$\frac{3}{4}$ of the pie"
        return math_then_words.group(1)
    if _PROSE_START.match(value):  # "The largest $n$ is 34": what the sentence says it is
        math = re.findall(r"\$([^$]+)\$", value)
        tail = re.split(r"\s(?:is|are|equals|=)\s", value)
        if len(tail) > 1:
            return tail[-1].strip()
        if math:
            return math[-1].strip()
        numbers = _NUMBER.findall(value)
        return numbers[-1] if numbers else value
    return value


def candidates(segment: str) -> list[tuple[str, str]]:
    """(kind, answer) for every answer-like span, in cascade order (most trusted first, last occurrence first)."""
    found = [("boxed", v) for v in reversed(boxed_values(segment))]
    found += [("tag", m.group(1)) for m in reversed(list(_ANSWER_TAG.finditer(segment)))]
    found += [("answer_is", m.group(1)) for m in reversed(list(_ANSWER_IS.finditer(segment)))]
    found += [("hashes", m.group(1)) for m in reversed(list(_HASHES.finditer(segment)))]
    return [(k, v.strip()) for k, v in found if v.strip() and len(v.strip()) <= MAX_ANSWER_CHARS]


def answer_in(segment: str, several: bool = False) -> str | None:
    """The final answer stated in `segment`, or None. several=True (the gold is a list or set): the boxes of the final
    answer together, joined by commas; else the last box alone."""
    if several and len(boxes := final_boxes(segment)) > 1:
        joined = ", ".join(boxes)
        return joined if len(joined) <= MAX_ANSWER_CHARS else None
    found = candidates(segment)
    if not found:
        return None
    kind, value = found[0]
    if kind in ("answer_is", "hashes"):  # free text: keep the math, drop the prose around it
        value = _stated(value)
    return value.strip() or None


def extract_answer(text: str) -> str | None:
    """The final answer of a completion or a reference solution, or None when it states none."""
    return answer_in(final_segment(text))


def last_number(segment: str) -> str | None:
    numbers = _NUMBER.findall(segment[-2000:])
    return numbers[-1].rstrip(".") if numbers else None
