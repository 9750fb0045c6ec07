"""On-policy vs off-policy distillation at equal wall time (issue 22), on CPU, in one command (~15 min on 2 quiet cores).

    OMP_NUM_THREADS=1 python benchmarks/distill_vs_sft.py [--minutes_per_arm 4] [--generate_share 0.5] [--eval_n 48]
                                                          [--seed 0] [--output_dir runs/bench-distill] [--eval_base]

Teacher: the embedded SmolLM2-135M after the demo's cold-start SFT (`r1lite sft --config demo/sft.yaml`, 8 steps
on subtraction traces), which boxes about 29% of the held-out sums and products where the base model boxes 0%
(benchmarks/RESULTS.md): measurably better than the student, and cheap to make here (~1 min).
Student: the untouched base SmolLM2-135M, LoRA r16 as every demo stage. Both arms train on the same prompts (the
demo GRPO stage's addition and multiplication train split) with the same learning rate, constant schedule, and
the same wall-time budget, counted from the arm's start (model loading included):
  (a) off-policy, R1's distillation: `r1lite generate` with the teacher as a local model (2 samples per prompt,
      each verified against the answer; only correct traces kept) for --generate_share of the budget, then
      `r1lite sft` on the accepted traces until the budget ends;
  (b) on-policy: `r1lite distill` (demo/distill.yaml with this teacher) until the budget ends.
Held-out: the demo's addition and multiplication test problems (greedy, `r1lite eval`), pooled: correct inside the
box (the demo's headline) and correct anywhere; paired 95% intervals between models on the same problems.
Writes <output_dir>/summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from r1lite.eval import evaluate, mean_ci, paired_diff_ci, problems_of, read_records
from r1lite.recipe import load_recipe
from r1lite.train import distill, runtime, sft

RECIPES = Path(distill.__file__).resolve().parent / "recipes" / "demo"
HELD_OUT = ("addition", "multiplication")
PROMPTS = [{"path": "synthetic:arithmetic", "split": "train", "num_samples": n, "task_args": args}
           for n, args in ((64, {"n": 256, "ops": ["add"], "operands": [1, 40]}),
                           (64, {"n": 256, "ops": ["mul"], "operands": [2, 30]}))]
TEMPLATE = "{problem} Put your final answer in \\boxed{}."
LEARNING_RATE = 3.0e-4


def stop_at(deadline: float) -> Any:
    """A callback ending training at the first step boundary past `deadline` (time.time())."""
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_training_stop = control.should_training_stop or time.time() >= deadline

    return StopAt()


def train_until(stage: Any, name: str, recipe: Any, deadline: float) -> Path:
    """What `r1lite <stage>` runs (stage.run), with a wall-clock stop added to its trainer."""
    output_dir, resume, repo_id = runtime.start_training(name, recipe)
    trainer = stage.build_trainer(recipe, output_dir)
    trainer.add_callback(stop_at(deadline))
    return runtime.train_and_save(name, trainer, recipe, output_dir, resume, repo_id)


def steps_of(folder: Path) -> int:
    return max((json.loads(line).get("step", 0) for line in (folder / "metrics.jsonl").read_text().splitlines()),
               default=0)


def off_policy(out: Path, teacher: str, budget_s: float, generate_share: float, seed: int) -> dict[str, Any]:
    """`r1lite generate` for generate_share of the budget (then killed: what it committed is kept, as after any
    kill), then `r1lite sft` on the accepted traces until the budget ends."""
    start = time.time()
    raw = {"model": {"model_name_or_path": teacher},
           "teacher": {"backend": "hf", "batch_size": 16, "price_input_per_m": 0.0, "price_output_per_m": 0.0},
           "data": {"sources": PROMPTS, "system_prompt": None, "prompt_template": TEMPLATE, "seed": seed},
           "sampling": {"n": 2, "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 64, "seed": seed},
           # the demo's cold start answers "a + b = c. The answer is \boxed{c}." with no <think> block
           "filters": {"keep": "all", "max_per_prompt": 2, "think": False}, "decontamination": {"enabled": False},
           "output_dir": str(out / "a_generate"), "overwrite_output_dir": True}
    config = out / "a_generate.yaml"
    config.write_text(yaml.safe_dump(raw))
    try:
        subprocess.run([sys.executable, "-m", "r1lite", "generate", "--config", str(config)], check=True,
                       timeout=budget_s * generate_share, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass  # the time share is over; every batch committed so far is in the folder
    generated_s = time.time() - start
    traces = [line for f in sorted((out / "a_generate" / "data").glob("*.jsonl")) for line in f.read_text().splitlines()]
    prompts_done = len((out / "a_generate" / "ledger.jsonl").read_text().splitlines())
    recipe = load_recipe(sft.SFTRecipe, RECIPES / "sft.yaml", {
        "data.sources": [{"path": str(out / "a_generate" / "data")}], "trainer.output_dir": str(out / "a_sft"),
        "max_steps": 1000, "learning_rate": LEARNING_RATE, "lr_scheduler_type": "constant", "save_strategy": "no",
        "overwrite_output_dir": True, "trainer.seed": seed, "data.seed": seed})
    model = train_until(sft, "sft", recipe, start + budget_s)
    return {"model": str(model), "wall_s": round(time.time() - start, 1), "generate_s": round(generated_s, 1),
            "load_avg_1min_at_end": os.getloadavg()[0],
            "prompts_answered": prompts_done, "samples": 2 * prompts_done, "accepted_traces": len(traces),
            "sft_steps": steps_of(model)}


def on_policy(out: Path, teacher: str, budget_s: float, seed: int) -> dict[str, Any]:
    start = time.time()
    recipe = load_recipe(distill.DistillRecipe, RECIPES / "distill.yaml", {
        "model.model_name_or_path": "smollm2-135m",  # the base model (the demo's recipe starts from its warm start)
        "teacher.model_name_or_path": teacher, "data.sources": PROMPTS, "trainer.output_dir": str(out / "b_distill"),
        "max_steps": 1000, "learning_rate": LEARNING_RATE, "save_strategy": "no", "overwrite_output_dir": True,
        "trainer.seed": seed, "data.seed": seed})
    model = train_until(distill, "distill", recipe, start + budget_s)
    log = [json.loads(line) for line in (model / "metrics.jsonl").read_text().splitlines()]
    accuracy = [r["accuracy"] for r in log if "accuracy" in r]
    return {"model": str(model), "wall_s": round(time.time() - start, 1), "distill_steps": steps_of(model),
            "load_avg_1min_at_end": os.getloadavg()[0],
            "loss_first_last": [next(r["loss"] for r in log if "loss" in r), [r["loss"] for r in log if "loss" in r][-1]],
            "on_policy_accuracy_first4_last4": [sum(accuracy[:4]) / 4, sum(accuracy[-4:]) / 4] if len(accuracy) >= 8
            else accuracy}


METRICS = ("correct_boxed", "correct_anywhere")  # the demo's headline (right inside \boxed{}), and right anywhere


def evaluate_model(model: str, out: Path, n: int, seed: int) -> dict[str, dict[tuple[str, str], float]]:
    """metric -> held-out problem -> 1.0 when the greedy answer is right (METRICS)."""
    args = json.loads(json.dumps(load_recipe(evaluate.EvalRecipe, RECIPES / "eval.yaml").benchmark_args))
    for bench in HELD_OUT:
        args[bench]["task_args"]["n"] = n
    recipe = load_recipe(evaluate.EvalRecipe, RECIPES / "eval.yaml", {
        "model": model, "benchmarks": list(HELD_OUT), "benchmark_args": {b: args[b] for b in HELD_OUT},
        "output_dir": str(out), "seed": seed, "overwrite_output_dir": True})
    evaluate.run(recipe)
    problems = problems_of(read_records(out))
    return {key: {(bench, pid): sum(p[key]) / len(p[key]) for (bench, budget), by_id in problems.items()
                  if not budget for pid, p in by_id.items()} for key in METRICS}


def summary_of(scores: dict[str, dict], arms: dict[str, dict], budget_s: float) -> dict[str, Any]:
    result: dict[str, Any] = {"budget_s_per_arm": budget_s, "arms": arms}
    for key in METRICS:
        by_model = {name: s[key] for name, s in scores.items()}
        held = {name: {"mean_ci": mean_ci(list(s.values())), "n": len(s)} for name, s in by_model.items()}
        pairs = {}
        for a, b in (("off_policy", "on_policy"), ("teacher", "on_policy"), ("teacher", "off_policy"),
                     ("base", "on_policy"), ("base", "off_policy")):
            if a in by_model and b in by_model:
                shared = sorted(set(by_model[a]) & set(by_model[b]))
                diff, low, high = paired_diff_ci([by_model[a][k] for k in shared],
                                                         [by_model[b][k] for k in shared])
                pairs[f"{b} - {a}"] = {"diff": diff, "ci95": [low, high], "n": len(shared)}
        teacher = held["teacher"]["mean_ci"][0] if "teacher" in held else None
        share = {arm: held[arm]["mean_ci"][0] / teacher for arm in ("off_policy", "on_policy") if teacher}
        result[key] = {"held_out": held, "paired": pairs, "share_of_teacher": share}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes_per_arm", type=float, default=4)
    parser.add_argument("--generate_share", type=float, default=0.5, help="share of arm (a) spent generating")
    parser.add_argument("--eval_n", type=int, default=48, help="held-out problems per task (addition, multiplication)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default="runs/bench-distill")
    parser.add_argument("--eval_base", action="store_true", help="also evaluate the base model (0%% in RESULTS.md)")
    args = parser.parse_args()
    runtime.setup_env()
    out, budget_s = Path(args.output_dir), args.minutes_per_arm * 60
    teacher = out / "teacher"
    if not any(teacher.glob("adapter_model.safetensors")):  # the demo's cold start; kept across reruns
        sft.run(load_recipe(sft.SFTRecipe, RECIPES / "sft.yaml", {"trainer.output_dir": str(teacher),
                                                                   "overwrite_output_dir": True}))
    arms = {"off_policy": off_policy(out, str(teacher), budget_s, args.generate_share, args.seed),
            "on_policy": on_policy(out, str(teacher), budget_s, args.seed)}
    models = {"teacher": str(teacher), **{arm: arms[arm]["model"] for arm in arms}}
    if args.eval_base:
        models["base"] = "smollm2-135m"
    scores = {name: evaluate_model(model, out / f"eval_{name}", args.eval_n, args.seed)
              for name, model in models.items()}
    result = summary_of(scores, arms, budget_s)
    (out / "summary.json").write_text(json.dumps(result, indent=2, default=float))
    print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
