"""Checkpoints and resume: which checkpoints are complete, the resume policy of a trainer's output folder
(prepare_output_dir), logs cut back to the resumed step (trim_logs), and the trainer fields that set it (check_resume).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from r1lite.jsonl import write_atomic
from r1lite.recipe import ConfigError, check_output_path
from r1lite.runs import is_main_process

log = logging.getLogger("r1lite")


def checkpoints(output_dir: Path) -> list[Path]:
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def checkpoint_step(checkpoint: Path) -> int | None:
    """The step a checkpoint holds, or None when it is incomplete. The Trainer writes trainer_state.json last (after
    the weights, in whatever layout: safetensors, DeepSpeed or FSDP shards), so a save killed midway leaves it
    missing or cut short."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return None
    step = state.get("global_step") if isinstance(state, dict) else None
    return step if isinstance(step, int) else None


def _remove_incomplete(incomplete: list[Path]) -> None:
    """A half-written checkpoint can't be resumed from; the run that resumes or starts over writes it again."""
    for path in incomplete:
        log.warning("skipping incomplete checkpoint %s (killed while saving?): removing it", path)
        if is_main_process():
            shutil.rmtree(path, ignore_errors=True)


LOG_FILES = ("metrics.jsonl", "completions.jsonl", "completions.rank*.jsonl")


def trim_logs(output_dir: Path, step: int) -> None:
    """Keep only the log rows of the run being continued from `step` (0: a fresh run keeps none). A run killed after
    its last checkpoint logged steps that the resumed run does again; keeping both would give two rows per step.
    metrics rows carry the step they finished; completion rows the step count before they were generated."""
    if not is_main_process():
        return
    for pattern in LOG_FILES:
        for path in output_dir.glob(pattern):
            kept, dropped = [], 0
            for line in path.read_text(errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    row_step = row.get("step")
                except (ValueError, AttributeError):
                    row, row_step = {}, None  # a line cut by the kill
                keep = isinstance(row_step, int) and (row_step <= step if path.name == "metrics.jsonl"
                                                      else row_step < step)
                keep = keep and "train_runtime" not in row  # a finished run's summary: train() logs a new one
                if keep:
                    kept.append(line + "\n")
                else:
                    dropped += 1
            if dropped:
                write_atomic(path, "".join(kept))
                log.info("%s: dropped %d rows logged after step %d (they are redone)", path, dropped, step)


def prepare_output_dir(output_dir: Path, resume: str | None, overwrite: bool) -> str | None:
    """The checkpoint to resume from, or None. Never resumes or overwrites silently:
    - resume "latest": the newest complete checkpoint-N in output_dir (a fresh start, logged, when there is none);
      incomplete ones (a kill during a save) are skipped and removed, saying so;
    - resume <path>: that checkpoint;
    - no resume and complete checkpoints present: an error, unless overwrite_output_dir, which deletes them.
    The logs (metrics.jsonl, completions*.jsonl) are cut back to the step the run continues from."""
    existing = checkpoints(output_dir) if output_dir.is_dir() else []
    complete = [p for p in existing if checkpoint_step(p) is not None]
    _remove_incomplete([p for p in existing if p not in complete])
    if resume == "latest":
        if complete:
            log.info("resuming from %s", complete[-1])
            trim_logs(output_dir, checkpoint_step(complete[-1]))
            return str(complete[-1])
        log.info("resume_from_checkpoint=latest but %s holds no complete checkpoint: starting from step 0", output_dir)
        trim_logs(output_dir, 0)
        return None
    if resume:
        step = checkpoint_step(Path(resume))
        if step is None:
            raise ConfigError(f"trainer.resume_from_checkpoint: {resume} is not a complete checkpoint (no readable "
                              "trainer_state.json or weights: killed while saving?); use an earlier checkpoint-N")
        if output_dir.is_dir():
            trim_logs(output_dir, step)
        return resume
    if complete:
        if not overwrite:
            raise ConfigError(
                f"trainer.output_dir: {output_dir} already holds checkpoints ({complete[-1].name}); set "
                f"--resume_from_checkpoint latest to continue that run, or --overwrite_output_dir true to start over")
        if is_main_process():
            for path in complete:
                shutil.rmtree(path)
            log.info("overwrite_output_dir: removed %d checkpoints from %s", len(complete), output_dir)
    if output_dir.is_dir():
        trim_logs(output_dir, 0)  # a fresh run starts fresh logs
    return None


def check_resume(trainer: dict[str, Any]) -> None:
    """A trainer recipe's output_dir and resume_from_checkpoint, checked at load (prepare_output_dir acts on them)."""
    check_output_path(trainer.get("output_dir"), "trainer.output_dir")
    resume = trainer.get("resume_from_checkpoint")
    if resume not in (None, "latest") and not Path(str(resume)).is_dir():
        raise ConfigError(f"trainer.resume_from_checkpoint: {resume!r} is not a folder; allowed values: latest or "
                          "the path of a checkpoint-<step> folder")
