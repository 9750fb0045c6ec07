"""`r1lite grpo`: R1-Zero-style reinforcement learning with rule rewards, on TRL's GRPOTrainer.

recipe -> prompts (data.py) -> [difficulty_filter: prompts the starting policy solves sometimes (difficulty.py)]
-> reward functions (rewards.py, bounded scoring) -> trl.GRPOConfig(recipe.trainer)
-> GRPOTrainer(model, rewards, peft) -> train (resuming when asked) -> save.

The loss (grpo, dr_grpo, dapo, ...), beta, epsilon/epsilon_high, num_iterations, scale_rewards,
mask_truncated_completions, vLLM (use_vllm, vllm_mode) and report_to are TRL fields set in the recipe's trainer:
section and passed through unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from r1lite import data, models, runtime
from r1lite import prompts as prompts_mod
from r1lite.config import ConfigError, GRPORecipe, trainer_value


def build_trainer(recipe: GRPORecipe, output_dir: Path) -> Any:
    """The GRPOTrainer for a recipe: model (+LoRA), prompts, bounded reward functions, TRL config."""
    from trl import GRPOConfig, GRPOTrainer, get_peft_config

    from r1lite.rewards import build_rewards

    tokenizer = models.load_tokenizer(recipe.model.model_name_or_path, recipe.model.model_revision,
                                      recipe.model.trust_remote_code)
    prompts = data.to_prompts(data.load_problems(recipe.data), recipe.data, tokenizer)
    if recipe.difficulty_filter is not None:
        prompts = _filtered(prompts, recipe, output_dir)
    funcs, weights = build_rewards(recipe.rewards, recipe.scoring.timeout_s, recipe.scoring.num_workers,
                                   max_completion_length=trainer_value(recipe, "max_completion_length"),
                                   think_prefilled=prompts_mod.prefills_think(tokenizer))
    try:
        args = GRPOConfig(**runtime.trainer_kwargs(recipe, output_dir), reward_weights=weights)
    except (TypeError, ValueError) as e:  # TRL's own __post_init__ checks, reported like ours
        raise ConfigError(f"trainer: {e}") from e

    return GRPOTrainer(
        model=models.load_model(recipe.model, init_kwargs=recipe.trainer.get("model_init_kwargs")),
        reward_funcs=runtime.wrap_rewards(funcs, output_dir),
        args=args,
        train_dataset=prompts,
        processing_class=tokenizer,
        peft_config=get_peft_config(recipe.model),
        callbacks=[runtime.metrics_callback(output_dir)],
    )


def _filtered(prompts: Any, recipe: GRPORecipe, output_dir: Path) -> Any:
    """Difficulty filtering before the model loads; with several processes, rank 0 samples first and the others
    then find every pass rate in its file."""
    from r1lite.difficulty import filter_prompts

    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return filter_prompts(prompts, recipe, output_dir)
    from accelerate import PartialState

    with PartialState().main_process_first():
        return filter_prompts(prompts, recipe, output_dir)


def run_grpo(recipe: GRPORecipe) -> Path:
    """Train with GRPO as the recipe says; returns the output folder (final model or adapter, logs, checkpoints)."""
    return runtime.train_stage("grpo", recipe, build_trainer)
