"""GRPO's reward functions as the trainer calls them: a failure never reaches the trainer (the batch scores None and
is logged), and every completion is appended to completions.jsonl with each function's score once all have scored
it (one row per completion; completions.rank<N>.jsonl per process under torchrun / accelerate launch).

    grpo.build_trainer: rewards.build_rewards -> wrap_rewards(funcs, output_dir) -> GRPOTrainer(reward_funcs=...)
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1lite.grading import completion_text
from r1lite.jsonl import append_jsonl
from r1lite.rewards.user_rewards import RewardFailure, describe_error

log = logging.getLogger("r1lite")


def _last_turn(prompt: Any) -> str:
    """A chat prompt's last (user) turn, or a plain-text prompt itself."""
    return prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)


class RewardError(RuntimeError):
    """A reward returned scores that are not scores, and the recipe said to stop (scoring.invalid_scores: error)."""


def _preview(value: Any) -> str:
    """A value as JSON cut to 40 characters, for a message quoting it."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _score(value: Any) -> tuple[float | None, str | None]:
    """(the score as a float or None, None) or (None, why it is not a score): ints, bools and numpy or torch scalars
    become floats; strings, containers and non-finite values are not scores."""
    if value is None:
        return None, None
    if not isinstance(value, (str, bytes, dict, list, tuple)) and hasattr(value, "item"):  # numpy / torch scalar
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, (bool, int, float, numbers.Real)):
        number = float(value)
        return (number, None) if math.isfinite(number) else (None, f"{number} is not finite")
    return None, f"{_preview(value)} is a {type(value).__name__}, not a number or None"


def check_scores(name: str, scores: Any, n: int) -> tuple[list[float | None], list[str]]:
    """A reward's output as n floats or None, and what was wrong with it (each problem naming the row)."""
    if isinstance(scores, (str, bytes, dict)) or not isinstance(scores, (list, tuple)):
        return [None] * n, [f"returned {_preview(scores)} (a {type(scores).__name__}), not a list of {n} scores"]
    if len(scores) != n:
        return [None] * n, [f"returned {len(scores)} scores for {n} completions"]
    out, problems = [], []
    for i, value in enumerate(scores):
        score, problem = _score(value)
        out.append(score)
        if problem:
            problems.append(f"row {i}: {problem}")
    return out, problems


class SafeReward:
    """A reward function that never raises into the trainer (a failure scores the batch None, and is logged on one
    line naming it), whose scores are checked (check_scores: with invalid "none" a bad score becomes None and is
    counted, with "error" it stops the run with a RewardError), and which records every completion with its
    per-function scores to completions.jsonl."""

    def __init__(self, func: Callable, recorder: CompletionRecorder | None = None, name: str | None = None,
                 invalid: str = "none"):
        self.func, self.recorder, self.invalid = func, recorder, invalid
        self.__name__ = name or getattr(func, "__name__", type(func).__name__)
        self.invalid_count = 0

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        try:
            scores, problems = check_scores(self.__name__, self.func(completions=completions, **kwargs),
                                            len(completions))
        except (Exception, SystemExit) as e:  # noqa: BLE001 - whatever a reward does, the run goes on
            log.error("reward %s failed on a batch of %d (%s); scoring it None", self.__name__, len(completions),
                      describe_error(e) if not isinstance(e, RewardFailure) else e)
            scores, problems = [None] * len(completions), []
        if problems:
            message = f"reward {self.__name__} {problems[0]}" + (f" (and {len(problems) - 1} more)" if
                                                                 len(problems) > 1 else "")
            if self.invalid == "error":
                raise RewardError(f"{message}; scoring.invalid_scores: none scores such rows None instead")
            self.invalid_count += len(problems) if problems[0].startswith("row") else len(completions)
            log.warning("%s; scored None (%d so far; scoring.invalid_scores: error stops the run instead)", message,
                        self.invalid_count)
        if self.recorder is not None:
            self.recorder.add(self.__name__, completions, scores, kwargs)
        return scores


class CompletionRecorder:
    """Collects the scores of each reward function for one generation batch and writes one JSONL row per
    completion once every function has scored it."""

    def __init__(self, path: Path, reward_names: list[str]):
        self.path, self.names = path, reward_names
        self.pending: dict[str, list[float | None]] = {}
        self.lock = threading.Lock()

    def add(self, name: str, completions: list[Any], scores: list[float | None], columns: dict[str, Any]) -> None:
        with self.lock:
            self.pending[name] = scores
            if set(self.pending) != set(self.names):
                return
            pending, self.pending = self.pending, {}
        state = columns.get("trainer_state")
        step = state.global_step if state is not None else None
        prompts = columns.get("prompts") or [None] * len(completions)
        answers = columns.get("answer") or [None] * len(completions)
        append_jsonl(self.path, [{"step": step, "prompt": _last_turn(prompts[i]) if prompts[i] is not None else None,
                                  "completion": completion_text(completion), "answer": answers[i],
                                  "rewards": {n: pending[n][i] for n in self.names}}
                                 for i, completion in enumerate(completions)])


def wrap_rewards(funcs: list[Callable], output_dir: Path, names: list[str] | None = None,
                 invalid: str = "none") -> list[SafeReward]:
    """The trainer's reward functions: each a SafeReward logged under its name (rewards.reward_names: unique per
    recipe entry), all recording to one completions file."""
    rank = int(os.environ.get("RANK", "0"))
    name = "completions.jsonl" if int(os.environ.get("WORLD_SIZE", "1")) == 1 else f"completions.rank{rank}.jsonl"
    names = names or [getattr(f, "__name__", type(f).__name__) for f in funcs]
    recorder = CompletionRecorder(output_dir / name, names)
    return [SafeReward(f, recorder, n, invalid) for f, n in zip(funcs, names)]
