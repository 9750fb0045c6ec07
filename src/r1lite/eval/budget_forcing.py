"""Budget forcing (s1, Muennighoff et al. 2025): cap the thinking at B tokens, then force the final answer.

A sample that ends by itself within the budget is kept as it is. One that reaches the budget gets its thinking
closed (`</think>` when it was open) and the answer prefix `The final answer is \\boxed{` appended, then continues
for at most `answer_tokens`. Tokens spent = thinking + answer. Needs a backend that can continue raw text
(`render`): hf and vllm; not a chat API.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from r1lite.backends import Completion, SamplingParams

ANSWER_PREFIX = "The final answer is \\boxed{"


def forced_suffix(text: str) -> str:
    """What is appended to a sample cut at the budget: close the thinking if open, then ask for the answer."""
    opened, closed = text.rfind("<think>"), text.rfind("</think>")
    if opened > closed or (closed < 0 and opened < 0):  # still thinking (or a model without explicit tags)
        return "\n</think>\n\n" + ANSWER_PREFIX
    return "\n\n" + ANSWER_PREFIX


def generate_with_budget(backend: Any, prompts: list[Any], params: SamplingParams, budget: int,
                         answer_tokens: int = 32) -> list[list[Completion]]:
    if not hasattr(backend, "render"):
        raise ValueError("thinking budgets need a backend that continues raw text (hf or vllm), not a chat API")
    first = backend.generate(prompts, replace(params, max_new_tokens=budget))
    cut = [(i, j) for i, samples in enumerate(first) for j, c in enumerate(samples) if c.finish_reason == "length"]
    if not cut:
        return first
    suffixes = {(i, j): forced_suffix(first[i][j].text) for i, j in cut}
    continued = backend.generate([backend.render(prompts[i]) + first[i][j].text + suffixes[i, j] for i, j in cut],
                                 replace(params, n=1, max_new_tokens=answer_tokens))
    for (i, j), [answer] in zip(cut, continued):
        thought = first[i][j]
        first[i][j] = Completion(text=thought.text + suffixes[i, j] + answer.text, prompt_tokens=thought.prompt_tokens,
                                 completion_tokens=thought.completion_tokens + answer.completion_tokens,
                                 finish_reason="forced")
    return first
