"""GRPO's reward functions as the trainer calls them: a failure never reaches the trainer (the batch scores None and
is logged), and every completion is appended to completions.jsonl with each function's score once all have scored
it (one row per completion; completions.rank<N>.jsonl per process under torchrun / accelerate launch).

    grpo.build_trainer: rewards.build_rewards -> wrap_rewards(funcs, output_dir) -> GRPOTrainer(reward_funcs=...)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1lite.grading import completion_text
from r1lite.jsonl import append_jsonl

log = logging.getLogger("r1lite")


def _last_turn(prompt: Any) -> str:
    """A chat prompt's last (user) turn, or a plain-text prompt itself."""
    return prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)


class SafeReward:
    """A reward function that never raises into the trainer (a failure scores the batch None, and is logged) and
    records every completion with its per-function scores to completions.jsonl."""

    def __init__(self, func: Callable, recorder: CompletionRecorder | None = None):
        self.func, self.recorder = func, recorder
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        try:
            scores = list(self.func(completions=completions, **kwargs))
        except Exception:
            log.exception("reward %s failed on a batch of %d; scoring it None", self.__name__, len(completions))
            scores = [None] * len(completions)
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


def wrap_rewards(funcs: list[Callable], output_dir: Path) -> list[SafeReward]:
    rank = int(os.environ.get("RANK", "0"))
    name = "completions.jsonl" if int(os.environ.get("WORLD_SIZE", "1")) == 1 else f"completions.rank{rank}.jsonl"
    names = [getattr(f, "__name__", type(f).__name__) for f in funcs]
    recorder = CompletionRecorder(output_dir / name, names)
    return [SafeReward(f, recorder) for f in funcs]
