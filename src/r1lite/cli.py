"""The `r1lite` command. One subcommand per stage; each reads a recipe and lets any field be overridden:

    r1lite generate --config recipes/.../generate/x.yaml     teacher traces, verified and decontaminated
    r1lite sft      --config recipes/.../sft/x.yaml           distillation / cold-start SFT (TRL SFTTrainer)
    r1lite grpo     --config recipes/.../grpo/x.yaml          GRPO with rule rewards (TRL GRPOTrainer)
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

# subcommand -> "module:function"; the function takes the remaining argv and returns an exit code
COMMANDS = {
    "generate": "r1lite.generate:cli",
    "sft": "r1lite.cli:train_cli",
    "grpo": "r1lite.cli:train_cli",
    "eval": "r1lite.evaluate:cli",
    "demo": "r1lite.demo:cli",
    "check": "r1lite.cli:check_cli",
    "decontaminate": "r1lite.decontaminate:cli",
    "plan": "r1lite.plan:cli",
    "recipes": "r1lite.recipes_check:cli",
}


def _recipe_class(stage: str) -> type:
    module, name = RECIPE_CLASSES[stage].split(":")
    return getattr(importlib.import_module(module), name)


# stage -> "module:recipe class"; `r1lite check` guesses the stage from the recipe's folder (recipes/<model>/<stage>/)
RECIPE_CLASSES = {
    "grpo": "r1lite.config:GRPORecipe",
    "sft": "r1lite.config:SFTRecipe",
    "eval": "r1lite.evaluate:EvalRecipe",
    "generate": "r1lite.generate:GenerateRecipe",
}


def guess_stage(path: str) -> str:
    from pathlib import Path

    parts = Path(path).parts[:-1]
    for part in reversed(parts):
        if part in RECIPE_CLASSES:
            return part
        if part == "demo":  # recipes/<model>/demo/<stage>.yaml
            return Path(path).stem if Path(path).stem in RECIPE_CLASSES else "grpo"
    return "sft" if "sft" in Path(path).name else "grpo"


def _split_config(argv: list[str]) -> tuple[str | None, list[str]]:
    """Pull `--config PATH` out of argv; the rest are field overrides."""
    from r1lite.config import ConfigError

    rest, path, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--config":
            if i + 1 == len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError("--config: needs a value: --config path/to/recipe.yaml")
            path, i = argv[i + 1], i + 2
        elif argv[i].startswith("--config="):
            path, i = argv[i].split("=", 1)[1], i + 1
        else:
            rest.append(argv[i])
            i += 1
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"--config: {path} is a folder; give a recipe file (.yaml) in it")
    if path == "":
        raise ConfigError("--config: needs a value: --config path/to/recipe.yaml")
    return path, rest


def load_stage_recipe(stage: str, argv: list[str]):
    from r1lite.config import load_recipe, parse_overrides

    path, rest = _split_config(argv)
    return load_recipe(_recipe_class(stage), path, parse_overrides(rest))


def train_cli(argv: list[str], stage: str) -> int:
    recipe = load_stage_recipe(stage, argv)
    from r1lite import runtime

    runtime.setup_logging(recipe.trainer)
    run = importlib.import_module(f"r1lite.{stage}")
    output_dir = getattr(run, f"run_{stage}")(recipe)
    if runtime.is_main_process():  # once, not once per process under accelerate launch / torchrun
        print(f"{stage} finished: {output_dir}")
    return 0


def check_cli(argv: list[str]) -> int:
    """`r1lite check --config recipe.yaml [--stage grpo|sft|eval|generate]`: validate only, no model is loaded."""
    from r1lite.config import ConfigError, load_recipe, parse_overrides

    path, rest = _split_config(argv)
    stage = None
    if "--stage" in rest:
        i = rest.index("--stage")
        if i + 1 == len(rest) or rest[i + 1].startswith("--"):
            raise ConfigError(f"--stage: needs a value; allowed values: {', '.join(RECIPE_CLASSES)}")
        stage, rest = rest[i + 1], rest[:i] + rest[i + 2:]
    if path is None:
        raise ConfigError(f"usage: r1lite check --config recipe.yaml [--stage {'|'.join(RECIPE_CLASSES)}] "
                          "[--field value ...]")
    stage = stage or guess_stage(path)
    if stage not in RECIPE_CLASSES:
        raise ConfigError(f"--stage {stage!r}: allowed values: {', '.join(RECIPE_CLASSES)}")
    load_recipe(_recipe_class(stage), path, parse_overrides(rest))
    print(f"{path}: valid {stage} recipe")
    return 0


CHECK_USAGE = f"""usage: r1lite check --config RECIPE.yaml [--stage {'|'.join(RECIPE_CLASSES)}] [--field value ...]

Validate a recipe as training would (fields, types, cross-field rules, data columns, reward functions), without
loading a model. The stage comes from the recipe's folder (recipes/<model>/<stage>/) unless --stage says it.
`r1lite <stage> --help` lists every field of a stage's recipe."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command in RECIPE_CLASSES and ("-h" in rest or "--help" in rest):
        from r1lite.recipe_help import render

        print(render(command), end="")
        return 0
    if command == "check" and ("-h" in rest or "--help" in rest):
        print(CHECK_USAGE)
        return 0
    if command not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        print(f"r1lite: unknown command {command!r}{hint}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from r1lite.backends.openai import APIError
    from r1lite.config import ConfigError

    module, function = COMMANDS[command].split(":")
    try:
        handler = getattr(importlib.import_module(module), function)
        return handler(rest, command) if function == "train_cli" else handler(rest)
    except ConfigError as e:
        print(f"r1lite {command}: configuration error: {_one_line(e)}", file=sys.stderr)
        return 2
    except APIError as e:  # the server refused or could not be reached; nothing a traceback would explain
        print(f"r1lite {command}: server error: {_one_line(e)}", file=sys.stderr)
        return 1


def _one_line(error: Exception) -> str:
    """The message on one line, with anything that looks like a key blanked (it may have been pasted anywhere)."""
    from r1lite.config import KEY_LIKE, REDACTED

    return KEY_LIKE.sub(REDACTED, " ".join(str(error).split()))
