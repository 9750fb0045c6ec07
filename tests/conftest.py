"""Shared test pieces."""

import pytest

from r1lite import rewards


class DigitShare:
    """Easily learnable: the share of digits in the completion (a random tiny model starts near 10/100)."""

    __name__ = "digit_share"

    def __call__(self, completions, **kwargs):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]


@pytest.fixture
def digit_reward(monkeypatch):
    """Registers `digit_share` (DigitShare) as a reward name for the test."""
    monkeypatch.setitem(rewards.REWARDS, "digit_share", lambda: DigitShare())
