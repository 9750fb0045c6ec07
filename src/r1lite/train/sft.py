"""`r1lite sft`: distillation / cold-start SFT on reasoning traces, on TRL's SFTTrainer.

Read top to bottom: SFTRecipe (its sections and validate()), load_conversations, build_trainer, run, cli.

    cli(argv): runtime.load_training_recipe(SFTRecipe) (YAML + overrides -> validate(), logging) -> run(recipe):
      runtime.start_training (output folder, resume policy, run record)
      -> build_trainer: conversations (messages, conversational prompt/completion, or problem + solution;
         dataset_formats.py) -> prompt / completion pairs (the last assistant turn is the completion, so the loss is on
         assistant tokens only with any chat template; standard prompt/completion and `text` rows go to TRL as they
         are) -> trl.SFTConfig(recipe.trainer) -> SFTTrainer(model from models.load_model, peft)
      -> runtime.train_and_save: SFTTrainer.train() (resuming when asked) -> save -> [push]

Packing (`packing: true`, TRL's bfd, padding-free), padding_free, max_length, gradient checkpointing and report_to
are TRL fields passed through unchanged. r1lite loads the model itself (GGUF, tiny:<arch>, adapter folders), so
`model_init_kwargs` (e.g. `{use_kernels: true}` for Hub/Liger kernels) and QLoRA (`model.load_in_4bit`) are applied
by models.load_model: TRL ignores both for a model passed in already loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite import data, models
from r1lite.data import DataArgs, build_messages, check_data, check_formats, sft_format, system_prompt
from r1lite.models import ModelArgs, check_model
from r1lite.recipe import ConfigError, check_positive, trainer_section, trainer_value
from r1lite.train import checkpoints, runtime

log = logging.getLogger("r1lite")


@dataclass
class SFTRecipe:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    trainer: dict[str, Any] = trainer_section("sft")  # noqa: RUF009 - a dataclasses.field
    overwrite_output_dir: bool = False

    def validate(self) -> None:
        check_model(self.model)
        check_formats(self.data, "sft")
        check_data(self.data, need_answer=False, need_solution=True)
        for name in ("max_length", "per_device_train_batch_size", "gradient_accumulation_steps"):
            check_positive(f"trainer.{name}", trainer_value(self, name))
        checkpoints.check_resume(self.trainer)


Recipe = SFTRecipe  # the stage contract (cli.COMMANDS): Recipe, run, cli


def load_conversations(args: DataArgs) -> Any:
    """SFT data in one of TRL's formats (dataset_formats.py): a `messages` column (from messages, conversational
    prompt/completion, or problem + solution), or standard `prompt`/`completion` text, or `text`."""
    if not args.sources:
        raise ConfigError("data.sources: at least one source is needed")
    parts = []
    for i, source in enumerate(args.sources):
        ds = data.read_source(source)
        fmt, why = sft_format(ds[0])
        if fmt is None:
            raise ConfigError(f"data.sources[{i}]: {source.path}: {why} (r1lite check lists the accepted formats)")
        if fmt == "standard prompt-completion":
            parts.append(ds.select_columns(["prompt", "completion", "id", "source"]))
            continue
        if fmt == "text":
            parts.append(ds.select_columns(["text", "id", "source"]))
            continue
        if fmt == "conversational prompt-completion":
            ds = ds.map(lambda row: {"messages": row["prompt"] + row["completion"]})
        elif fmt == "problem-solution":
            ds = ds.map(lambda row: {"messages": build_messages(row["problem"], args.system_prompt,
                                                                        args.prompt_template)
                                     + [{"role": "assistant", "content": data.format_solution(row, args.wrap_in_think)}]})
        if system_prompt(args.system_prompt) and ds[0]["messages"][0]["role"] != "system":
            text = system_prompt(args.system_prompt)
            ds = ds.map(lambda row, text=text: {"messages": [{"role": "system", "content": text}] + row["messages"]})
        parts.append(ds.select_columns(["messages", "id", "source"]))
    return data.mix(parts, args.sources, args.num_samples, args.seed, args.shuffle)


def to_prompt_completion(conversations: Any) -> Any:
    """messages -> prompt (all turns before the last) + completion (the last, assistant, turn). TRL then masks the
    prompt out of the loss (completion_only_loss) whatever the chat template is."""

    def split(row: dict[str, Any]) -> dict[str, Any]:
        messages = row["messages"]
        if messages[-1]["role"] != "assistant":
            raise ConfigError(f"data: row {row.get('id')} does not end with an assistant turn")
        return {"prompt": messages[:-1], "completion": messages[-1:]}

    return conversations.map(split, remove_columns=["messages"])


def check_think_survives(dataset: Any, tokenizer: Any) -> None:
    """Some chat templates (DeepSeek-R1-Distill's) drop everything up to </think> from assistant turns: training on
    them would silently teach the model to skip its reasoning. Fail loudly instead."""
    row = dataset[0]
    if "</think>" not in row["completion"][0]["content"]:
        return
    text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    if "</think>" not in text:
        raise ConfigError("model: this tokenizer's chat template removes the <think> block from assistant turns; set "
                          "trainer.chat_template_path to a template that keeps it")


def build_trainer(recipe: SFTRecipe, output_dir: Path) -> Any:
    """The SFTTrainer for a recipe, ready to train (its train_dataset is tokenized, labels masked, packed)."""
    import torch
    from trl import SFTConfig, SFTTrainer, get_peft_config

    models.check_model_loading(recipe.model, recipe.trainer,
                               on_gpu=torch.cuda.is_available() and not recipe.trainer.get("use_cpu"))
    tokenizer = models.load_tokenizer(recipe.model.model_name_or_path, recipe.model.model_revision,
                                      recipe.model.trust_remote_code, padding_side="right")
    dataset = load_conversations(recipe.data)
    if "messages" in dataset.column_names:  # standard prompt/completion and text go to TRL as they are
        dataset = to_prompt_completion(dataset)
        if not recipe.trainer.get("chat_template_path"):
            check_think_survives(dataset, tokenizer)
    kwargs = runtime.trainer_kwargs(recipe, output_dir)
    kwargs.pop("model_init_kwargs", None)  # applied by models.load_model; TRL would only warn that it ignores them
    try:
        args = SFTConfig(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trainer: {e}") from e

    trainer = SFTTrainer(
        model=models.load_model(recipe.model, init_kwargs=recipe.trainer.get("model_init_kwargs")),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(recipe.model),
        callbacks=[runtime.metrics_callback(output_dir)],
    )
    check_kept(trainer.train_dataset, len(dataset), args.max_length)
    return trainer


def check_kept(prepared: Any, n_conversations: int, max_length: int | None) -> None:
    """TRL drops conversations whose assistant turn lies wholly beyond max_length (after a long prompt): say how many,
    and fail when none is left rather than crash in the data loader."""
    kept = (sum(len(s) for s in prepared["seq_lengths"]) if "seq_lengths" in prepared.column_names
            else len(prepared))
    if kept == 0:
        raise ConfigError(f"trainer.max_length: every one of the {n_conversations} conversations has its assistant "
                          f"turn beyond max_length ({max_length}) tokens; raise max_length or shorten the prompts")
    if kept < n_conversations:
        log.warning("%d of %d conversations dropped: their assistant turn starts beyond max_length (%s)",
                    n_conversations - kept, n_conversations, max_length)


def run(recipe: SFTRecipe) -> Path:
    """Fine-tune on the recipe's conversations; returns the output folder (model or adapter, logs, checkpoints)."""
    output_dir, resume, repo_id = runtime.start_training("sft", recipe)
    trainer = build_trainer(recipe, output_dir)
    return runtime.train_and_save("sft", trainer, recipe, output_dir, resume, repo_id)


def cli(argv: list[str]) -> int:
    """`r1lite sft [--config R] [--field value ...]`."""
    recipe = runtime.load_training_recipe(SFTRecipe, argv)
    runtime.say_finished("sft", run(recipe))
    return 0
