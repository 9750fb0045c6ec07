"""Named prompts. Recipes refer to them by name so long texts never sit inline in YAML."""

from __future__ import annotations

SYSTEM_PROMPTS = {
    # DeepSeek-R1-Zero's template, adapted to the \boxed{} answer that the math scorers read.
    "r1": (
        "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
        "The Assistant first thinks about the reasoning process and then gives the User the answer. "
        "The reasoning process is enclosed within <think> </think> tags, followed by the final answer in "
        "\\boxed{}, i.e., <think> reasoning process here </think> The answer is \\boxed{answer here}."
    ),
    # A short one for 135M-class models, whose attention does not stretch over a long system prompt.
    "short": "Think step by step inside <think> </think>, then give the final answer in \\boxed{}.",
}

# DeepSeek-R1's evaluation instruction (appended to the problem, no system prompt).
R1_EVAL_TEMPLATE = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}."

USER_TEMPLATES = {"plain": "{problem}", "r1_eval": R1_EVAL_TEMPLATE}


def system_prompt(name_or_text: str | None) -> str | None:
    """A name from SYSTEM_PROMPTS, or the literal text itself; None or "" means no system turn."""
    if not name_or_text:
        return None
    return SYSTEM_PROMPTS.get(name_or_text, name_or_text)


def user_prompt(template: str, problem: str) -> str:
    """`template` is a name from USER_TEMPLATES or text with a {problem} slot (other braces, as in \\boxed{}, stay)."""
    return USER_TEMPLATES.get(template, template).replace("{problem}", problem)


def build_messages(problem: str, system: str | None = None, template: str = "plain") -> list[dict[str, str]]:
    messages = []
    if system_text := system_prompt(system):
        messages.append({"role": "system", "content": system_text})
    messages.append({"role": "user", "content": user_prompt(template, problem)})
    return messages


def prefills_think(tokenizer: object) -> bool:
    """True when the chat template itself opens the think block (R1-Distill style), so completions start inside
    the reasoning and never contain `<think>`."""
    template = getattr(tokenizer, "chat_template", None)
    if not template or "<think>" not in template:
        return False
    try:
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": "1+1?"}], tokenize=False,
                                                 add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a template that cannot render a plain turn does not prefill
        return False
    return str(rendered).rstrip().endswith("<think>")
