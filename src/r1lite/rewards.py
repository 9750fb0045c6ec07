"""Rule rewards: a plain registry, name -> reward class; an instance is a TRL reward function.

A reward function follows TRL's convention `f(completions, **columns) -> list[float | None]`: completions are
strings or chat message lists; dataset columns (answer, nums, target, ...) arrive as lists; `completion_ids`
(token ids) when TRL provides them. None means "no signal for this row" (e.g. the gold answer cannot be parsed);
TRL skips it. Nothing here needs a model, and nothing raises on garbage: answer checking runs through
`r1lite.grading.bounded_pool` with a hard deadline per completion.

A reward's fields are the recipe's `args` for it plus the run context it lists in CONTEXT: timeout_s, num_workers
(scoring), max_completion_length (trainer) and think_prefilled (the chat template opens <think>); make_reward
passes them. Instances hold plain data, so they pickle (TRL's asynchronous GRPO sends rewards to other processes);
TRL logs each as rewards/<__name__>/mean.

Top to bottom: RewardSpec (one entry of a recipe's `rewards:` list) -> the reward classes (correctness, format,
length shaping, countdown) -> REWARDS (name -> class) and COLUMNS (the dataset columns a reward reads) ->
make_reward and build_rewards: the recipe's list as TRL's reward_funcs and reward_weights. A name with an import path
is your own function instead (`r1lite.user_rewards`). Your own GRPOTrainer script can use these rewards too:

    from r1lite.rewards import Accuracy, Format
    GRPOTrainer(model, reward_funcs=[Accuracy(), Format()], args=GRPOConfig(...), train_dataset=ds)
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from r1lite.grading import boxed_values, completion_text, extract_answer
from r1lite.grading import grade_countdown
from r1lite.recipe import ConfigError, suggest
from r1lite.grading import grade_batch
from r1lite.user_rewards import UserReward, check_user_reward, is_import_path


@dataclass
class RewardSpec:
    name: str  # a registry name (rewards.REWARDS), or your own function: module.path:function or file.py:function
    weight: float = 1.0  # its share of the total reward (TRL's reward_weights)
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the reward, or of your own function


def _golds(n: int, answer: Sequence | None, solution: Sequence | None) -> list[str | None]:
    """Gold answers from the `answer` column, else the final answer of a `solution` column."""
    if answer is not None:
        return [None if a is None else str(a) for a in answer]
    if solution is not None:
        return [None if s is None else (extract_answer(str(s)) or str(s)) for s in solution]
    return [None] * n


def _lengths(completions: Sequence[Any], completion_ids: Sequence[Sequence[int]] | None) -> list[int]:
    """Lengths in tokens when TRL passes ids; else whitespace words (direct calls, tests)."""
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    return [len(completion_text(c).split()) for c in completions]


# ---------------------------------------------------------------------------------------------------------------------
# correctness


@dataclass
class Accuracy:
    """1.0 when the final answer (after </think>; last \\boxed{} wins) equals the gold, 0.0 when not, None when the
    gold cannot be parsed. Bounded by `timeout_s` per completion. boxed_only: pay only a right answer inside
    \\boxed{} (an unboxed "The answer is 60" earns 0), so RL cannot trade the answer format for correctness."""

    boxed_only: bool = False
    timeout_s: float = 5.0
    num_workers: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers")
    __name__: ClassVar[str] = "accuracy"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 **_: Any) -> list:
        grades = grade_batch(completions, _golds(len(completions), answer, solution), self.timeout_s,
                             self.num_workers, anywhere=False)
        return [None if g.correct is None else float(g.correct_boxed if self.boxed_only else g.correct)
                for g in grades]


@dataclass
class Cosine:
    """Cosine length scaling (Yeo et al. 2025): short correct answers earn most, short wrong ones lose most. Lengths
    are tokens, clamped at max_len (default: the trainer's max_completion_length; no wrap-around past it, unlike
    open-r1's version)."""

    max_len: int | None = None
    min_value_wrong: float = -1.0
    max_value_wrong: float = -0.5
    min_value_correct: float = 0.5
    max_value_correct: float = 1.0
    timeout_s: float = 5.0
    num_workers: int | None = None
    max_completion_length: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers", "max_completion_length")
    __name__: ClassVar[str] = "cosine"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 completion_ids: list | None = None, **_: Any) -> list:
        max_len = self.max_len or self.max_completion_length or 1024
        grades = grade_batch(completions, _golds(len(completions), answer, solution), self.timeout_s,
                             self.num_workers, anywhere=False)
        scores: list[float | None] = []
        for g, length in zip(grades, _lengths(completions, completion_ids)):
            if g.correct is None:
                scores.append(None)
                continue
            progress = min(length, max_len) / max_len
            lo, hi = ((self.min_value_correct, self.max_value_correct) if g.correct
                      else (self.max_value_wrong, self.min_value_wrong))
            scores.append(lo + 0.5 * (hi - lo) * (1.0 + math.cos(progress * math.pi)))
        return scores


@dataclass
class Length:
    """Kimi k1.5 length penalty within each prompt's group: lambda = 0.5 - (len - min) / (max - min); correct
    answers get lambda, wrong ones min(0, lambda). 0 when all lengths in a group are equal."""

    timeout_s: float = 5.0
    num_workers: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("timeout_s", "num_workers")
    __name__: ClassVar[str] = "length"

    def __call__(self, completions: list, answer: list | None = None, solution: list | None = None,
                 completion_ids: list | None = None, prompts: list | None = None, **_: Any) -> list:
        golds = _golds(len(completions), answer, solution)
        grades = grade_batch(completions, golds, self.timeout_s, self.num_workers, anywhere=False)
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


@dataclass
class Format:
    """1.0 for `<think>reasoning</think>` then a final answer, else 0.0.

    answer: "boxed" (a \\boxed{} after the think block, R1's format), "tag" (`<answer>...</answer>`, R1-Zero's
    format) or "any" (any non-empty text). think_prefilled: the chat template already emitted `<think>` (the
    R1-Distill templates), so the completion starts inside the reasoning and must not open another block.
    """

    answer: str = "boxed"
    think_prefilled: bool = False
    CONTEXT: ClassVar[tuple[str, ...]] = ("think_prefilled",)
    __name__: ClassVar[str] = "format"

    def __post_init__(self) -> None:
        if self.answer not in ("boxed", "tag", "any"):
            raise ValueError(f"format reward answer={self.answer!r}; allowed values: boxed, tag, any")

    def __call__(self, completions: list, **_: Any) -> list:
        return [float(self._formatted(completion_text(c))) for c in completions]

    def _formatted(self, text: str) -> bool:
        parts = _think_parts(text, self.think_prefilled)
        if parts is None or parts[0].strip() == "":
            return False
        if self.answer == "boxed":
            return bool(boxed_values(parts[1]))
        if self.answer == "tag":
            return re.fullmatch(r"\s*<answer>(?!.*<answer>).+?</answer>\s*", parts[1], re.DOTALL) is not None
        return parts[1].strip() != ""


@dataclass
class TagCount:
    """Partial format credit (open-r1's tag_count, whitespace-tolerant): an equal share for each of <think>,
    </think> (and <answer>, </answer> with answer_tag) that appears exactly once."""

    answer_tag: bool = False
    think_prefilled: bool = False
    CONTEXT: ClassVar[tuple[str, ...]] = ("think_prefilled",)
    __name__: ClassVar[str] = "tag_count"

    def __call__(self, completions: list, **_: Any) -> list:
        tags = ["<think>", "</think>"] + (["<answer>", "</answer>"] if self.answer_tag else [])
        scores = []
        for c in completions:
            text = completion_text(c)
            counts = {t: text.count(t) for t in tags}
            if self.think_prefilled and counts["<think>"] == 0:
                counts["<think>"] = 1
            scores.append(sum(counts[t] == 1 for t in tags) / len(tags))
        return scores


_STEP = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", re.MULTILINE)


@dataclass
class ReasoningSteps:
    """min(1, steps / min_steps) for explicit step markers ("Step 1:", "1.", bullets, "First,", ...)."""

    min_steps: int = 3
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    __name__: ClassVar[str] = "reasoning_steps"

    def __call__(self, completions: list, **_: Any) -> list:
        return [min(1.0, len(_STEP.findall(completion_text(c)[:50_000])) / self.min_steps) for c in completions]


# ---------------------------------------------------------------------------------------------------------------------
# length shaping: TRL's own implementations, fed token ids


@dataclass
class Repetition:
    """(1 - unique/total n-grams) * max_penalty on token ids (trl.rewards), on words when no ids are given."""

    ngram_size: int = 3
    max_penalty: float = -1.0
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    __name__: ClassVar[str] = "repetition"

    def __call__(self, completions: list, completion_ids: list | None = None, **_: Any) -> list:
        from trl.rewards import get_repetition_penalty_reward

        if completion_ids is None:
            vocab: dict[str, int] = {}
            completion_ids = [[vocab.setdefault(w, len(vocab)) for w in completion_text(c).split()]
                              for c in completions]
        trl_reward = get_repetition_penalty_reward(ngram_size=self.ngram_size, max_penalty=self.max_penalty)
        return [float(x) for x in trl_reward(completion_ids=completion_ids)]


@dataclass
class SoftOverlong:
    """DAPO's soft overlong punishment (trl.rewards): 0 up to L - cache, then linearly down to -1 at L.
    L (max_len) defaults to the trainer's max_completion_length, the cache to L/4 (DAPO: 4096 of 20480)."""

    soft_punish_cache: int | None = None
    max_completion_length: int | None = None
    max_len: int | None = None
    CONTEXT: ClassVar[tuple[str, ...]] = ("max_completion_length",)
    __name__: ClassVar[str] = "soft_overlong"

    def __post_init__(self) -> None:
        self.max_len = self.max_len or self.max_completion_length
        if self.soft_punish_cache is None:
            self.soft_punish_cache = (self.max_len or 0) // 4
        if not self.max_len or self.soft_punish_cache >= self.max_len:
            raise ValueError(f"soft_overlong needs max_len > soft_punish_cache ({self.soft_punish_cache}); "
                             f"got {self.max_len}")

    def __call__(self, completions: list, completion_ids: list | None = None, **_: Any) -> list:
        from trl.rewards import get_soft_overlong_punishment

        if completion_ids is None:
            completion_ids = [[0] * n for n in _lengths(completions, None)]
        trl_reward = get_soft_overlong_punishment(max_completion_len=self.max_len,
                                                  soft_punish_cache=self.soft_punish_cache)
        return [float(x) for x in trl_reward(completion_ids=completion_ids)]


# ---------------------------------------------------------------------------------------------------------------------
# countdown (TinyZero): the checker lives in the grading layer (checkers.py), shared with generate and eval


@dataclass
class Countdown:
    """TinyZero's countdown score: 1.0 for a valid equation reaching the target, format_score for a stated but
    wrong equation, 0.0 for none."""

    format_score: float = 0.1
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    __name__: ClassVar[str] = "countdown"

    def __call__(self, completions: list, nums: list, target: list, **_: Any) -> list:
        grades = [grade_countdown(completion_text(c), n, t) for c, n, t in zip(completions, nums, target)]
        return [1.0 if g.correct else self.format_score if g.answer else 0.0 for g in grades]


REWARDS: dict[str, Callable[..., Callable[..., list]]] = {  # name -> reward class (or any factory)
    "accuracy": Accuracy,
    "format": Format,
    "tag_count": TagCount,
    "reasoning_steps": ReasoningSteps,
    "length": Length,
    "cosine": Cosine,
    "repetition": Repetition,
    "soft_overlong": SoftOverlong,
    "countdown": Countdown,
}

COLUMNS = {"accuracy": ("answer",), "cosine": ("answer",), "length": ("answer",), "countdown": ("nums", "target")}


def reward_args(name: str) -> list[str]:
    """The recipe-settable arguments of a registry reward (its fields minus the run context); [] (anything) for a
    registered factory that is not one of these dataclasses."""
    cls = REWARDS[name]
    if not dataclasses.is_dataclass(cls):
        return []
    return [f.name for f in dataclasses.fields(cls) if f.name not in cls.CONTEXT]


def check_reward_specs(specs: Sequence[RewardSpec], **context: Any) -> None:
    """A recipe's `rewards:` list, checked before anything loads: registry names with their args, or your own
    function, which must import and be callable. Each registry reward is built with the run `context` make_reward
    takes (timeout_s, num_workers, max_completion_length), so its own checks of the values (format's answer,
    soft_overlong's cache against the length) fail here; building one starts no scoring worker (they start on the
    first remote grade)."""
    if not specs:
        raise ConfigError(f"rewards: at least one reward is needed; allowed names: {', '.join(sorted(REWARDS))}")
    for i, spec in enumerate(specs):
        if is_import_path(spec.name):
            try:
                check_user_reward(spec.name, spec.args)
            except ValueError as e:
                raise ConfigError(f"rewards[{i}].name: {e}") from None
            continue
        if spec.name not in REWARDS:
            raise ConfigError(f"rewards[{i}].name: {spec.name!r} is not a reward{suggest(spec.name, REWARDS)}; "
                              f"allowed values: {', '.join(sorted(REWARDS))}, or module.path:function")
        allowed = reward_args(spec.name)
        for key in spec.args:
            if allowed and key not in allowed:
                raise ConfigError(f"rewards[{i}].args.{key}: not an argument of {spec.name}{suggest(key, allowed)}; "
                                  f"allowed values: {', '.join(allowed)}")
        try:
            make_reward(spec.name, spec.args, **context)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"rewards[{i}].args: {e}") from None


def make_reward(name: str, args: dict[str, Any] | None = None, **context: Any) -> Callable[..., list]:
    """One reward: a registry class with the recipe's args and the run context it declares (timeout_s,
    num_workers, max_completion_length, think_prefilled), or your own function (`module:function`)."""
    if is_import_path(name):
        return UserReward(name, dict(args or {}))
    cls = REWARDS[name]
    given = {k: v for k, v in context.items() if k in getattr(cls, "CONTEXT", ()) and v is not None}
    return cls(**{**given, **(args or {})})


def build_rewards(specs: Sequence[Any], timeout_s: float = 5.0, num_workers: int | None = None,
                  **context: Any) -> tuple[list[Callable[..., list]], list[float]]:
    """The recipe's rewards as (functions, weights) for GRPOTrainer(reward_funcs=..., reward_weights=...)."""
    funcs = [make_reward(s.name, s.args, timeout_s=timeout_s, num_workers=num_workers, **context) for s in specs]
    return funcs, [float(s.weight) for s in specs]
