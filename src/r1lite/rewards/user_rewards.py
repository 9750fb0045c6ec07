"""Your own reward functions, named in a recipe by import path instead of a registry name.

A name such as `my_pkg.rewards:length_penalty` or `path/to/file.py:length_penalty` (relative to the working
directory) names a TRL reward function `f(completions, **kwargs) -> list[float | None]`, whose recipe `args` are
passed as keyword arguments on every call. is_import_path tells such a name from a registry name -> import_reward
loads the object it names (a ValueError says what is wrong) -> check_user_reward is what `r1lite check` verifies of
it -> UserReward, which `r1lite.rewards.registry.make_reward` builds, calls it with the recipe's args.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def is_import_path(name: str) -> bool:
    """`module.path:function` or `path/to/file.py:function`, as opposed to a registry name."""
    return ":" in name


def import_reward(name: str) -> Callable:
    """The object an import path names. Raises ValueError saying what is wrong (no module, no attribute, ...)."""
    target, _, attr = name.rpartition(":")
    if not target or not attr:
        raise ValueError(f"{name!r}: expected module.path:function or path/to/file.py:function")
    path = Path(target).expanduser().resolve()
    if target.endswith(".py") and not path.is_file():
        raise ValueError(f"{name!r}: file {target} does not exist (paths are relative to the working directory)")
    try:
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location(f"r1lite_user_rewards.{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
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


@dataclass
class UserReward:
    """Your own reward function (`module.path:function` or `file.py:function`), called with the recipe's args on
    every call; logged as rewards/<function name>. It pickles when the function is importable by its module name."""

    path: str
    args: dict[str, Any] = field(default_factory=dict)
    func: Callable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.func = import_reward(self.path)
        self.__name__ = getattr(self.func, "__name__", self.path.rpartition(":")[2])

    def __call__(self, *call_args: Any, **kwargs: Any) -> list:
        return self.func(*call_args, **{**self.args, **kwargs})
