"""A reward function of your own, named in a recipe as `examples/my_rewards.py:length_penalty` (or, once it is in an
importable package, `my_pkg.rewards:length_penalty`). It follows TRL's convention: completions in, one float (or
None: no signal) per completion out; dataset columns arrive as keyword arguments, hence **kwargs."""


def length_penalty(completions: list, max_words: int = 200, **kwargs) -> list[float]:
    """0 up to max_words words, then down to -1 at twice as many."""
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]  # conversational or standard
    return [-min(1.0, max(0, len(t.split()) - max_words) / max_words) for t in texts]
