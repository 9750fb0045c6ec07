"""`r1lite sft`: distillation / cold-start SFT on reasoning traces, on TRL's SFTTrainer.

recipe -> conversations (data.py: a `messages` column, or problem + solution turned into R1 format) -> prompt /
completion pairs (the last assistant turn is the completion, so the loss is on assistant tokens only with any chat
template) -> trl.SFTConfig(recipe.trainer) -> SFTTrainer(model, peft) -> train (resuming when asked) -> save.

Packing (`packing: true`, TRL's bfd, padding-free), padding_free, max_length, gradient checkpointing,
`model_init_kwargs: {use_kernels: true}` (Liger/Hub kernels) and report_to are TRL fields passed through unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1lite import data, models, runtime
from r1lite.config import ConfigError, SFTRecipe


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
    from trl import SFTConfig, SFTTrainer, get_peft_config

    tokenizer = models.load_tokenizer(recipe.model.model_name_or_path, recipe.model.model_revision,
                                      recipe.model.trust_remote_code, padding_side="right")
    dataset = to_prompt_completion(data.load_conversations(recipe.data))
    if not recipe.trainer.get("chat_template_path"):
        check_think_survives(dataset, tokenizer)
    try:
        args = SFTConfig(**runtime.trainer_kwargs(recipe, output_dir))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trainer: {e}") from e

    return SFTTrainer(
        model=models.load_model(recipe.model),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(recipe.model),
        callbacks=[runtime.metrics_callback(output_dir)],
    )


def run_sft(recipe: SFTRecipe) -> Path:
    """Fine-tune on the recipe's conversations; returns the output folder (model or adapter, logs, checkpoints)."""
    return runtime.train_stage("sft", recipe, build_trainer)
