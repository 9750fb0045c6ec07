"""What every stage does around its work: setup_env; open_run, the one run-folder policy (refuse or resume,
resolved_recipe.yaml); default_output_dir; versions (recorded in every run folder and results file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from r1lite.jsonl import write_atomic
from r1lite.recipe import ConfigError, apply_aliases, lookup, redact_logging, to_dict

log = logging.getLogger("r1lite")

PACKAGES = ("r1lite", "torch", "transformers", "trl", "accelerate", "datasets", "peft", "math-verify", "vllm")


def setup_env() -> None:
    """No telemetry pings (we may have no network at all); tokenizers' fork warning off; no key in a log line."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    redact_logging()


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def default_output_dir(stage: str) -> Path:
    return Path("runs") / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}"


def settings_output_dir(stage: str, recipe: Any, settings: Sequence[str]) -> Path:
    """runs/<stage>-<model>-<hash of the settings>: the same command finds its folder again (and resumes there),
    other settings get another."""
    values = _settings(to_dict(recipe), settings, ())
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]
    model = str(lookup(to_dict(recipe), "model.model_name_or_path") or "model").rstrip("/").split("/")[-1]
    return Path("runs") / f"{stage}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', model)[:40]}-{digest}"


RECIPE_FILE = "resolved_recipe.yaml"  # every run folder records the recipe that made it (secrets redacted)
LOCK_FILE = ".r1lite.lock"  # held (flock) by the run writing the folder; holds its pid
_LOCKS: dict[Path, Any] = {}  # folder -> the open lock file this process holds until it exits


def lock_output_dir(output_dir: Path, create: bool = False) -> None:
    """Make this process the only r1lite run writing `output_dir` (a folder that does not exist yet is locked when it
    is created, create=True). Another live run holding it: a ConfigError at once, naming its pid. A lock left by a
    killed run is free (the kernel drops a dead process's flock), and is taken over, saying whose it was. Held until
    this process exits; taking it again in the same process is a no-op (the demo's stages, a resumed call)."""
    if not is_main_process() or (not create and not output_dir.is_dir()):
        return
    output_dir = output_dir.resolve()
    if output_dir in _LOCKS:
        return
    import fcntl

    output_dir.mkdir(parents=True, exist_ok=True)
    handle = open(output_dir / LOCK_FILE, "a+")  # noqa: SIM115 - open as long as this process runs: the lock
    handle.seek(0)
    holder = handle.read().strip()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"output_dir: {output_dir} is being written by another r1lite run ({holder or 'pid unknown'}"
                          "); wait for it to finish, or use another output_dir") from None
    if holder:
        log.info("output_dir: taking over the lock of %s, which is no longer running", holder)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {platform.node()}")
    handle.flush()
    _LOCKS[output_dir] = handle


def open_run(output_dir: Path, recipe: Any, settings: Sequence[str] = (), ignored: Sequence[str] = (),
             outputs: Sequence[str] = (), write: bool = True) -> bool:
    """The one run-folder policy: refuse or resume, never mix two recipes' outputs.

    When `output_dir` holds outputs (files matching the `outputs` globs; any, when none are given) of a recorded
    recipe whose `settings` (dotted recipe fields that make an output what it is, less the `ignored` sub-fields)
    differ from this recipe's, refuse, naming each change, unless overwrite_output_dir. Returns whether the outputs
    there are this recipe's to continue (False: the stage starts them over). overwrite_output_dir means the same in
    every stage: the outputs are started over, even a run with the same settings (as the trainers delete their
    checkpoints), so it always returns False. With `write`, creates the folder and records the recipe, atomically
    (the main process only). Either way the folder is locked for this run first (lock_output_dir)."""
    lock_output_dir(output_dir, create=write)  # before its outputs are judged: another run may be writing them
    current, recorded = to_dict(recipe), output_dir / RECIPE_FILE
    has_outputs = not outputs or any(any(output_dir.glob(pattern)) for pattern in outputs)
    changed = []
    if has_outputs and settings and recorded.is_file():
        try:
            before = yaml.safe_load(recorded.read_text())
        except yaml.YAMLError:
            before = None
        if not isinstance(before, dict):
            raise ConfigError(f"output_dir: {recorded} is unreadable; use another output_dir or "
                              "--overwrite_output_dir true")
        before = apply_aliases(type(recipe), before)  # recorded before a field moved: compare it where it is now
        old, new = _settings(before, settings, ignored), _settings(current, settings, ignored)
        changed = [k for k in new if old.get(k) != new[k]]
        if changed and not recipe.overwrite_output_dir:
            details = "; ".join(f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new[k])}" for k in changed)
            raise ConfigError(f"output_dir: {output_dir} holds a run made with other settings ({', '.join(changed)} "
                              f"differ: {details}); use another output_dir, the same settings, or "
                              "--overwrite_output_dir true")
    if write and is_main_process():
        write_atomic(output_dir / RECIPE_FILE, yaml.safe_dump(current, sort_keys=False))
    return not changed and not recipe.overwrite_output_dir


def _settings(recipe: dict[str, Any], keys: Sequence[str], ignored: Sequence[str]) -> dict[str, Any]:
    """The `keys` (dotted) of a recipe as plain data, each mapping less its `ignored` sub-fields."""
    out = {k: lookup(recipe, k) for k in keys}
    for dotted in ignored:
        key, _, name = dotted.rpartition(".")
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k != name}
    return json.loads(json.dumps(out, sort_keys=True, default=str))
