"""TRL's dataset formats: which one a row is in, which ones each stage accepts, and the check `r1lite check` runs.

GRPO, one of (every source of a recipe in the same one):
    prompt: [{role, content}, ...]      conversational: used as given, TRL applies the chat template
    prompt: "text"                      standard: used as given, no chat template (e.g. an R1-Zero base-model prompt)
    problem (question, query, ...)      r1lite builds the chat: data.system_prompt + data.prompt_template
SFT, one of (sources may mix the first three, which all become conversations):
    messages: [{role, content}, ...]    the last (assistant) turn is the completion
    prompt + completion, as messages    conversational prompt-completion
    problem + solution (or completion)  r1lite builds the chat; the solution is the assistant turn, as written, unless
                                        data.wrap_in_think asks to wrap it as <think>solution</think> + \\boxed{answer}
    prompt + completion, as text        standard prompt-completion: no chat template
    text                                language modeling on the whole text
"""

from __future__ import annotations

from typing import Any

from r1lite.config import ConfigError
from r1lite.data import PROBLEM_COLUMNS, DataArgs, peek_row

SOLUTION_COLUMNS = ("solution", "completion")

GRPO_FORMATS = {
    "conversational prompt": "`prompt`: a list of {role, content} messages",
    "standard prompt": "`prompt`: text",
    "problem": "`problem` (or question, query, instruction): text, built into a chat by r1lite",
}
SFT_FORMATS = {
    "messages": "`messages`: a list of {role, content} messages ending with an assistant turn",
    "conversational prompt-completion": "`prompt` and `completion`: lists of {role, content} messages",
    "problem-solution": "`problem` (or question, ...) and `solution` (or completion): text, built into a chat",
    "standard prompt-completion": "`prompt` and `completion`: text (no chat template)",
    "text": "`text`: text (language modeling)",
}
# SFT formats that r1lite turns into one conversational dataset (so sources in them can be mixed)
SFT_CONVERSATIONAL = ("messages", "conversational prompt-completion", "problem-solution")


def is_messages(value: Any) -> bool:
    """A list of {role, content} chat messages."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value))


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {type(value[0]).__name__}" if value else "an empty list"
    return "null" if value is None else f"a {type(value).__name__}"


def grpo_format(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the GRPO format of a row, or None; and why not, naming the column)."""
    if "prompt" in row:
        value = row["prompt"]
        if is_messages(value):
            return "conversational prompt", ""
        if isinstance(value, str):
            return "standard prompt", ""
        return None, f"column `prompt` holds {_describe(value)}"
    if any(isinstance(row.get(c), str) for c in PROBLEM_COLUMNS):
        return "problem", ""
    return None, f"no `prompt` or problem column (columns: {', '.join(row)})"


def sft_format(row: dict[str, Any]) -> tuple[str | None, str]:
    """(the SFT format of a row, or None; and why not, naming the column)."""
    if "messages" in row:
        value = row["messages"]
        if not is_messages(value):
            return None, f"column `messages` holds {_describe(value)}"
        if value[-1]["role"] != "assistant":
            return None, f"column `messages` ends with a {value[-1]['role']!r} turn, not an assistant one"
        return "messages", ""
    if "prompt" in row and "completion" in row:
        prompt, completion = row["prompt"], row["completion"]
        if is_messages(prompt) and is_messages(completion):
            return "conversational prompt-completion", ""
        if isinstance(prompt, str) and isinstance(completion, str):
            return "standard prompt-completion", ""
        return None, (f"columns `prompt` ({_describe(prompt)}) and `completion` ({_describe(completion)}) must be "
                      "both messages or both text")
    if isinstance(row.get("text"), str):
        return "text", ""
    if any(isinstance(row.get(c), str) for c in PROBLEM_COLUMNS):
        if any(isinstance(row.get(c), str) for c in SOLUTION_COLUMNS):
            return "problem-solution", ""
        return None, "a problem column but no `solution` or `completion` column to train on"
    return None, f"no messages, prompt/completion, text or problem column (columns: {', '.join(row)})"


def check_formats(data: DataArgs, stage: str, where: str = "data") -> list[str | None]:
    """Each source's format (None where it cannot be known offline: a Hub dataset, a CSV or Parquet file). Raises
    ConfigError naming the source, the column and the accepted formats when a row will not work, or when sources
    are in formats that cannot be mixed."""
    accepted, detect = (GRPO_FORMATS, grpo_format) if stage == "grpo" else (SFT_FORMATS, sft_format)
    found: list[str | None] = []
    for i, source in enumerate(data.sources):
        row = peek_row(source)
        if row is None:
            found.append(None)
            continue
        fmt, why = detect(row)
        if fmt is None:
            raise ConfigError(f"{where}.sources[{i}]: {source.path}: {why}; accepted {stage} formats: "
                              + "; ".join(accepted.values()))
        found.append(fmt)
    known = {f for f in found if f}
    families = {("conversational" if f in SFT_CONVERSATIONAL else f) if stage == "sft" else f for f in known}
    if len(families) > 1:
        raise ConfigError(f"{where}.sources: formats {', '.join(sorted(known))} cannot be mixed in one {stage} "
                          "dataset; convert the sources to one format (accepted: " + "; ".join(accepted.values())
                          + ")")
    return found
