"""`r1lite demo`: the DeepSeek-R1 story on a CPU: evaluate -> cold-start SFT -> evaluate -> GRPO -> evaluate -> report.

Every stage is the product's own command run on a recipe under r1lite/recipes/demo/ (shipped inside the package; what
`r1lite eval`, `r1lite sft` and `r1lite grpo` do by hand), with only the model, output folders, seed and step counts
overridden.
Stages that already finished in the output folder are skipped, so a killed demo continues where it stopped.

    r1lite demo [--minutes 10] [--output_dir runs/demo] [--seed 0] [--data_dir DIR] [--model smollm2-135m]
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

import yaml

from r1lite.cli import module, recipe_class
from r1lite.data import BUNDLED_DIR
from r1lite.recipe import load_recipe
from r1lite.runs import setup_env
from r1lite.tools import demo_report

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "demo"
STAGES = ("eval_base", "sft", "eval_sft", "grpo", "eval_grpo")

# seconds on 2 CPU cores (benchmarks/RESULTS.md), used to fit --minutes and print the estimate up front
COST = {"convert": 30, "eval_base": 80, "eval": 60, "sft_start": 15, "sft_step": 6, "grpo_start": 25,
        "filter": 45, "grpo_step": 14}
SFT_STEPS = 8  # a light cold start: GRPO needs room to improve on it (on this CPU, longer SFT left GRPO less to gain)


def plan(minutes: float, tiny: bool = False) -> dict[str, int]:
    """Step counts that fit `minutes`: SFT takes a fixed short course, GRPO gets the rest of the budget."""
    if tiny:
        return {"sft_steps": 4, "grpo_steps": 4, "eval_n": 8, "gsm8k": 2}
    p = {"sft_steps": SFT_STEPS, "grpo_steps": 0, "eval_n": 128, "gsm8k": 8}
    # the budget counts a first run's model conversion, so the plan (and the result) does not depend on the cache
    p["grpo_steps"] = max(4, min(int((minutes * 60 - estimate_s(p, convert=True)) // COST["grpo_step"]), 100))
    return p


def estimate_s(p: dict[str, int], convert: bool = False) -> float:
    """The demo's wall time on 2 cores; `convert`: the first run also converts the GGUF model."""
    return (convert * COST["convert"] + COST["eval_base"] + 2 * COST["eval"] + COST["sft_start"]
            + p["sft_steps"] * COST["sft_step"] + COST["grpo_start"] + COST["filter"]
            + p["grpo_steps"] * COST["grpo_step"])


def needs_conversion(model: str) -> bool:
    """True on a first run: the embedded GGUF model is not converted into the cache yet (models.materialize)."""
    from r1lite import models
    from r1lite.models import resolve

    source = resolve(model)
    return source.kind == "gguf" and not (models.cache_dir() / "models" / Path(source.gguf_file).stem).is_dir()


def stage_overrides(out: Path, model: str, seed: int, data_dir: str, p: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per stage, the command-line overrides applied to its recipe file: the demo is these five commands."""
    in_file = yaml.safe_load((RECIPES / "eval.yaml").read_text())["benchmark_args"]
    held_out = yaml.safe_load((RECIPES / "eval.yaml").read_text())["benchmark_args"]
    for bench in ("addition", "multiplication"):
        held_out[bench]["task_args"]["n"] = p["eval_n"]
    held_out["gsm8k"]["limit"] = p["gsm8k"]
    sizes = {} if held_out == in_file else {"benchmark_args": held_out}  # a short run evaluates fewer problems
    grpo = {}
    if model.startswith("tiny:"):  # a random tiny model solves nothing: keep every prompt, and sample few
        section = yaml.safe_load((RECIPES / "grpo.yaml").read_text())["difficulty_filter"]
        grpo["difficulty_filter"] = {**section, "num_samples": 2, "band": [0.0, 1.0], "inclusive": True}

    def evaluation(name: str, evaluated: str) -> dict[str, Any]:
        return {"model": evaluated, "output_dir": str(out / name), "data_dir": data_dir, "seed": seed, **sizes}

    # a stage killed mid-run continues from its last checkpoint (a fresh one simply starts)
    training = {"data.seed": seed, "trainer.seed": seed, "resume_from_checkpoint": "latest"}
    return {
        "eval_base": evaluation("eval_base", model),
        "sft": {"model_name_or_path": model, "trainer.output_dir": str(out / "sft"), "max_steps": p["sft_steps"],
                "save_steps": max(1, p["sft_steps"] // 2), **training},
        "eval_sft": evaluation("eval_sft", str(out / "sft")),
        "grpo": {"model_name_or_path": str(out / "sft"), "trainer.output_dir": str(out / "grpo"),
                 "max_steps": p["grpo_steps"], "save_steps": max(1, p["grpo_steps"] // 3), **grpo, **training},
        "eval_grpo": evaluation("eval_grpo", str(out / "grpo")),
    }


def recipe_file(stage: str) -> Path:
    return RECIPES / f"{stage.split('_')[0]}.yaml"


def command(stage: str, overrides: dict[str, Any]) -> str:
    """The exact `r1lite` command line of a stage."""
    args = [f"--{k} {shlex.quote(yaml.safe_dump(v, default_flow_style=True, width=10**6).strip())}"
            if isinstance(v, dict) else f"--{k} {shlex.quote(str(v))}" for k, v in overrides.items()]
    return " ".join(["r1lite", stage.split("_")[0], "--config", _shown(recipe_file(stage)), *args])


def _shown(path: Path) -> str:
    """A recipe path as a user can type it: relative to the current folder when inside it (a clone), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def stage_recipes(overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The demo's recipes: r1lite/recipes/demo/*.yaml with the overrides, validated as usual."""
    from r1lite.models import planned_outputs

    trained = [o["trainer.output_dir"] for o in overrides.values() if "trainer.output_dir" in o]
    with planned_outputs(trained):  # later stages start from models earlier stages have not written yet
        return {stage: load_recipe(recipe_class(stage.split("_")[0]), recipe_file(stage), o)
                for stage, o in overrides.items()}


def _finished(stage: str, out: Path) -> bool:
    folder = out / stage
    if stage.startswith("eval"):
        return (folder / "results.json").is_file()
    return (folder / "run.json").is_file() and any(folder.glob("*.safetensors"))  # the final save, not a checkpoint


def run_demo(output_dir: str | Path = "runs/demo", minutes: float = 10, seed: int = 0,
             data_dir: str | None = None, model: str = "smollm2-135m") -> Path:
    setup_env()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or str(BUNDLED_DIR)  # the benchmarks shipped in the package
    p = plan(minutes, tiny=model.startswith("tiny:"))
    estimate = estimate_s(p, convert=needs_conversion(model))
    overrides = stage_overrides(out, model, seed, data_dir, p)
    recipes = stage_recipes(overrides)
    state_path = out / "demo_state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"wall_s": {}}
    state.update(model=model, seed=seed, minutes=minutes, plan=p, data_dir=data_dir, estimate_s=estimate,
                 commands={stage: command(stage, o) for stage, o in overrides.items()})
    print(f"r1lite demo: {model}, {p['sft_steps']} SFT steps, {p['grpo_steps']} GRPO steps, "
          f"{p['eval_n']} held-out problems per task; estimated {estimate / 60:.1f} min on 2 CPU cores")
    for i, stage in enumerate(STAGES, 1):
        if _finished(stage, out):
            print(f"[{i}/{len(STAGES)}] {stage}: already done, skipped")
            continue
        print(f"[{i}/{len(STAGES)}] {stage} ...")
        start = time.time()
        module(stage.split("_")[0]).run(recipes[stage])
        state["wall_s"][stage] = round(time.time() - start, 1)
        state_path.write_text(json.dumps(state, indent=2))
    state_path.write_text(json.dumps(state, indent=2))
    report = demo_report.write_report(out, recipes, state)
    print(demo_report.headline(out))
    print(f"report: {report}")
    return out


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="r1lite demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="time budget; GRPO steps scale to fit")
    parser.add_argument("--output_dir", default="runs/demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None, help="benchmark JSONL folder (default: the bundled copies)")
    parser.add_argument("--model", default="smollm2-135m", help="tiny:qwen2 for a seconds-long smoke run")
    args = parser.parse_args(argv)
    run_demo(args.output_dir, args.minutes, args.seed, args.data_dir, args.model)
    return 0
