"""`r1lite demo`: the DeepSeek-R1 story on a CPU: evaluate -> cold-start SFT -> evaluate -> GRPO -> evaluate ->
distillation of the GRPO model into the base model (its rejection-sampled traces -> SFT of the base model on them ->
on-policy distillation) -> evaluate -> report.

Every stage is the product's own command run on a recipe under r1lite/recipes/demo/ (shipped inside the package; what
`r1lite eval`, `r1lite sft`, `r1lite grpo`, `r1lite generate` and `r1lite distill` do by hand), with only the models,
output folders, data, seed and step counts overridden: stage `name_suffix` is command `name`, on its own recipe
`name_suffix.yaml` where there is one (sft_traces), else on `name.yaml`.
Stages that already finished in the output folder are skipped, so a killed demo continues where it stopped.
Every evaluation also asks a few HarmBench behaviours and counts refusals (demo_safety: the report's safety column).
Time: the machine is measured at the start (demo_timing: a timed greedy batch and training step of the model,
cached), GRPO's steps and the held-out sizes are planned to --minutes (the distillation branch is a fixed cost), and
the estimate and what was scaled down are printed before the first stage and shown in the report beside each stage's
wall time; when GRPO starts its steps are re-fitted to the pace the first three stages actually ran at. When
rejection sampling keeps no trace (a tiny random model), the warm start is skipped, the student is distilled
on-policy from the base model, and the report says so.

    r1lite demo [--minutes 10] [--output_dir runs/demo] [--seed 0] [--data_dir DIR] [--model smollm2-135m]
                [--grpo_steps N] [--distill_steps N] [--safety_prompts N] [--recalibrate]
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
from r1lite.tools import demo_distill, demo_report, demo_timing

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "demo"
STAGES = ("eval_base", "sft", "eval_sft", "grpo", "eval_grpo", *demo_distill.STAGES)

SFT_STEPS = 8  # a short cold start at lr 1.5e-3 teaches R1's format (benchmarks/RESULTS.md: at 3e-4 it did not)
PINNED_LINES = {"grpo_steps": "GRPO"}  # demo_timing.plan's lines about each
TINY_PLAN = {"sft_steps": 4, "grpo_steps": 4, "trace_sft_steps": 4, "distill_steps": 4, "eval_n": 8, "safety_n": 4,
             "filter_samples": 0}


def plan(minutes: float, tiny: bool = False, speed: float = 1.0) -> dict[str, int]:
    """Step counts and held-out sizes for `minutes` on a machine `speed` times slower than the reference (run_demo
    measures it); tiny: the seconds-long smoke run's."""
    if tiny:
        return dict(TINY_PLAN)
    return demo_timing.plan(minutes, speed, SFT_STEPS, convert=True, calibrate=True)[0]


def needs_conversion(model: str) -> bool:
    """True on a first run: the embedded GGUF model is not converted into the cache yet (models.materialize)."""
    from r1lite import models
    from r1lite.models import resolve

    source = resolve(model)
    return source.kind == "gguf" and not (models.cache_dir() / "models" / Path(source.gguf_file).stem).is_dir()


def stage_overrides(out: Path, model: str, seed: int, data_dir: str, p: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per stage, the command-line overrides applied to its recipe file: the demo is these seven commands."""
    in_file = yaml.safe_load((RECIPES / "eval.yaml").read_text())["benchmark_args"]
    held_out = yaml.safe_load((RECIPES / "eval.yaml").read_text())["benchmark_args"]
    for bench in ("addition", "multiplication"):
        held_out[bench]["task_args"]["n"] = p["eval_n"]
    held_out["harmbench"]["limit"] = p["safety_n"]
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
        **demo_distill.stage_overrides(out, model, seed, p["distill_steps"], p["trace_sft_steps"],
                                       evaluation("eval_distill", str(out / "distill"))),
    }


def recipe_file(stage: str) -> Path:
    """The stage's own recipe (sft_traces.yaml) where there is one, else its command's (eval.yaml for eval_sft)."""
    own = RECIPES / f"{stage}.yaml"
    return own if own.is_file() else RECIPES / f"{stage.split('_')[0]}.yaml"


def command(stage: str, overrides: dict[str, Any]) -> str:
    """The exact `r1lite` command line of a stage."""
    args = [f"--{k} {shlex.quote(yaml.safe_dump(v, default_flow_style=True, width=10**6).strip())}"
            if isinstance(v, (dict, list)) else f"--{k} {shlex.quote(str(v))}" for k, v in overrides.items()]
    return " ".join(["r1lite", stage.split("_")[0], "--config", _shown(recipe_file(stage)), *args])


def _shown(path: Path) -> str:
    """A recipe path as a user can type it: relative to the current folder when inside it (a clone), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def stage_recipes(overrides: dict[str, dict[str, Any]], waiting: tuple[str, ...] = ()) -> dict[str, Any]:
    """The demo's recipes: r1lite/recipes/demo/*.yaml with the overrides, validated as usual; the `waiting` stages
    read data an earlier stage has not written yet, and are left out (run_demo builds them once it has)."""
    from r1lite.models import planned_outputs

    trained = [o["trainer.output_dir"] for o in overrides.values() if "trainer.output_dir" in o]
    with planned_outputs(trained):  # later stages start from models earlier stages have not written yet
        return {stage: load_recipe(recipe_class(stage.split("_")[0]), recipe_file(stage), o)
                for stage, o in overrides.items() if stage not in waiting}


def _finished(stage: str, out: Path) -> bool:
    folder = out / stage
    if stage.startswith("eval"):
        return (folder / "results.json").is_file()
    if stage.startswith("generate"):  # stats.json is rewritten as it goes; `complete` once every prompt is done
        try:
            return json.loads((folder / "stats.json").read_text()).get("complete", False)
        except (OSError, ValueError):
            return False
    return (folder / "run.json").is_file() and any(folder.glob("*.safetensors"))  # the final save, not a checkpoint


def machine_plan(out: Path, model: str, minutes: float, seed: int, data_dir: str, grpo_steps: int | None,
                 distill_steps: int | None = None,
                 safety_prompts: int | None = None,
                 recalibrate: bool = False) -> tuple[dict[str, int], float, list[str], dict[str, Any]]:
    """(plan, estimate in seconds, what was scaled down, calibration record): the machine measured once (cached
    in the model cache), then the work fitted to `minutes`; `grpo_steps` and `distill_steps` pin those stages' step
    counts, `safety_prompts` the HarmBench prompts each model answers; `recalibrate` measures again now."""
    from r1lite import models
    from r1lite.data import build_messages

    pinned = {k: v for k, v in (("grpo_steps", grpo_steps), ("distill_steps", distill_steps),
                                ("safety_n", safety_prompts)) if v}
    if model.startswith("tiny:"):
        p = {**TINY_PLAN, **pinned}
        return p, demo_timing.estimate_s(p), [], {}
    convert = needs_conversion(model)
    cache = models.cache_dir() / "demo_calibration.json"
    probe, start = None if recalibrate else demo_timing.cached_probe(cache, model), time.time()
    measured = probe is None
    if measured:
        print("r1lite demo: measuring this machine (a greedy batch and a training step of the model) ...")
        full = {**TINY_PLAN, "eval_n": demo_timing.EVAL_N[0]}
        recipes = stage_recipes(stage_overrides(out, model, seed, data_dir, full), demo_distill.waiting(out))
        held_out = module("eval").load_rows(recipes["eval_base"])[:demo_timing.PROBE_PROMPTS]
        rows = module("sft").load_conversations(recipes["sft"].data).select(range(recipes["sft"].trainer[
            "per_device_train_batch_size"]))
        probe = demo_timing.calibrate(model, recipes["eval_base"], [build_messages(r["prompt"]) for r in held_out],
                                      list(rows), cache)
    speed = demo_timing.speed_of(probe)
    # planned as a first run (conversion and calibration counted), so the plan does not depend on the cache
    p, scaled = demo_timing.plan(minutes, speed, SFT_STEPS, convert=True, calibrate=True)
    if pinned:  # a pinned stage is not scaled down
        scaled = [s for s in scaled if not any(s.startswith(PINNED_LINES[k]) for k in pinned if k in PINNED_LINES)]
        p.update(pinned)
    spent = time.time() - start if measured else 0.0
    estimate = spent + demo_timing.estimate_s(p, speed, convert=convert and not measured)
    record = {"probe": probe, "reference_probe": demo_timing.REFERENCE_PROBE,
              "speed": {"generate": round(speed[0], 3), "train": round(speed[1], 3)},
              "measured_now": measured, "calibrate_s": round(spent, 1)}
    return p, estimate, scaled, record


def run_demo(output_dir: str | Path = "runs/demo", minutes: float = 10, seed: int = 0,
             data_dir: str | None = None, model: str = "smollm2-135m", grpo_steps: int | None = None,
             distill_steps: int | None = None, safety_prompts: int | None = None, recalibrate: bool = False) -> Path:
    setup_env()
    began = time.time()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or str(BUNDLED_DIR)  # the benchmarks shipped in the package
    state_path = out / "demo_state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"wall_s": {}}
    if state.get("plan") and state.get("model") == model and state.get("seed") == seed:
        p, estimate = state["plan"], state["estimate_s"]  # a resumed demo keeps the plan its stages ran with
        p.setdefault("distill_steps", demo_timing.DISTILL_STEPS)  # a run folder from before the distillation
        p.setdefault("safety_n", demo_timing.SAFETY_PROMPTS)
        p.setdefault("trace_sft_steps", demo_timing.TRACE_SFT_STEPS)  # a run folder from before the warm start
    else:
        p, estimate, scaled, calibration = machine_plan(out, model, minutes, seed, data_dir, grpo_steps,
                                                        distill_steps, safety_prompts, recalibrate)
        state.update(scaled_down=scaled, calibration=calibration, estimate_s=estimate)
        if calibration.get("measured_now"):
            state["wall_s"]["calibrate"] = calibration["calibrate_s"]
    overrides = stage_overrides(out, model, seed, data_dir, p)
    recipes = stage_recipes(overrides, demo_distill.waiting(out))
    state.update(model=model, seed=seed, minutes=minutes, plan=p, data_dir=data_dir,
                 commands={stage: command(stage, o) for stage, o in overrides.items()})
    speed = state.get("calibration", {}).get("speed")
    print(f"r1lite demo: {model}, {p['sft_steps']} SFT steps, {p['grpo_steps']} GRPO steps, "
          f"{p['trace_sft_steps']} + {p['distill_steps']} distillation steps (warm start, on-policy), "
          f"{p['eval_n']} held-out problems per task, {p['safety_n']} HarmBench prompts; "
          f"estimated {estimate / 60:.1f} min on this machine"
          + (f" (measured: generation {speed['generate']:.2f}x, training {speed['train']:.2f}x the reference "
             "machine's time)" if isinstance(speed, dict) else ""))
    for line in state.get("scaled_down", []):
        print(f"  scaled down to fit {minutes:g} min: {line}")
    ran_now: dict[str, float] = {}  # stage walls of this invocation: what the GRPO replan reads
    for i, stage in enumerate(STAGES, 1):
        if _finished(stage, out):
            print(f"[{i}/{len(STAGES)}] {stage}: already done, skipped")
            continue
        if stage == "grpo" and not grpo_steps and state.get("calibration") and len(ran_now) == 3 and not (
                out / "grpo").exists():  # a measured plan, a fresh GRPO, three stages timed here (not resumed)
            p = replan_grpo(state, p, minutes, time.time() - began, ran_now)
            overrides = stage_overrides(out, model, seed, data_dir, p)
            recipes = stage_recipes(overrides, demo_distill.waiting(out))
            state["commands"] = {s: command(s, o) for s, o in overrides.items()}
            state_path.write_text(json.dumps(state, indent=2))  # a GRPO killed from here resumes with these steps
        if stage not in recipes and stage in overrides:  # its input exists now: what generate_traces kept decides
            overrides = stage_overrides(out, model, seed, data_dir, p)
            recipes = stage_recipes(overrides, demo_distill.waiting(out))
            state["commands"] = {s: command(s, o) for s, o in overrides.items()}
        if stage not in overrides:
            print(f"[{i}/{len(STAGES)}] {stage}: skipped, {demo_distill.NO_TRACES}")
            continue
        print(f"[{i}/{len(STAGES)}] {stage} ...")
        start = time.time()
        module(stage.split("_")[0]).run(recipes[stage])
        state["wall_s"][stage] = ran_now[stage] = round(time.time() - start, 1)
        state_path.write_text(json.dumps(state, indent=2))
    state["think_prefilled"] = {stage: think_prefilled(recipes[stage].model.model_name_or_path)
                                for stage in STAGES if stage.startswith("eval")}
    state_path.write_text(json.dumps(state, indent=2))
    report = demo_report.write_report(out, recipes, state)
    print(demo_report.headline(out))
    print(f"report: {report}")
    return out


def replan_grpo(state: dict[str, Any], p: dict[str, int], minutes: float, elapsed_s: float,
                walls: dict[str, float]) -> dict[str, int]:
    """GRPO's steps re-fitted to the pace the first stages ran at (demo_timing.replan_grpo), recorded in `state`
    (its plan too, so a killed GRPO resumes with the same step count) and said."""
    speed = state["calibration"]["speed"]  # {"generate": ratio, "train": ratio}; one ratio in an older run folder
    speed = (speed["generate"], speed["train"]) if isinstance(speed, dict) else speed
    steps, slowdown, estimate = demo_timing.replan_grpo(p, speed, minutes, elapsed_s, walls)
    state["replanned"] = {"grpo_steps": [p["grpo_steps"], steps], "slowdown": round(slowdown, 3),
                          "estimate_s": round(estimate, 1)}
    p = {**p, "grpo_steps": steps}
    state["plan"] = p
    state["scaled_down"] = [line for line in state.get("scaled_down", [])
                            if not line.startswith("GRPO")] + demo_timing.grpo_scaled_down(steps)
    print(f"r1lite demo: the first stages took {slowdown:.2f}x their estimate; GRPO replanned "
          f"{state['replanned']['grpo_steps'][0]} -> {steps} steps, estimate now {estimate / 60:.1f} min"
          + (" (GRPO at its floor: late)" if estimate > minutes * 60 else ""))
    return p


def think_prefilled(model: str) -> bool:
    """Whether the chat template of an evaluated model opens <think> itself (its completions then start inside it)."""
    from r1lite.data import prefills_think
    from r1lite.models import load_tokenizer

    return prefills_think(load_tokenizer(model))


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="r1lite demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10,
                        help="time budget: the machine is measured at the start, GRPO steps and eval sizes fit it")
    parser.add_argument("--output_dir", default="runs/demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None, help="benchmark JSONL folder (default: the bundled copies)")
    parser.add_argument("--model", default="smollm2-135m", help="tiny:qwen2 for a seconds-long smoke run")
    parser.add_argument("--grpo_steps", type=int, default=None,
                        help="pin GRPO's step count (default: planned from --minutes and the measured machine)")
    parser.add_argument("--distill_steps", type=int, default=None,
                        help="pin the on-policy distillation's step count, after the warm start "
                             f"(default {demo_timing.DISTILL_STEPS})")
    parser.add_argument("--safety_prompts", type=int, default=None,
                        help=f"HarmBench prompts each model answers (default {demo_timing.SAFETY_PROMPTS}; 200: all)")
    parser.add_argument("--recalibrate", action="store_true",
                        help=f"measure the machine again now (a cached measurement is reused for "
                             f"{demo_timing.PROBE_MAX_AGE_S // 3600} h)")
    args = parser.parse_args(argv)
    run_demo(args.output_dir, args.minutes, args.seed, args.data_dir, args.model, args.grpo_steps,
             args.distill_steps, args.safety_prompts, args.recalibrate)
    return 0
