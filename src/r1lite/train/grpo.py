"""`r1lite grpo`: R1-Zero-style reinforcement learning with rule rewards, on TRL's GRPOTrainer.

Read top to bottom: GRPORecipe (its sections and validate()), build_trainer, run, cli.

    cli(argv): runtime.load_training_recipe(GRPORecipe) (YAML + overrides -> validate(), logging) -> run(recipe):
      runtime.start_training (output folder, resume policy, run record)
      -> build_trainer: prompts (data.py) -> [difficulty_filter: prompts the starting policy solves sometimes
         (difficulty.py)] -> rewards (rewards/, bounded scoring; reward_log.py: never raising, completions.jsonl)
         -> trl.GRPOConfig(recipe.trainer) -> GRPOTrainer(model from models.load_model, rewards, peft)
      -> runtime.train_and_save: GRPOTrainer.train() (resuming when asked) -> save -> [push]
Every call goes down: no module below calls back into this one.

The loss (grpo, dr_grpo, dapo, ...), beta, epsilon/epsilon_high, num_iterations, scale_rewards,
mask_truncated_completions, vLLM (use_vllm, vllm_mode) and report_to are TRL fields set in the recipe's trainer:
section and passed through unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite import data, models
from r1lite.data import DataArgs, check_data, check_formats, prefills_think
from r1lite.grading import ScoringArgs
from r1lite.models import ModelArgs, check_model
from r1lite.recipe import ConfigError, check_positive, suggest, trainer_section, trainer_value
from r1lite.rewards import COLUMNS, RewardSpec, build_rewards, check_reward_specs, reward_names, wrap_rewards
from r1lite.train import checkpoints, difficulty, runtime
from r1lite.train.difficulty import DifficultyFilterArgs

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo")  # TRL 1.16
SCALE_REWARDS = ("group", "batch", "none", True, False)


@dataclass
class GRPORecipe:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    rewards: list[RewardSpec] = field(default_factory=lambda: [RewardSpec("accuracy")])
    scoring: ScoringArgs = field(default_factory=ScoringArgs)
    difficulty_filter: DifficultyFilterArgs | None = None  # off unless the recipe has the section
    trainer: dict[str, Any] = trainer_section("grpo")  # noqa: RUF009 - a dataclasses.field
    overwrite_output_dir: bool = False  # a fresh run refuses an output_dir holding checkpoints unless this is set

    def validate(self) -> None:
        check_model(self.model)
        check_formats(self.data, "grpo")  # first: a wrong format is named with the accepted ones
        check_data(self.data, need_answer=any("answer" in COLUMNS.get(r.name, ()) for r in self.rewards))
        self.scoring.validate()
        t = self.trainer
        loss = trainer_value(self, "loss_type")
        if loss not in LOSS_TYPES:
            raise ConfigError(f"trainer.loss_type: {loss!r} is not a TRL loss{suggest(str(loss), LOSS_TYPES)}; "
                              f"allowed values: {', '.join(LOSS_TYPES)}")
        if trainer_value(self, "scale_rewards") not in SCALE_REWARDS:
            raise ConfigError(f"trainer.scale_rewards: {t['scale_rewards']!r}; allowed values: group, batch, none")
        for name in ("max_completion_length", "num_generations", "per_device_train_batch_size",
                     "gradient_accumulation_steps", "num_iterations", "steps_per_generation", "generation_batch_size"):
            check_positive(f"trainer.{name}", trainer_value(self, name))
        check_reward_specs(self.rewards, timeout_s=self.scoring.timeout_s, num_workers=self.scoring.num_workers,
                           max_completion_length=trainer_value(self, "max_completion_length"))
        if loss == "dr_grpo" and trainer_value(self, "max_completion_length") is None:
            raise ConfigError("trainer.max_completion_length: dr_grpo normalises by it, so it must be set")
        g = trainer_value(self, "num_generations")
        if g < 2:
            raise ConfigError(f"trainer.num_generations: GRPO needs at least 2 generations per prompt, got {g}")
        per_device = trainer_value(self, "per_device_train_batch_size")
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if t.get("generation_batch_size") and t.get("steps_per_generation"):
            raise ConfigError("trainer.generation_batch_size and trainer.steps_per_generation: set one, not both")
        gen_batch = t.get("generation_batch_size") or (
            per_device * world * (t.get("steps_per_generation") or trainer_value(self, "gradient_accumulation_steps")))
        if gen_batch % g:
            raise ConfigError(
                f"trainer.num_generations: the generation batch ({gen_batch} = per_device_train_batch_size {per_device} x "
                f"{world} processes x steps_per_generation/gradient_accumulation_steps) must be divisible by "
                f"num_generations ({g}); allowed num_generations here: "
                f"{', '.join(str(d) for d in range(2, gen_batch + 1) if gen_batch % d == 0) or 'none'}")
        if gen_batch % (per_device * world):
            raise ConfigError(f"trainer.generation_batch_size: {gen_batch} must be divisible by the global batch "
                              f"({per_device} x {world})")
        if self.difficulty_filter is not None:
            self.difficulty_filter.validate()
            difficulty.check_filter(self.difficulty_filter, self.rewards, self.data, self.trainer.get("output_dir"))
        checkpoints.check_resume(self.trainer)


Recipe = GRPORecipe  # the stage contract (cli.COMMANDS): Recipe, run, cli


def build_trainer(recipe: GRPORecipe, output_dir: Path) -> Any:
    """The GRPOTrainer for a recipe: model (+LoRA), prompts, bounded reward functions, TRL config."""
    import torch
    from trl import GRPOConfig, GRPOTrainer, get_peft_config

    models.check_model_loading(recipe.model, recipe.trainer,
                               on_gpu=torch.cuda.is_available() and not recipe.trainer.get("use_cpu"))
    tokenizer = models.load_tokenizer(recipe.model.model_name_or_path, recipe.model.model_revision,
                                      recipe.model.trust_remote_code)
    prompts = data.to_prompts(data.load_problems(recipe.data), recipe.data, tokenizer)
    if recipe.difficulty_filter is not None:
        sampling = {k: trainer_value(recipe, k) for k in ("temperature", "max_completion_length")}
        prompts = difficulty.filter_prompts(prompts, recipe.difficulty_filter, recipe.model, recipe.rewards,
                                            recipe.scoring, sampling, output_dir)
    funcs, weights = build_rewards(recipe.rewards, recipe.scoring.timeout_s, recipe.scoring.num_workers,
                                   max_completion_length=trainer_value(recipe, "max_completion_length"),
                                   think_prefilled=prefills_think(tokenizer))
    try:
        args = GRPOConfig(**runtime.trainer_kwargs(recipe, output_dir), reward_weights=weights)
    except (TypeError, ValueError) as e:  # TRL's own __post_init__ checks, reported like ours
        raise ConfigError(f"trainer: {e}") from e

    return GRPOTrainer(
        model=models.load_model(recipe.model, init_kwargs=recipe.trainer.get("model_init_kwargs")),
        reward_funcs=wrap_rewards(funcs, output_dir, reward_names(recipe.rewards), recipe.scoring.invalid_scores),
        args=args,
        train_dataset=prompts,
        processing_class=tokenizer,
        peft_config=get_peft_config(recipe.model),
        callbacks=[runtime.metrics_callback(output_dir)],
    )


def run(recipe: GRPORecipe) -> Path:
    """Train with GRPO as the recipe says; returns the output folder (final model or adapter, logs, checkpoints)."""
    output_dir, resume, repo_id = runtime.start_training("grpo", recipe)
    trainer = build_trainer(recipe, output_dir)
    return runtime.train_and_save("grpo", trainer, recipe, output_dir, resume, repo_id)


def cli(argv: list[str]) -> int:
    """`r1lite grpo [--config R] [--field value ...]`."""
    recipe = runtime.load_training_recipe(GRPORecipe, argv)
    runtime.say_finished("grpo", run(recipe))
    return 0
