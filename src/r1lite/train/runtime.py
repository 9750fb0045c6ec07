"""What every stage does around its work.

    every stage   setup_env; open_run (the run folder: refuse or resume, resolved_recipe.yaml)
    trainers      start_training: output folder, resume policy (prepare_output_dir: complete checkpoints, logs cut
                  back to the resumed step), run.json, Hub repo -> trainer_kwargs (the recipe's trainer: fields plus
                  device defaults) and metrics_callback (metrics.jsonl) for the trainer -> train_and_save: train()
                  -> save -> push -> trackers closed
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from r1lite.models import create_model_repo, push_model
from r1lite.recipe import ConfigError, apply_aliases, check_output_path, load_cli_recipe, lookup, to_dict
from r1lite.jsonl import append_jsonl, write_atomic

log = logging.getLogger("r1lite")

PACKAGES = ("r1lite", "torch", "transformers", "trl", "accelerate", "datasets", "peft", "math-verify", "vllm")


def setup_env() -> None:
    """No telemetry pings (we may have no network at all); tokenizers' fork warning off."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def setup_logging(trainer_fields: dict[str, Any] | None = None) -> None:
    """r1lite's log lines once per run, not once per process: the main process logs at trainer.log_level (default
    info), the others at trainer.log_level_replica (default warning), as transformers does for its own."""
    fields = trainer_fields or {}
    main = is_main_process()
    name = str(fields.get("log_level", "passive") if main else fields.get("log_level_replica", "warning")).lower()
    level = (logging.INFO if main else logging.WARNING) if name == "passive" else getattr(logging, name.upper())
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    log.setLevel(level)
    import transformers

    transformers.logging.set_verbosity_warning()


def load_training_recipe(recipe_class: type, argv: list[str]) -> Any:
    """A trainer's `--config R --field value ...` -> its validated recipe, with r1lite's logging set from the
    recipe's trainer: fields (setup_logging)."""
    recipe = load_cli_recipe(recipe_class, argv)
    setup_logging(recipe.trainer)
    return recipe


def say_finished(stage: str, output_dir: Path) -> None:
    """Where the run went: once, not once per process under accelerate launch / torchrun."""
    if is_main_process():
        print(f"{stage} finished: {output_dir}")


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


RECIPE_FILE = "resolved_recipe.yaml"  # every run folder records the recipe that made it (secrets redacted)


def open_run(output_dir: Path, recipe: Any, settings: Sequence[str] = (), ignored: Sequence[str] = (),
             outputs: Sequence[str] = (), write: bool = True) -> bool:
    """The one run-folder policy: refuse or resume, never mix two recipes' outputs.

    When `output_dir` holds outputs (files matching the `outputs` globs; any, when none are given) of a recorded
    recipe whose `settings` (dotted recipe fields that make an output what it is, less the `ignored` sub-fields)
    differ from this recipe's, refuse, naming each change, unless overwrite_output_dir. Returns whether the outputs
    there are this recipe's to continue (False: the stage starts them over). overwrite_output_dir means the same in
    every stage: the outputs are started over, even a run with the same settings (as the trainers delete their
    checkpoints), so it always returns False. With `write`, creates the folder and records the recipe, atomically
    (the main process only)."""
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
        output_dir.mkdir(parents=True, exist_ok=True)
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


def trainer_kwargs(recipe: Any, output_dir: Path) -> dict[str, Any]:
    """The recipe's trainer fields plus device-dependent defaults the recipe did not set itself:
    on CPU, use_cpu (for multi-process gloo), bf16 off (TRL defaults it on and then refuses to run) and activation
    checkpointing off (it only costs time there); a per-step log, so short runs show their curves."""
    import torch

    kwargs = dict(recipe.trainer)
    kwargs["output_dir"] = str(output_dir)
    kwargs.pop("resume_from_checkpoint", None)  # handled by prepare_output_dir, passed to train()
    kwargs.pop("push_to_hub", None)  # r1lite pushes the final folder itself (hub.py); TRL would upload the logs too
    on_gpu = torch.cuda.is_available() and not kwargs.get("use_cpu")
    if not on_gpu:
        kwargs.setdefault("use_cpu", True)  # without it torchrun/accelerate on CPU start gloo but train unsynced
        kwargs.setdefault("bf16", False)
        kwargs.setdefault("dataloader_pin_memory", False)
        if "gradient_checkpointing" not in kwargs:
            kwargs.setdefault("activation_checkpointing", False)
    elif "gradient_checkpointing" in kwargs and "activation_checkpointing" not in kwargs:
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")  # transformers 5 renamed it
    kwargs.setdefault("logging_steps", 1)
    return kwargs


def default_output_dir(stage: str) -> Path:
    return Path("runs") / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}"


def start_training(stage: str, recipe: Any) -> tuple[Path, str | None, str | None]:
    """Before a trainer is built: environment, output folder and resume policy (checkpoints), run record, Hub repo.
    Returns (output folder, checkpoint to resume from, Hub repo id to push to)."""
    setup_env()
    output_dir = Path(recipe.trainer.get("output_dir") or default_output_dir(stage))
    resume = prepare_output_dir(output_dir, recipe.trainer.get("resume_from_checkpoint"), recipe.overwrite_output_dir)
    open_run(output_dir, recipe)  # a trainer's run folder is judged by its checkpoints (above), not its settings
    if is_main_process():
        (output_dir / "run.json").write_text(json.dumps(
            {"stage": stage, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": versions()}, indent=2))
    push = recipe.trainer.get("push_to_hub") and is_main_process()
    repo_id = create_model_repo(recipe.trainer, output_dir) if push else None  # a bad token fails now
    return output_dir, resume, repo_id


def train_and_save(stage: str, trainer: Any, recipe: Any, output_dir: Path, resume: str | None,
                   repo_id: str | None) -> Path:
    """trainer.train() (resuming when asked), then the final model or adapter and its tokenizer, the Hub push."""
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(output_dir))
    if is_main_process():
        tokenizer = trainer.processing_class
        tokenizer.padding_side = "left"  # the next stage (GRPO, eval) generates, and generation pads on the left
        tokenizer.save_pretrained(str(output_dir))
    if repo_id:
        push_model(trainer, recipe, repo_id, output_dir, stage)
    close_trackers(trainer.args.report_to)
    return output_dir


def close_trackers(report_to: list[str] | str | None) -> None:
    """Finish the runs of the experiment trackers the stage reported to. transformers leaves wandb and trackio runs
    open, so the next stage in the same process (the demo, a script) would log into this stage's run."""
    names = [report_to] if isinstance(report_to, str) else report_to or []
    for name in ("wandb", "trackio"):
        module = sys.modules.get(name)
        if module is not None and (name in names or "all" in names):
            module.finish()


# ---------------------------------------------------------------------------------------------------------------------
# logging callbacks


def metrics_callback(output_dir: Path) -> Any:
    """Appends every trainer log row (reward per function, lengths, clip ratio, loss, ...) to metrics.jsonl."""
    from transformers import TrainerCallback

    class MetricsJSONL(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, "time": round(time.time(), 3), **logs}
                append_jsonl(output_dir / "metrics.jsonl", [row], default=float)

    return MetricsJSONL()
