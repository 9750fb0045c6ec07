"""Where a CPU GRPO step goes, and what r1lite adds to it: `r1lite grpo`'s trainer (grpo.build_trainer on the demo's
GRPO recipe) against a bare `trl.GRPOTrainer` built by hand with the same model, prompts, GRPOConfig and LoRA, and
plain in-process rewards of the same meaning (right answer in the last box, think-then-box format, TRL's soft
overlong punishment). Both run in this process, alternately, so the ratio holds on a shared machine.

Per step it splits the time into generation (TRL's _generate), scoring (_calculate_rewards: every reward function)
and the rest (old log-probs, loss, backward, optimizer), and prints r1lite's median step time over bare TRL's.

    OMP_NUM_THREADS=2 python benchmarks/grpo_step_overhead.py [--model smollm2-135m] [--steps 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1lite import data, models
from r1lite.recipe import load_recipe
from r1lite.runs import setup_env
from r1lite.tools.demo import RECIPES
from r1lite.train import grpo, runtime

BOX = re.compile(r"\\boxed\{([^{}]*)\}")


def plain_accuracy(completions: list, answer: list, **_: Any) -> list[float]:
    """1.0 when the last \\boxed{} after </think> holds the gold exactly (what a hand-written TRL script pays)."""
    scores = []
    for c, gold in zip(completions, answer):
        boxes = BOX.findall(c[0]["content"].split("</think>")[-1])
        scores.append(float(bool(boxes) and boxes[-1].strip() == str(gold)))
    return scores


def plain_format(completions: list, **_: Any) -> list[float]:
    return [float(re.fullmatch(r"\s*<think>.+?</think>.*\\boxed\{.+\}.*", c[0]["content"], re.DOTALL) is not None)
            for c in completions]


class StepTimes:
    """Wraps a trainer's generation, scoring and training step to time each, per optimizer step."""

    def __init__(self, trainer: Any):
        self.rows: list[dict[str, float]] = []
        self.current = {"generate": 0.0, "score": 0.0}
        for name, key in (("_generate", "generate"), ("_calculate_rewards", "score")):
            self._wrap(trainer, name, key)
        step = trainer.training_step

        def timed_step(*args: Any, **kwargs: Any) -> Any:
            start, cpu_start = time.perf_counter(), time.process_time()
            out = step(*args, **kwargs)
            total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            lengths = trainer._metrics["train"].get("completions/mean_length") or [float("nan")]
            self.rows.append({**self.current, "total": total, "cpu": cpu, "tokens": lengths[-1],
                              "train": total - self.current["generate"] - self.current["score"]})
            self.current = {"generate": 0.0, "score": 0.0}
            return out

        trainer.training_step = timed_step

    def _wrap(self, trainer: Any, name: str, key: str) -> None:
        method = getattr(trainer, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.current[key] += time.perf_counter() - start

        setattr(trainer, name, timed)


def demo_recipe(model: str, out: Path, steps: int, **overrides: Any) -> Any:
    """The demo's GRPO recipe for a timing run: no difficulty filter, no checkpoints; `overrides` as on the command
    line (e.g. {"trainer.bf16": True})."""
    return load_recipe(grpo.GRPORecipe, RECIPES / "grpo.yaml", {
        "model_name_or_path": model, "trainer.output_dir": str(out), "max_steps": steps, "save_strategy": "no",
        "overwrite_output_dir": True, "difficulty_filter": None, **overrides})


def r1lite_trainer(recipe: Any, out: Path) -> Any:
    runtime.start_training("grpo", recipe)
    return grpo.build_trainer(recipe, out)


def bare_trainer(recipe: Any, out: Path) -> Any:
    """What a user writes with TRL alone: a GRPOTrainer with the same GRPOConfig fields and LoRA, plain in-process
    rewards, no callbacks. The tokenizer, model and prompt column come from the same loaders as r1lite's (the same
    tokenizer object and chat template, the same weights), so both trainers generate the same text and any time
    difference is the trainer's, not the inputs'."""
    from trl import GRPOConfig, GRPOTrainer, get_peft_config
    from trl.rewards import get_soft_overlong_punishment

    m = recipe.model
    tokenizer = models.load_tokenizer(m.model_name_or_path, m.model_revision, m.trust_remote_code)
    dataset = data.to_prompts(data.load_problems(recipe.data), recipe.data, tokenizer)
    length = recipe.trainer["max_completion_length"]
    overlong = get_soft_overlong_punishment(max_completion_len=length, soft_punish_cache=8)
    args = GRPOConfig(**runtime.trainer_kwargs(recipe, out), reward_weights=[s.weight for s in recipe.rewards])
    return GRPOTrainer(model=models.load_model(m), reward_funcs=[plain_accuracy, plain_format, overlong],
                       args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=get_peft_config(m))


def timed_train(trainer: Any, label: str) -> list[dict[str, float]]:
    """Train, printing each step's times; the rows of the steps after the first (it warms up allocators and caches)."""
    times = StepTimes(trainer)
    trainer.train()
    for i, row in enumerate(times.rows):
        print(f"{label} step {i + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    return times.rows[1:]


def parse_args(description: str, alternated: str) -> argparse.Namespace:
    """The options every such benchmark takes: the model, GRPO steps per run, rounds of the two alternated runs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps per run (the first is not counted)")
    parser.add_argument("--rounds", type=int, default=2, help=f"{alternated} runs, alternated")
    return parser.parse_args()


def alternate(labels: tuple[Any, Any], rounds: int,
              run_one: Callable[[Any, Path], list[dict[str, float]]]) -> dict[Any, list[dict[str, float]]]:
    """Per label, the step rows of `rounds` runs; the two labels' order swaps every round, so neither always runs on
    the warmer (or more loaded) machine."""
    rows: dict[Any, list[dict[str, float]]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for label in (labels if i % 2 == 0 else labels[::-1]):
                rows[label] += run_one(label, Path(tmp) / f"{i}-{label}")
    return rows


def run(kind: str, model: str, steps: int, out: Path) -> list[dict[str, float]]:
    recipe = demo_recipe(model, out, steps)
    return timed_train((r1lite_trainer if kind == "r1lite" else bare_trainer)(recipe, out), kind)


def main() -> None:
    args = parse_args(__doc__, "bare / r1lite")
    setup_env()
    rows = alternate(("bare", "r1lite"), args.rounds, lambda kind, out: run(kind, args.model, args.steps, out))
    print("| trainer | steps | step s (median) | step CPU s (this process) | generate s | score s | "
          "train s (logps, loss, backward) | completion tokens (mean) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    medians = {}
    for kind, r in rows.items():
        medians[kind] = {k: statistics.median(x[k] for x in r) for k in ("total", "cpu", "generate", "score", "train")}
        m = medians[kind]
        print(f"| {kind} | {len(r)} | {m['total']:.2f} | {m['cpu']:.2f} | {m['generate']:.2f} | {m['score']:.3f} | "
              f"{m['train']:.2f} | {statistics.mean(x['tokens'] for x in r):.1f} |")
    ratio = {k: medians["r1lite"][k] / medians["bare"][k] for k in ("total", "cpu", "generate", "train")}
    print(f"r1lite / bare TRL step time: {ratio['total']:.2f}x (CPU time {ratio['cpu']:.2f}x, "
          f"generation {ratio['generate']:.2f}x, train {ratio['train']:.2f}x)")

if __name__ == "__main__":
    main()
