"""The stages, listed once: name -> module. Each stage module has `Recipe` (its recipe class, which validates itself),
`run(recipe)` and `cli(argv)`; `r1lite`, `r1lite check`, `r1lite <stage> --help`, `recipes check`, `plan` and the
demo read this table. Modules are imported on use, so listing the stages loads nothing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from r1lite.config import ConfigError

STAGES = {"grpo": "r1lite.grpo", "sft": "r1lite.sft", "distill": "r1lite.distill", "eval": "r1lite.evaluate",
          "generate": "r1lite.generate"}
TRAINING = ("sft", "grpo", "distill")


def module(stage: str) -> ModuleType:
    return importlib.import_module(STAGES[stage])


def recipe_class(stage: str) -> type:
    return module(stage).Recipe


def stage_of(path: str | Path) -> str:
    """grpo | sft | distill | generate | eval, from the recipe's folder (recipes/<model>/<stage>/) or its file name
    (demo/grpo.yaml, examples/grpo_custom_reward.yaml)."""
    path = Path(path)
    for name in (path.parent.name, path.stem):
        if name in STAGES:
            return name
    for stage in STAGES:
        if stage in path.stem:
            return stage
    raise ConfigError(f"{path}: cannot tell the stage; put the recipe in a folder named one of {', '.join(STAGES)} "
                      "(recipes/<model>/<stage>/name.yaml)")
