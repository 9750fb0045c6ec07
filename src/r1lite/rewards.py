"""Rule rewards: a plain registry name -> factory; each factory returns a TRL reward function.

A reward function follows TRL's convention `f(completions, **columns) -> list[float | None]`: completions are
strings or chat message lists; dataset columns (answer, nums, target, ...) arrive as lists; `completion_ids`
(token ids) when TRL provides them. None means "no signal for this row" (e.g. the gold answer cannot be parsed);
TRL skips it. Nothing here needs a model, and nothing raises on garbage: answer checking runs through
`r1lite.scoring` with a hard deadline per completion.

Factories take the recipe's `args` for that reward plus, when they declare them, the run context: timeout_s,
num_workers (scoring), max_completion_length (trainer) and think_prefilled (the chat template opens <think>).

A recipe can also name your own function, `my_pkg.rewards:length_penalty` or `path/to/file.py:length_penalty`
(relative to the working directory): a TRL reward function `f(completions, **kwargs) -> list[float | None]`, whose
recipe `args` are passed as keyword arguments on every call. Your own GRPOTrainer script can use these rewards too:

    from r1lite.rewards import accuracy, format_
    GRPOTrainer(model, reward_funcs=[accuracy(), format_()], args=GRPOConfig(...), train_dataset=ds)
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.checkers import check_countdown, countdown_equation
from r1lite.grading import boxed_values, completion_text
from r1lite.scoring import grade_batch

Reward = Callable[..., list]


@dataclass
class RewardSpec:
    name: str  # a registry name (rewards.REWARDS), or your own function: module.path:function or file.py:function
    weight: float = 1.0  # its share of the total reward (TRL's reward_weights)
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the factory, or of your own function


def _golds(n: int, answer: Sequence | None, solution: Sequence | None) -> list[str | None]:
    """Gold answers from the `answer` column, else the final answer of a `solution` column."""
    if answer is not None:
        return [None if a is None else str(a) for a in answer]
    if solution is not None:
        from r1lite.grading import extract_answer

        return [None if s is None else (extract_answer(str(s)) or str(s)) for s in solution]
    return [None] * n


def _lengths(completions: Sequence[Any], completion_ids: Sequence[Sequence[int]] | None) -> list[int]:
    """Lengths in tokens when TRL passes ids; else whitespace words (direct calls, tests)."""
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    return [len(completion_text(c).split()) for c in completions]


def _named(func: Callable, name: str) -> Callable:
    func.__name__ = name  # TRL logs rewards/<__name__>/mean
    return func


# ---------------------------------------------------------------------------------------------------------------------
# correctness


def accuracy(boxed_only: bool = False, timeout_s: float = 5.0, num_workers: int | None = None) -> Reward:
    """1.0 when the final answer (after </think>; last \\boxed{} wins) equals the gold, 0.0 when not, None when the
    gold cannot be parsed. Bounded by `timeout_s` per completion. boxed_only: pay only a right answer inside
    \\boxed{} (an unboxed "The answer is 60" earns 0), so RL cannot trade the answer format for correctness."""

    def reward(completions: list, answer: list | None = None, solution: list | None = None, **_: Any) -> list:
        grades = grade_batch(completions, _golds(len(completions), answer, solution), timeout_s, num_workers,
                             anywhere=False)
        return [None if g.correct is None else float(g.correct_boxed if boxed_only else g.correct) for g in grades]

    return _named(reward, "accuracy")


def cosine(max_len: int | None = None, min_value_wrong: float = -1.0, max_value_wrong: float = -0.5,
           min_value_correct: float = 0.5, max_value_correct: float = 1.0, timeout_s: float = 5.0,
           num_workers: int | None = None, max_completion_length: int | None = None) -> Reward:
    """Cosine length scaling (Yeo et al. 2025): short correct answers earn most, short wrong ones lose most. Lengths
    are tokens, clamped at max_len (no wrap-around past it, unlike open-r1's version)."""
    max_len = max_len or max_completion_length or 1024

    def reward(completions: list, answer: list | None = None, solution: list | None = None,
               completion_ids: list | None = None, **_: Any) -> list:
        grades = grade_batch(completions, _golds(len(completions), answer, solution), timeout_s, num_workers,
                             anywhere=False)
        scores: list[float | None] = []
        for g, length in zip(grades, _lengths(completions, completion_ids)):
            if g.correct is None:
                scores.append(None)
                continue
            progress = min(length, max_len) / max_len
            lo, hi = (min_value_correct, max_value_correct) if g.correct else (max_value_wrong, min_value_wrong)
            scores.append(lo + 0.5 * (hi - lo) * (1.0 + math.cos(progress * math.pi)))
        return scores

    return _named(reward, "cosine")


def length(timeout_s: float = 5.0, num_workers: int | None = None) -> Reward:
    """Kimi k1.5 length penalty within each prompt's group: lambda = 0.5 - (len - min) / (max - min); correct
    answers get lambda, wrong ones min(0, lambda). 0 when all lengths in a group are equal."""

    def reward(completions: list, answer: list | None = None, solution: list | None = None,
               completion_ids: list | None = None, prompts: list | None = None, **_: Any) -> list:
        golds = _golds(len(completions), answer, solution)
        grades = grade_batch(completions, golds, timeout_s, num_workers, anywhere=False)
        lengths = _lengths(completions, completion_ids)
        keys = [completion_text(p) for p in prompts] if prompts is not None else golds
        groups: dict[Any, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            groups[key].append(i)
        scores: list[float | None] = [None] * len(completions)
        for members in groups.values():
            lo, hi = min(lengths[i] for i in members), max(lengths[i] for i in members)
            for i in members:
                if grades[i].correct is None:
                    continue
                lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
                scores[i] = lam if grades[i].correct else min(0.0, lam)
        return scores

    return _named(reward, "length")


# ---------------------------------------------------------------------------------------------------------------------
# format


def _think_parts(text: str, think_prefilled: bool) -> tuple[str, str] | None:
    """(reasoning, after) when the text is exactly one well-formed think block followed by the rest, else None."""
    body = text.lstrip()
    if not think_prefilled or body.startswith("<think>"):
        if not body.startswith("<think>"):
            return None
        body = body[len("<think>"):]
    if body.count("</think>") != 1 or "<think>" in body:
        return None
    reasoning, after = body.split("</think>")
    return reasoning, after


def format_(answer: str = "boxed", think_prefilled: bool = False) -> Reward:
    """1.0 for `<think>reasoning</think>` then a final answer, else 0.0.

    answer: "boxed" (a \\boxed{} after the think block, R1's format), "tag" (`<answer>...</answer>`, R1-Zero's
    format) or "any" (any non-empty text). think_prefilled: the chat template already emitted `<think>` (the
    R1-Distill templates), so the completion starts inside the reasoning and must not open another block.
    """
    if answer not in ("boxed", "tag", "any"):
        raise ValueError(f"format reward answer={answer!r}; allowed values: boxed, tag, any")

    def reward(completions: list, **_: Any) -> list:
        scores = []
        for c in completions:
            parts = _think_parts(completion_text(c), think_prefilled)
            ok = parts is not None and parts[0].strip() != ""
            if ok:
                after = parts[1]
                if answer == "boxed":
                    ok = bool(boxed_values(after))
                elif answer == "tag":
                    ok = re.fullmatch(r"\s*<answer>(?!.*<answer>).+?</answer>\s*", after, re.DOTALL) is not None
                else:
                    ok = after.strip() != ""
            scores.append(float(ok))
        return scores

    return _named(reward, "format")


def tag_count(answer_tag: bool = False, think_prefilled: bool = False) -> Reward:
    """Partial format credit (open-r1's tag_count, whitespace-tolerant): an equal share for each of <think>,
    </think> (and <answer>, </answer> with answer_tag) that appears exactly once."""
    tags = ["<think>", "</think>"] + (["<answer>", "</answer>"] if answer_tag else [])

    def reward(completions: list, **_: Any) -> list:
        scores = []
        for c in completions:
            text = completion_text(c)
            counts = {t: text.count(t) for t in tags}
            if think_prefilled and counts["<think>"] == 0:
                counts["<think>"] = 1
            scores.append(sum(counts[t] == 1 for t in tags) / len(tags))
        return scores

    return _named(reward, "tag_count")


_STEP = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", re.MULTILINE)


def reasoning_steps(min_steps: int = 3) -> Reward:
    """min(1, steps / min_steps) for explicit step markers ("Step 1:", "1.", bullets, "First,", ...)."""

    def reward(completions: list, **_: Any) -> list:
        return [min(1.0, len(_STEP.findall(completion_text(c)[:50_000])) / min_steps) for c in completions]

    return _named(reward, "reasoning_steps")


# ---------------------------------------------------------------------------------------------------------------------
# length shaping: TRL's own implementations, fed token ids


def repetition(ngram_size: int = 3, max_penalty: float = -1.0) -> Reward:
    """(1 - unique/total n-grams) * max_penalty on token ids (trl.rewards), on words when no ids are given."""
    from trl.rewards import get_repetition_penalty_reward

    trl_reward = get_repetition_penalty_reward(ngram_size=ngram_size, max_penalty=max_penalty)
    vocab: dict[str, int] = {}

    def reward(completions: list, completion_ids: list | None = None, **_: Any) -> list:
        if completion_ids is None:
            completion_ids = [[vocab.setdefault(w, len(vocab)) for w in completion_text(c).split()]
                              for c in completions]
        return [float(x) for x in trl_reward(completion_ids=completion_ids)]

    return _named(reward, "repetition")


def soft_overlong(soft_punish_cache: int | None = None, max_completion_length: int | None = None,
                  max_len: int | None = None) -> Reward:
    """DAPO's soft overlong punishment (trl.rewards): 0 up to L - cache, then linearly down to -1 at L.
    L defaults to the trainer's max_completion_length, the cache to L/4 (DAPO: 4096 of 20480)."""
    from trl.rewards import get_soft_overlong_punishment

    limit = max_len or max_completion_length
    soft_punish_cache = soft_punish_cache if soft_punish_cache is not None else (limit or 0) // 4
    if not limit or soft_punish_cache >= limit:
        raise ValueError(f"soft_overlong needs max_len > soft_punish_cache ({soft_punish_cache}); got {limit}")
    trl_reward = get_soft_overlong_punishment(max_completion_len=limit, soft_punish_cache=soft_punish_cache)

    def reward(completions: list, completion_ids: list | None = None, **_: Any) -> list:
        if completion_ids is None:
            completion_ids = [[0] * n for n in _lengths(completions, None)]
        return [float(x) for x in trl_reward(completion_ids=completion_ids)]

    return _named(reward, "soft_overlong")


# ---------------------------------------------------------------------------------------------------------------------
# countdown (TinyZero)

def countdown(format_score: float = 0.1) -> Reward:
    """TinyZero's countdown score: 1.0 for a valid equation reaching the target, format_score for a stated but
    wrong equation, 0.0 for none."""

    def reward(completions: list, nums: list, target: list, **_: Any) -> list:
        scores = []
        for c, numbers, goal in zip(completions, nums, target):
            equation = countdown_equation(completion_text(c))
            scores.append(1.0 if check_countdown(equation, numbers, goal) else format_score if equation else 0.0)
        return scores

    return _named(reward, "countdown")


REWARDS: dict[str, Callable[..., Reward]] = {
    "accuracy": accuracy,
    "format": format_,
    "tag_count": tag_count,
    "reasoning_steps": reasoning_steps,
    "length": length,
    "cosine": cosine,
    "repetition": repetition,
    "soft_overlong": soft_overlong,
    "countdown": countdown,
}

CONTEXT = ("timeout_s", "num_workers", "max_completion_length", "think_prefilled")
COLUMNS = {"accuracy": ("answer",), "cosine": ("answer",), "length": ("answer",), "countdown": ("nums", "target")}


def is_import_path(name: str) -> bool:
    """`module.path:function` or `path/to/file.py:function`, as opposed to a registry name."""
    return ":" in name


def import_reward(name: str) -> Callable:
    """The object an import path names. Raises ValueError saying what is wrong (no module, no attribute, ...)."""
    target, _, attr = name.rpartition(":")
    if not target or not attr:
        raise ValueError(f"{name!r}: expected module.path:function or path/to/file.py:function")
    if target.endswith(".py"):
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"{name!r}: file {target} does not exist (paths are relative to the working directory)")
        spec = importlib.util.spec_from_file_location(f"r1lite_user_rewards.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
    try:
        if target.endswith(".py"):
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except Exception as e:  # whatever the user's module raises is the reason it cannot be used
        raise ValueError(f"{name!r}: {target} cannot be imported ({type(e).__name__}: {e})") from e
    if not hasattr(module, attr):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ValueError(f"{name!r}: {target} has no attribute {attr!r}; its callables: {', '.join(public) or 'none'}")
    func = getattr(module, attr)
    if not callable(func):
        raise ValueError(f"{name!r}: {attr} is a {type(func).__name__}, not a function")
    return func


def check_user_reward(name: str, args: dict[str, Any]) -> None:
    """What `r1lite check` verifies of your own reward: it imports, is callable, takes **kwargs (TRL passes every
    dataset column and more) and each recipe arg is a parameter it declares."""
    func = import_reward(name)
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to inspect
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise ValueError(f"{name!r}: must accept **kwargs (TRL calls it with prompts, completions, completion_ids and "
                         "every dataset column)")
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in args:
        if key not in named:
            raise ValueError(f"{name!r}: args.{key} is not a parameter of the function; allowed values: "
                             f"{', '.join(n for n in named if n not in ('completions', 'prompts')) or 'none'}")


def user_reward(name: str, args: dict[str, Any] | None = None) -> Reward:
    """Your own reward function, with the recipe's args bound; logged as rewards/<function name>."""
    func = import_reward(name)
    bound = functools.partial(func, **(args or {}))

    def reward(*call_args: Any, **kwargs: Any) -> list:
        return bound(*call_args, **kwargs)

    return _named(reward, getattr(func, "__name__", name.rpartition(":")[2]))


def reward_args(name: str) -> list[str]:
    """The recipe-settable arguments of a reward (its factory's parameters minus the run context)."""
    try:
        return [p for p in inspect.signature(REWARDS[name]).parameters if p not in CONTEXT]
    except (TypeError, ValueError):  # a callable without a signature: accept anything
        return []


def make_reward(name: str, args: dict[str, Any] | None = None, **context: Any) -> Reward:
    """Build one reward from the registry, or import your own (`module:function`); `context` values are passed only to
    registry factories that declare them."""
    if is_import_path(name):
        return user_reward(name, args)
    factory = REWARDS[name]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    accepted = {k: v for k, v in context.items() if k in params and v is not None}
    return factory(**{**accepted, **(args or {})})


def build_rewards(specs: Sequence[Any], timeout_s: float = 5.0, num_workers: int | None = None,
                  **context: Any) -> tuple[list[Reward], list[float]]:
    """The recipe's rewards as (functions, weights) for GRPOTrainer(reward_funcs=..., reward_weights=...)."""
    funcs = [make_reward(s.name, s.args, timeout_s=timeout_s, num_workers=num_workers, **context) for s in specs]
    return funcs, [float(s.weight) for s in specs]
