"""Rule rewards, TRL reward functions `(completions, **columns) -> list[float | None]`, by kind (correctness, format,
shaping), the registry a recipe names them from, your own by import path, and the logging wrapper GRPO runs them in."""

from r1lite.rewards.correctness import Accuracy, Cosine, Countdown, Length
from r1lite.rewards.format import Format, ReasoningSteps, TagCount
from r1lite.rewards.registry import (
    COLUMNS,
    REWARDS,
    RewardSpec,
    build_rewards,
    check_reward_specs,
    make_reward,
    reward_args,
)
from r1lite.rewards.reward_log import wrap_rewards
from r1lite.rewards.shaping import Repetition, SoftOverlong

__all__ = ["COLUMNS", "REWARDS", "Accuracy", "Cosine", "Countdown", "Format", "Length", "ReasoningSteps", "Repetition",
           "RewardSpec", "SoftOverlong", "TagCount", "build_rewards", "check_reward_specs", "make_reward",
           "reward_args", "wrap_rewards"]
