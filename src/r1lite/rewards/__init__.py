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
    reward_names,
)
from r1lite.rewards.reward_log import RewardError, wrap_rewards
from r1lite.rewards.shaping import Repetition, SoftOverlong
from r1lite.rewards.user_rewards import RewardFailure

__all__ = ["COLUMNS", "REWARDS", "Accuracy", "Cosine", "Countdown", "Format", "Length", "ReasoningSteps", "Repetition",
           "RewardError", "RewardFailure", "RewardSpec", "SoftOverlong", "TagCount", "build_rewards",
           "check_reward_specs", "make_reward", "reward_args", "reward_names", "wrap_rewards"]
