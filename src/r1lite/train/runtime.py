"""What a trainer stage does around its trainer.

    load_training_recipe (YAML + overrides -> validated recipe, logging) -> start_training: environment, output
    folder, resume policy (checkpoints.prepare_output_dir), run record, Hub repo -> trainer_kwargs (the recipe's
    trainer: fields plus device defaults) and metrics_callback (metrics.jsonl) for the trainer -> train_and_save:
    train() -> save -> push -> trackers closed
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from r1lite.jsonl import append_jsonl
from r1lite.models import create_model_repo, push_model
from r1lite.recipe import load_cli_recipe, redact, redact_logging
from r1lite.runs import default_output_dir, is_main_process, lock_output_dir, open_run, setup_env, versions
from r1lite.train.checkpoints import prepare_output_dir

log = logging.getLogger("r1lite")
# the trainer fields that are credentials (transformers' TrainingArguments, which TRL's configs extend: hub_token, and
# push_to_hub_token in older releases); other fields named *_token (SFTConfig's eos_token, pad_token) are settings
TRAINER_SECRETS = ("hub_token", "push_to_hub_token")


def setup_logging(trainer_fields: dict[str, Any] | None = None) -> None:
    """r1lite's log lines once per run, not once per process: the main process logs at trainer.log_level (default
    info), the others at trainer.log_level_replica (default warning), as transformers does for its own."""
    fields = trainer_fields or {}
    main = is_main_process()
    name = str(fields.get("log_level", "passive") if main else fields.get("log_level_replica", "warning")).lower()
    level = (logging.INFO if main else logging.WARNING) if name == "passive" else getattr(logging, name.upper())
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    log.setLevel(level)
    redact_logging()
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


def trainer_kwargs(recipe: Any, output_dir: Path) -> dict[str, Any]:
    """The recipe's trainer fields plus device-dependent defaults the recipe did not set itself:
    on CPU, use_cpu (for multi-process gloo), bf16 off (TRL defaults it on; bf16 autocast is only faster on a CPU with
    bf16 instructions, where a recipe's `bf16: true` is kept) and activation checkpointing off (it only costs time
    there); a per-step log, so short runs show their curves."""
    import torch

    # the Trainer pickles its arguments into training_args.bin (run folder and every checkpoint): no secret goes in.
    # hub_token is read from the recipe by the Hub calls themselves (models.hub); a key pasted into run_name is blanked
    kwargs = {k: redact(v) for k, v in recipe.trainer.items() if k not in TRAINER_SECRETS}
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


def start_training(stage: str, recipe: Any) -> tuple[Path, str | None, str | None]:
    """Before a trainer is built: environment, output folder and resume policy (checkpoints), run record, Hub repo.
    Returns (output folder, checkpoint to resume from, Hub repo id to push to)."""
    setup_env()
    output_dir = Path(recipe.trainer.get("output_dir") or default_output_dir(stage))
    lock_output_dir(output_dir)  # before its checkpoints are judged: another run may be writing them
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
