"""Bounded, parallel answer grading: every completion gets a Grade within `timeout_s`, from any thread or rank.

Plain numbers are decided in-process (most GRPO completions on GSM8K-style data). Everything else goes to a pool
of worker processes, one item at a time per worker; a worker that overruns its deadline is killed and replaced,
and that completion is graded wrong (`timed_out=True`). This replaces math-verify's SIGALRM timeouts, which only
work on the main thread and so fail inside TRL's async reward loop, threads and some launchers.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import hashlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from r1lite.grading.answer_extraction import completion_text
from r1lite.grading.grading import Grade, grade, grade_quick
from r1lite.recipe import ConfigError, check_positive

log = logging.getLogger(__name__)
CACHE_SIZE = 65_536
STARTUP_S = 60.0  # a worker that has not imported its libraries by then is replaced


@dataclass
class ScoringArgs:
    timeout_s: float = 5.0  # every completion (a batch, for your own reward functions) is scored within this time
    num_workers: int | None = None  # scoring processes; default: all CPU cores
    invalid_scores: str = "none"  # a reward's non-score (text, NaN, wrong count): none (scored None, counted) | error

    def validate(self, where: str = "scoring") -> None:
        # num_workers <= 0 would start no worker, and a batch needing one would wait for it forever
        check_positive(f"{where}.timeout_s", self.timeout_s)
        check_positive(f"{where}.num_workers", self.num_workers)
        if self.invalid_scores not in ("none", "error"):
            raise ConfigError(f"{where}.invalid_scores: {self.invalid_scores!r}; allowed values: none, error")


def default_num_workers() -> int:
    """All cores, shared between the ranks of this node."""
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // max(1, local_world))


def worker_pipes() -> tuple[Connection, Connection]:
    """In a Worker's process: (inbox, outbox), its messages in on stdin and out on the original stdout; stdout itself
    then goes to stderr, so whatever a library or a user's function prints never enters the result pipe."""
    out_fd = os.dup(1)
    os.dup2(2, 1)
    return Connection(os.dup(0), writable=False), Connection(out_fd, readable=False)


def recv_within(connection: Connection, timeout_s: float, max_bytes: int) -> Any:
    """One message from a Worker, whole within timeout_s (a worker that stops mid-reply cannot hold the caller) and
    at most max_bytes long. Raises TimeoutError or ValueError (too long; the pipe is then mid-message: drop the
    worker), EOFError when it ended. Reads the framing Connection.send writes: a 4-byte big-endian length (-1: an
    8-byte one follows), then the pickle."""
    deadline = time.monotonic() + timeout_s
    fd = connection.fileno()

    def read(n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    size = struct.unpack("!i", read(4))[0]
    if size == -1:
        size = struct.unpack("!Q", read(8))[0]
    if size > max_bytes:
        raise ValueError(f"a reply of {size} bytes (at most {max_bytes})")
    return pickle.loads(read(size))


def messages(inbox: Connection) -> Iterator[Any]:
    """In a Worker's process: each message from its inbox, until the pipe ends or a None asks it to stop."""
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        yield message


def _serve() -> None:
    """Worker process main: grade (index, text, gold, anywhere) messages from stdin, answer on the original stdout."""
    inbox, outbox = worker_pipes()
    import math_verify  # noqa: F401 - imported before saying ready, so start-up never eats an item's deadline

    outbox.send("ready")
    for index, text, gold, anywhere in messages(inbox):
        try:
            result = grade(text, gold, anywhere)
        except Exception:  # noqa: BLE001 - a parser crash is a wrong answer, not a dead worker
            result = Grade(None, False)
        outbox.send((index, result))


class Worker:
    """A plain `python -c` subprocess (not multiprocessing: that would re-import the user's __main__) running `main`
    (user_rewards runs users' reward functions in one)."""

    def __init__(self, main: str = "from r1lite.grading.bounded_pool import _serve; _serve()") -> None:
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": "1"}
        # a session (process group) of its own: what it starts (a user's sandbox, a server) is killed with it
        self.process = subprocess.Popen([sys.executable, "-c", main], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env, start_new_session=True)
        self.owner = os.getpid()  # a forked child inherits this object, not the right to kill the process
        _LIVE.add(self)
        _kill_live_on_sigterm()
        self.inbox = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.outbox = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.task: tuple[int, float] | None = None  # (item index, start time)
        self.ready, self.started = False, time.monotonic()

    def kill(self) -> None:
        """Kill its whole process group (before reaping it, so the group id cannot have been reused)."""
        _LIVE.discard(self)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=5)
        self.inbox.close()
        self.outbox.close()

    def stop(self) -> None:
        try:
            self.outbox.send(None)
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


_LIVE: set[Worker] = set()  # every worker still running: killed (with its group) at exit and on SIGTERM
_PREVIOUS_SIGTERM: list[Any] = []  # the SIGTERM handler found when ours was installed (accelerate's, torchrun's)


@atexit.register
def _kill_live() -> None:
    for worker in [w for w in _LIVE if w.owner == os.getpid()]:
        try:
            worker.kill()
        except Exception:  # noqa: BLE001, S110 - exiting anyway: kill the rest
            pass


def _on_sigterm(signum: int, frame: Any) -> None:
    _kill_live()
    previous = _PREVIOUS_SIGTERM[0]
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default: end as a SIGTERM would have
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _kill_live_on_sigterm() -> None:
    """A terminated trainer (a job scheduler's SIGTERM skips atexit) kills its workers' groups first, then does what
    the handler it found would have done: launchers' handlers keep working."""
    if _PREVIOUS_SIGTERM or threading.current_thread() is not threading.main_thread():
        return
    _PREVIOUS_SIGTERM.append(signal.getsignal(signal.SIGTERM))
    signal.signal(signal.SIGTERM, _on_sigterm)


class Scorer:
    """Grades (completion, gold) pairs with a hard per-item deadline, in parallel, with an LRU cache."""

    def __init__(self, timeout_s: float = 5.0, num_workers: int | None = None):
        if timeout_s <= 0:
            raise ValueError(f"scoring timeout_s must be positive, got {timeout_s}")
        if num_workers is not None and num_workers < 0:  # no worker would start, and a remote grade would wait forever
            raise ValueError(f"scoring num_workers must be positive (or 0/None: every core), got {num_workers}")
        self.timeout_s = timeout_s
        self.num_workers = num_workers or default_num_workers()
        self.cache: collections.OrderedDict[tuple[bytes, str | None, bool], Grade] = collections.OrderedDict()
        self.workers: list[Worker] = []
        self.lock = threading.Lock()  # one batch at a time: workers and cache are shared state
        self.pid = os.getpid()
        self.stats = collections.Counter()

    def grade_batch(self, completions: Sequence[Any], golds: Sequence[str | None],
                    anywhere: bool = True) -> list[Grade]:
        """One Grade per completion. anywhere=False (rewards) skips the correct_anywhere check (eval wants it)."""
        if len(completions) != len(golds):
            raise ValueError(f"{len(completions)} completions but {len(golds)} gold answers")
        texts = [completion_text(c) for c in completions]
        with self.lock:
            if self.pid != os.getpid():  # inherited by a fork: the pipes belong to the parent
                self.workers, self.pid = [], os.getpid()
            results: list[Grade | None] = [None] * len(texts)
            keys = [(hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=16).digest(),
                     None if g is None else str(g), anywhere) for t, g in zip(texts, golds)]
            todo: dict[tuple[bytes, str | None, bool], list[int]] = {}
            for i, key in enumerate(keys):
                if key in self.cache:
                    self.cache.move_to_end(key)
                    results[i] = self.cache[key]
                    self.stats["cached"] += 1
                else:
                    todo.setdefault(key, []).append(i)
            remote = []
            for key, indices in todo.items():
                quick = grade_quick(texts[indices[0]], key[1], anywhere)
                if quick is None:
                    remote.append(indices[0])
                else:
                    self.stats["quick"] += 1
                    self._store(key, indices, quick, results)
            for i, graded in self._run_remote([(i, texts[i], keys[i][1], anywhere) for i in remote]).items():
                self._store(keys[i], todo[keys[i]], graded, results)
            return results  # type: ignore[return-value]

    def _store(self, key: tuple[bytes, str | None, bool], indices: list[int], graded: Grade,
               results: list[Grade | None]) -> None:
        for i in indices:
            results[i] = graded
        if not graded.timed_out:  # a timeout may be load-dependent: do not remember it
            self.cache[key] = graded
            if len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)

    def _run_remote(self, items: list[tuple[int, str, str | None, bool]]) -> dict[int, Grade]:
        if not items:
            return {}
        while len(self.workers) < min(self.num_workers, len(items)):
            self.workers.append(Worker())
        queue, done, failed_starts = collections.deque(items), {}, 0
        while queue or any(w.task for w in self.workers):
            for w in self.workers:
                if w.ready and w.task is None and queue:
                    item = queue.popleft()
                    try:
                        w.outbox.send(item)
                    except OSError:  # it died while idle: replace it, the item goes back in line
                        queue.appendleft(item)
                        self._replace(w)
                        continue
                    w.task = (item[0], time.monotonic())
            waiting = [w for w in self.workers if w.task or not w.ready]
            if not waiting:  # every idle worker had died and was replaced: hand out the work again
                continue
            deadlines = [w.task[1] + self.timeout_s if w.task else w.started + STARTUP_S for w in waiting]
            ready = wait([w.inbox for w in waiting], timeout=max(0.0, min(deadlines) - time.monotonic()))
            now = time.monotonic()
            for w in waiting:
                if w.inbox in ready:
                    try:
                        message = w.inbox.recv()
                    except (EOFError, OSError):  # the worker died (e.g. out of memory): grade wrong, replace it
                        if w.task:
                            done[w.task[0]] = Grade(None, False, timed_out=True)
                        self._replace(w)
                        continue
                    if message == "ready":
                        w.ready = True
                        continue
                    index, graded = message
                    self.stats["remote"] += 1
                    done[index] = graded
                    w.task = None
                elif w.task and now - w.task[1] > self.timeout_s:
                    done[w.task[0]] = Grade(None, False, timed_out=True)
                    self.stats["timed_out"] += 1
                    self._replace(w)
                elif not w.ready and now - w.started > STARTUP_S:  # a worker that cannot start: try a new one
                    self._replace(w)
                    failed_starts += 1
            if failed_starts > 2 * len(self.workers):  # workers cannot start here at all: never hang the trainer
                log.error("scoring workers fail to start; %d completions graded wrong", len(queue))
                while queue:
                    done[queue.popleft()[0]] = Grade(None, False, timed_out=True)
        return done

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        self.workers[self.workers.index(worker)] = Worker()

    def close(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                for w in self.workers:
                    w.stop()
            self.workers = []

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: the modules close() needs may be gone
            self.close()


_SHARED: dict[tuple[float, int | None], Scorer] = {}


def shared_scorer(timeout_s: float = 5.0, num_workers: int | None = None) -> Scorer:
    """One scorer per (timeout, workers) per process, so accuracy, cosine and length share workers and cache."""
    key = (timeout_s, num_workers)
    if key not in _SHARED or _SHARED[key].pid != os.getpid():
        _SHARED[key] = Scorer(timeout_s, num_workers)
    return _SHARED[key]


def grade_batch(completions: Sequence[Any], golds: Sequence[str | None], timeout_s: float = 5.0,
                num_workers: int | None = None, anywhere: bool = True) -> list[Grade]:
    return shared_scorer(timeout_s, num_workers).grade_batch(completions, golds, anywhere)
