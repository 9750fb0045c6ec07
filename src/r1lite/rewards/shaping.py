"""Length shaping: TRL's own implementations (trl.rewards), fed token ids: repetition penalty, soft overlong
punishment (DAPO)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from r1lite.grading import completion_text
from r1lite.rewards.correctness import completion_lengths


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
            completion_ids = [[0] * n for n in completion_lengths(completions, None)]
        trl_reward = get_soft_overlong_punishment(max_completion_len=self.max_len,
                                                  soft_punish_cache=self.soft_punish_cache)
        return [float(x) for x in trl_reward(completion_ids=completion_ids)]

