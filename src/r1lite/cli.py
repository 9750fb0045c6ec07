"""The `r1lite` command. One subcommand per stage; each reads a recipe and lets any field be overridden:

    r1lite generate --config recipes/.../generate/x.yaml     teacher traces, verified and decontaminated
    r1lite sft      --config recipes/.../sft/x.yaml           distillation / cold-start SFT (TRL SFTTrainer)
    r1lite grpo     --config recipes/.../grpo/x.yaml          GRPO with rule rewards (TRL GRPOTrainer)
    r1lite distill  --config recipes/.../distill/x.yaml       on-policy distillation (TRL DistillationTrainer)
    r1lite eval     --model smollm2-135m --benchmarks gsm8k   math benchmarks, pass@k, budget curves
    r1lite demo                                               cold-start SFT -> GRPO -> eval on CPU, with a report
    r1lite check    --config recipe.yaml                      validate a recipe without loading a model
    r1lite decontaminate | plan | recipes check               data hygiene, GPU memory/cost planning, recipe smoke tests

Imports are lazy so `--help` and validation stay fast; the same command works under `accelerate launch -m r1lite`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from r1lite.recipe import ConfigError

# every command -> the module whose cli(argv) runs it (an exit code); imported on use, so listing them loads nothing.
# The stages come first: each stage module also has `Recipe` (its recipe class, which validates itself) and
# `run(recipe)`; `r1lite check`, `r1lite <stage> --help`, `recipes check`, `plan` and the demo read them from here.
COMMANDS = {"grpo": "r1lite.train.grpo", "sft": "r1lite.train.sft", "distill": "r1lite.train.distill",
            "eval": "r1lite.eval.evaluate", "generate": "r1lite.generate.generate", "demo": "r1lite.tools.demo",
            "decontaminate": "r1lite.generate.decontaminate", "plan": "r1lite.tools.plan_cli",
            "recipes": "r1lite.tools.recipes_check"}
STAGES = ("grpo", "sft", "distill", "eval", "generate")
TRAINING = ("sft", "grpo", "distill")


def module(stage: str) -> ModuleType:
    return importlib.import_module(COMMANDS[stage])


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


def check_cli(argv: list[str]) -> int:
    """`r1lite check --config recipe.yaml [--stage grpo|sft|eval|generate]`: validate only, no model is loaded."""
    from r1lite.recipe import load_recipe, parse_overrides, split_config

    path, rest = split_config(argv)
    stage = None
    if "--stage" in rest:
        i = rest.index("--stage")
        if i + 1 == len(rest) or rest[i + 1].startswith("--"):
            raise ConfigError(f"--stage: needs a value; allowed values: {', '.join(STAGES)}")
        stage, rest = rest[i + 1], rest[:i] + rest[i + 2:]
    if path is None:
        raise ConfigError(f"usage: r1lite check --config recipe.yaml [--stage {'|'.join(STAGES)}] "
                          "[--field value ...]")
    stage = stage or stage_of(path)
    if stage not in STAGES:
        raise ConfigError(f"--stage {stage!r}: allowed values: {', '.join(STAGES)}")
    load_recipe(recipe_class(stage), path, parse_overrides(rest))
    print(f"{path}: valid {stage} recipe")
    return 0


CHECK_USAGE = f"""usage: r1lite check --config RECIPE.yaml [--stage {'|'.join(STAGES)}] [--field value ...]

Validate a recipe as training would (fields, types, cross-field rules, data columns, reward functions), without
loading a model. The stage comes from the recipe's folder (recipes/<model>/<stage>/) unless --stage says it.
`r1lite <stage> --help` lists every field of a stage's recipe."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command in STAGES and ("-h" in rest or "--help" in rest) and rest[:1] != ["compare"]:  # eval compare's own
        from r1lite.recipe import render
        from r1lite.rewards import REWARDS

        print(render(command, recipe_class(command), COMMANDS[command], REWARDS), end="")
        return 0
    if command == "check" and ("-h" in rest or "--help" in rest):
        print(CHECK_USAGE)
        return 0
    commands = [*STAGES, "check", *(c for c in COMMANDS if c not in STAGES)]
    if command not in commands:
        import difflib

        close = difflib.get_close_matches(command, commands, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        print(f"r1lite: unknown command {command!r}{hint}; commands: {', '.join(commands)}", file=sys.stderr)
        return 2
    from r1lite.backends import APIError
    from r1lite.rewards import RewardError

    try:
        if command == "check":
            return check_cli(rest)
        rc = module(command).cli(rest)
        end_process_group()
        return rc
    except ConfigError as e:
        print(f"r1lite {command}: configuration error: {_one_line(e)}", file=sys.stderr)
        return 2
    except APIError as e:  # the server refused or could not be reached; nothing a traceback would explain
        print(f"r1lite {command}: server error: {_one_line(e)}", file=sys.stderr)
        return 1
    except RewardError as e:  # a reward's output is not scores, and the recipe said to stop
        print(f"r1lite {command}: reward error: {_one_line(e)}", file=sys.stderr)
        return 1


def end_process_group() -> None:
    """After a command that succeeded under torchrun / accelerate launch: Gloo's threads outliving the interpreter
    abort a rank at exit ("terminate called without an active exception", pytorch#190489), failing a finished run.
    Only on success: destroying it while other ranks still wait in a collective would hang them."""
    dist = sys.modules.get("torch.distributed")  # never imports torch for commands that did not
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _one_line(error: Exception) -> str:
    """The message on one line, with anything that looks like a key blanked (it may have been pasted anywhere)."""
    from r1lite.recipe import redact_text

    return redact_text(" ".join(str(error).split()))
