"""Your own reward functions, named in a recipe by import path instead of a registry name.

A name such as `my_pkg.rewards:length_penalty` or `path/to/file.py:length_penalty` (relative to the working
directory) names a TRL reward function `f(completions, **kwargs) -> list[float | None]`, whose recipe `args` are
passed as keyword arguments on every call. is_import_path tells such a name from a registry name -> import_reward
loads the object it names (a ValueError says what is wrong) -> check_user_reward is what `r1lite check` verifies of
it -> UserReward, which `r1lite.rewards.registry.make_reward` builds, calls it with the recipe's args.

Your code runs in a worker process of its own (grading.Worker, started with this process's sys.path), never in the
trainer: every batch gets its scores within scoring.timeout_s or the worker is killed and replaced and the batch
scores None; a crash, sys.exit or KeyboardInterrupt in your code fails that batch, not the run. So `check` imports
the function the way the worker will, in a fresh process: what does not import there (or not within STARTUP_S)
cannot be bounded and is refused with the reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import threading
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTUP_S = 60.0  # a worker whose reward module has not imported by then is refused (check) or given up (training)
WORKER_MAIN = "from r1lite.rewards.user_rewards import _serve; _serve()"
LOGGERS = ("log_metric", "log_extra")  # TRL's logging callables: called in the worker, replayed in the trainer
NOT_SENT = (*LOGGERS, "environments")  # callables and live objects stay in the trainer
MAX_REPLY_BYTES = 64 << 20  # a batch's scores and logs; a longer reply is refused, not read into the trainer


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
        raise ValueError(f"{name!r}: {target} cannot be imported ({type(e).__name__}: {e}){_path_hint(target, e)}") from e
    if not hasattr(module, attr):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ValueError(f"{name!r}: {target} has no attribute {attr!r}; its callables: {', '.join(public) or 'none'}")
    func = getattr(module, attr)
    if not callable(func):
        raise ValueError(f"{name!r}: {attr} is a {type(func).__name__}, not a function")  # noqa: TRY004 - a recipe's value
    return func


def _path_hint(target: str, error: Exception) -> str:
    """Why `pkg.mod` imports under `python -m r1lite` (the working directory is on sys.path) but not under the
    `r1lite` script (it is not), and what to do."""
    top = target.split(".")[0]
    here = Path.cwd()
    if (isinstance(error, ModuleNotFoundError) and error.name and error.name.split(".")[0] == top
            and ((here / top).is_dir() or (here / f"{top}.py").is_file())
            and not any(Path(p or ".").resolve() == here for p in sys.path)):
        return (f"; {top} is in the working directory, which the `r1lite` command does not search: run "
                f"`PYTHONPATH=. r1lite ...` or `python -m r1lite ...`, or name the file: {top}.py:function")
    return ""


def _signature_problem(name: str, func: Callable, args: dict[str, Any]) -> str | None:
    """What keeps TRL from calling `func` with the recipe's args, or None."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return None  # a builtin or C callable: nothing to inspect
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return (f"{name!r}: must accept **kwargs (TRL calls it with prompts, completions, completion_ids and "
                "every dataset column)")
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in args:
        if key not in named:
            return (f"{name!r}: args.{key} is not a parameter of the function; allowed values: "
                    f"{', '.join(n for n in named if n not in ('completions', 'prompts')) or 'none'}")
    return None


def describe_error(error: BaseException) -> str:
    """`Type: message at file.py:line` (the innermost frame: the user's line), on one line."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    text = " ".join(str(error).split())
    if isinstance(error, SystemExit):
        text = f"the function called sys.exit({error.code!r})"
    return f"{type(error).__name__}{': ' + text if text else ''}{where}"


def _serve() -> None:
    """Worker process main: import one reward function (sys.path, name, args: the first message), then answer each
    (completions, columns) call with ("ok", (scores, logged)) or ("error", what happened), on the original stdout;
    `logged`: the function's log_metric / log_extra calls, for the trainer to make."""
    from r1lite.grading import messages, worker_pipes

    inbox, outbox = worker_pipes()
    try:
        path, name, args = inbox.recv()
        sys.path[:] = path
        func = import_reward(name)
        problem = _signature_problem(name, func, args)
    except ValueError as e:
        outbox.send(("refused", str(e)))
        return
    except BaseException as e:  # noqa: BLE001 - sys.exit or worse at import: the reason it cannot be used
        outbox.send(("refused", f"{name!r}: importing it raised {describe_error(e)}"))
        return
    outbox.send(("refused", problem) if problem else ("ready", None))
    for completions, columns in messages(inbox):
        logged: list[tuple[str, str, Any]] = []
        loggers = {kind: (lambda key, value, kind=kind, into=logged: into.append((kind, key, value)))
                   for kind in LOGGERS}
        try:
            scores = func(completions=completions, **{**args, **columns, **loggers})
            if hasattr(scores, "tolist"):  # a numpy array or tensor
                scores = scores.tolist()
            elif not isinstance(scores, (list, tuple, str, bytes, dict)) and hasattr(scores, "__iter__"):
                scores = list(scores)
            outbox.send(("ok", (scores, logged)))
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included: the batch fails, the
            # worker (and the run) goes on
            outbox.send(("error", describe_error(e)))


class RewardFailure(RuntimeError):
    """A batch your reward function did not score: it raised, overran its deadline, or its process ended."""


def start_worker(name: str, args: dict[str, Any], startup_s: float | None = None) -> Any:
    """A worker process serving `name` with `args`, once it has imported it. Raises RewardFailure when it cannot
    (the reason: the import error, a bad signature, or no answer within startup_s)."""
    from r1lite.grading import Worker, recv_within

    worker = Worker(WORKER_MAIN)  # killed with what it started, at the latest when the trainer exits
    try:
        worker.outbox.send((list(sys.path), name, dict(args)))
        startup = STARTUP_S if startup_s is None else startup_s
        try:
            status, detail = recv_within(worker.inbox, startup, MAX_REPLY_BYTES)
        except (TimeoutError, ValueError):
            raise RewardFailure(f"{name!r}: did not import within {startup:g} s in a worker process") from None
        except (EOFError, OSError):
            raise RewardFailure(f"{name!r}: its worker process ended while importing it (exit code "
                                f"{worker.process.poll()})") from None
        if status != "ready":
            raise RewardFailure(detail)
    except BaseException:
        stop_worker(worker)
        raise
    return worker


def stop_worker(worker: Any) -> None:
    worker.kill()


def check_user_reward(name: str, args: dict[str, Any]) -> None:
    """What `r1lite check` verifies of your own reward, by importing it as training will, in a worker process: it
    imports there (in time), is callable, takes **kwargs (TRL passes every dataset column and more) and each recipe
    arg is a parameter it declares. Raises ValueError saying what is wrong."""
    try:
        stop_worker(start_worker(name, args))
    except RewardFailure as e:
        raise ValueError(str(e)) from None


def _plain_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """What TRL passes a reward, as plain data a worker can receive: trainer_state as its step counters, TRL's
    logging callables and environments left out (the worker passes its own loggers)."""
    out = {k: v for k, v in columns.items() if k not in NOT_SENT and k != "trainer_state"}
    state = columns.get("trainer_state")
    if state is not None:
        out["trainer_state"] = types.SimpleNamespace(**{k: getattr(state, k, None)
                                                        for k in ("global_step", "epoch", "max_steps")})
    return out


@dataclass
class UserReward:
    """Your own reward function (`module.path:function` or `file.py:function`), called with the recipe's args on
    every call, in a worker process with a deadline of timeout_s per batch (scoring.timeout_s); logged as
    rewards/<function name>. Raises RewardFailure for a batch it did not score. Pickles (without its worker)."""

    path: str
    args: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        self.__name__ = self.path.rpartition(":")[2]
        self._worker: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "args": self.args, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def __call__(self, completions: list, **columns: Any) -> Any:
        from r1lite.grading import recv_within

        with self._lock:
            if self._worker is None or self._worker.process.poll() is not None:
                self._worker = start_worker(self.path, self.args)
            worker = self._worker
            try:
                worker.outbox.send((list(completions), _plain_columns(columns)))
                message = recv_within(worker.inbox, self.timeout_s, MAX_REPLY_BYTES)
            except TimeoutError:  # no reply, or one not finished by the deadline
                self._drop()
                raise RewardFailure(f"no scores within {self.timeout_s:g} s (scoring.timeout_s); its worker was "
                                    "stopped, a new one scores the next batch") from None
            except (EOFError, OSError):
                self._drop()
                raise RewardFailure(f"its worker process ended (exit code {worker.process.poll()}); a new one scores "
                                    "the next batch") from None
            except ValueError as e:  # the pipe is mid-message: that worker cannot be used again
                self._drop()
                raise RewardFailure(f"{e}: too long to be a batch's scores; its worker was stopped") from None
        status, value = message
        if status != "ok":
            raise RewardFailure(value)
        scores, logged = value
        for kind, key, logged_value in logged:
            if callable(columns.get(kind)):
                columns[kind](key, logged_value)
        return scores

    def _drop(self) -> None:
        stop_worker(self._worker)
        self._worker = None

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._drop()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass
