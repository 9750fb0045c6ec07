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

Top to bottom: RewardSpec (one entry of a recipe's `rewards:` list) -> the reward classes (correctness.py: accuracy,
length-scaled accuracy, countdown; format.py; shaping.py: TRL's length shaping) -> REWARDS (name -> class) and COLUMNS (the dataset columns a reward reads) ->
make_reward and build_rewards: the recipe's list as TRL's reward_funcs and reward_weights. A name with an import path
is your own function instead (`r1lite.rewards.user_rewards`). Your own GRPOTrainer script can use these rewards too:

    from r1lite.rewards import Accuracy, Format
    GRPOTrainer(model, reward_funcs=[Accuracy(), Format()], args=GRPOConfig(...), train_dataset=ds)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from r1lite.recipe import ConfigError, suggest
from r1lite.rewards.correctness import Accuracy, Cosine, Countdown, Length
from r1lite.rewards.format import Format, ReasoningSteps, TagCount
from r1lite.rewards.shaping import Repetition, SoftOverlong
from r1lite.rewards.user_rewards import UserReward, check_user_reward, is_import_path


@dataclass
class RewardSpec:
    name: str  # a registry name (rewards.REWARDS), or your own function: module.path:function or file.py:function
    weight: float = 1.0  # its share of the total reward (TRL's reward_weights)
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the reward, or of your own function


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
        return UserReward(name, dict(args or {}), timeout_s=context.get("timeout_s") or 5.0)
    cls = REWARDS[name]
    given = {k: v for k, v in context.items() if k in getattr(cls, "CONTEXT", ()) and v is not None}
    return cls(**{**given, **(args or {})})


def reward_names(specs: Sequence[Any]) -> list[str]:
    """One metric name per entry of a recipe's rewards (rewards/<name>/mean): the function's name, and where two
    entries share it (one function with other args), its args too, then its position if those match as well."""
    base = [s.name.rpartition(":")[2] for s in specs]
    names = [b if base.count(b) == 1 else f"{b}({', '.join(f'{k}={v}' for k, v in s.args.items())})"
             for b, s in zip(base, specs)]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def build_rewards(specs: Sequence[Any], timeout_s: float = 5.0, num_workers: int | None = None,
                  **context: Any) -> tuple[list[Callable[..., list]], list[float]]:
    """The recipe's rewards as (functions, weights) for GRPOTrainer(reward_funcs=..., reward_weights=...)."""
    funcs = [make_reward(s.name, s.args, timeout_s=timeout_s, num_workers=num_workers, **context) for s in specs]
    return funcs, [float(s.weight) for s in specs]
