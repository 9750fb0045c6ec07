"""The demo's time promise: measure this machine at the start, plan the work to `--minutes`, re-fit GRPO when it starts.

    calibrate (a greedy batch and a LoRA training step of the real model, each after a warm-up; cached per boot)
      -> speed = (generation, training) seconds / REFERENCE_PROBE's -> plan (eval sizes, GRPO steps) -> estimate_s
      -> after eval_base, sft, eval_sft: replan_grpo (their walls against their estimates: the run's real pace)

Every cost in COST was measured on the reference runs (benchmarks/RESULTS.md) together with that machine's probe;
on another machine, or on the same one under load, each cost's training share scales by the probe's training ratio
and the rest by its generation ratio. The plan scales the work, not the promise: GRPO takes the budget left after the
fixed stages (the distillation branch is one of them: its traces, warm start and DISTILL_STEPS on-policy steps); on a
slow machine GRPO's steps fall first, then the held-out sets shrink, down to GRPO's floor below which the demo shows
nothing (then the estimate says it will be late). A VM can run slower than a short probe after idle says (it bursts);
the replan at GRPO's start absorbs that within GRPO's step range.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

# Reference seconds: the default demo's stages on an otherwise idle 2-core VM at 2 threads, per stage start (model
# load, trainer build) and per unit of work. Fitted to four runs of 2026-12-07 13:14-14:09 UTC (seeds 0, 0, 1, 2;
# benchmarks/RESULTS.md), each stage's wall divided by its run's probe ratios, so that every stage keeps its measured
# share of the first three stages' time (what replan_grpo extrapolates from): across the runs that share varied by
# +-10% a stage. Eval samples are greedy, <= 64 tokens (HarmBench 32), batches of 64 (the base model runs to the limit
# on half its answers, trained ones stop at ~31 tokens); the filter samples 4 answers per candidate prompt at <= 48
# tokens; a GRPO step is 16 completions (generation ~half, training the rest). The distillation branch
# (demo_distill): the GRPO teacher samples TRACE_SAMPLES answers to training prompts (start: base + two adapters
# merged), the base model is SFT'd on the kept ones for TRACE_SFT_STEPS steps (batch 8, LoRA r16), then a distillation
# step samples 8 student answers of <= 40 tokens, runs the teacher over them and updates the student.
COST = {"convert": 30, "calibrate": 24, "eval_start": 3.8, "eval_base_sample": 0.402, "eval_sample": 0.295,
        "sft_start": 2, "sft_step": 6.29, "grpo_start": 5.9, "filter_sample": 0.361, "grpo_step": 26.9,
        "generate_start": 8.4, "generate_sample": 0.300, "sft_traces_start": 2.2, "sft_traces_step": 4.75,
        "distill_start": 7.4, "distill_step": 15.3, "report": 3}
# Share of each cost that scales with the probe's training ratio; the rest scales with its generation ratio. Training
# steps are all training; a GRPO step measured half and half (benchmarks/grpo_step_overhead.py: generate 10.3 s, train
# 10.2 s); the difficulty filter's sampling slowed across hosts more like training than like the evals (fitted: 0.7).
TRAIN_SHARE = {"convert": 0.0, "calibrate": 0.35, "eval_start": 0.5, "eval_base_sample": 0.0, "eval_sample": 0.0,
               "sft_start": 0.5, "sft_step": 1.0, "grpo_start": 0.5, "filter_sample": 0.7, "grpo_step": 0.5,
               "generate_start": 0.5, "generate_sample": 0.0, "sft_traces_start": 0.5, "sft_traces_step": 1.0,
               "distill_start": 0.5, "distill_step": 0.5, "report": 0.5}
# calibrate()'s probe on that VM, as it reads at a demo's start: the probes of those runs, scaled so that their first
# three stages took their estimate on average (a short probe there read 1.15-1.47x faster than the stages then ran)
REFERENCE_PROBE = {"generate_s": 5.98, "train_s": 3.92}
FILTER_SAMPLES = 48 * 4  # the GRPO recipe's candidate prompts x difficulty_filter.num_samples
GRPO_STEPS = (8, 48)  # fewer steps than 8 show no gain; more than 48 only on a fast machine's long budget
FULL_GRPO_STEPS = 16  # the full demo's GRPO (recipes/demo/grpo.yaml's max_steps): fewer is "scaled down"
MARGIN = 0.05  # share of --minutes left unplanned: stage times on a quiet machine vary by a few percent
DISTILL_STEPS = 4  # on-policy steps after the warm start (RESULTS.md: the warm-started student needs few)
TRACE_SAMPLES = 64 * 1  # recipes/demo/generate.yaml's prompts x sampling.n
TRACE_SFT_STEPS = 8  # the warm start's steps, the cold start's count (recipes/demo/sft_traces.yaml)
TRAINED_EVALS = 3  # held-out evals of trained models: after SFT, after GRPO, the distilled student
EVAL_N = (64, 48, 32)  # held-out problems per family: full, then scaled down tier by tier on a slower machine
SAFETY_PROMPTS = 16  # HarmBench prompts per evaluated model, of its 200 (`r1lite demo --safety_prompts 200`: all)
PROBE_PROMPTS = 16
PROBE_MAX_AGE_S = 6 * 3600  # a cached probe older than this is measured again (`r1lite demo --recalibrate`: now)


# one time ratio against the reference machine for all work, or a (generation, training) pair
Speed = float | tuple[float, float]


def factors(speed: Speed) -> tuple[float, float]:
    """(generation, training) time ratios against the reference machine."""
    if isinstance(speed, (int, float)):
        return float(speed), float(speed)
    return float(speed[0]), float(speed[1])


def cost_s(key: str, speed: Speed = 1.0) -> float:
    """One unit of COST[key] on a machine of `speed`: its training share scales with the training ratio, the rest
    with the generation ratio."""
    generate, train = factors(speed)
    share = TRAIN_SHARE[key]
    return COST[key] * (share * train + (1 - share) * generate)


def stage_units(p: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per demo stage, the units of each COST entry it spends under plan `p` (conversion and calibration apart)."""
    samples = 2 * p["eval_n"] + p["safety_n"]  # each model answers the HarmBench prompts too
    trained_eval = {"eval_start": 1, "eval_sample": samples}
    return {"eval_base": {"eval_start": 1, "eval_base_sample": samples},
            "sft": {"sft_start": 1, "sft_step": p["sft_steps"]},
            "eval_sft": trained_eval,
            "grpo": {"grpo_start": 1, "filter_sample": p["filter_samples"], "grpo_step": p["grpo_steps"]},
            "eval_grpo": trained_eval,
            "generate_traces": {"generate_start": 1, "generate_sample": TRACE_SAMPLES},
            "sft_traces": {"sft_traces_start": 1, "sft_traces_step": p["trace_sft_steps"]},
            "distill": {"distill_start": 1, "distill_step": p["distill_steps"]},
            "eval_distill": trained_eval,
            "report": {"report": 1}}


def stage_estimates(p: dict[str, int], speed: Speed = 1.0) -> dict[str, float]:
    """Seconds of each demo stage under plan `p` on a machine of `speed`."""
    return {stage: sum(n * cost_s(key, speed) for key, n in units.items())
            for stage, units in stage_units(p).items()}


def estimate_s(p: dict[str, int], speed: Speed = 1.0, convert: bool = False, calibrate: bool = False) -> float:
    """The demo's wall time for plan `p` on a machine of `speed` (see Speed); `convert` and `calibrate`: a first
    run also converts the GGUF model and measures the machine."""
    return (convert * COST["convert"] + calibrate * cost_s("calibrate", speed)
            + sum(stage_estimates(p, speed).values()))


def replan_grpo(p: dict[str, int], speed: Speed, minutes: float, elapsed_s: float,
                walls: dict[str, float]) -> tuple[int, float, float]:
    """GRPO's steps, re-fitted when GRPO starts: (steps, the stages' slowdown so far, the new total estimate).
    A short probe can read a VM faster than it then runs (a burst after idle; a neighbour that arrives later), so
    the stages that ran (`walls`, seconds, in this process: `elapsed_s` since the demo began) show how much slower
    than estimated this run goes; GRPO takes what the rest of the budget leaves at that pace, within GRPO_STEPS."""
    estimates = stage_estimates({**p, "grpo_steps": 0}, speed)  # GRPO's steps are what is being fitted
    slowdown = sum(walls.values()) / sum(estimates[stage] for stage in walls)
    fixed = slowdown * sum(seconds for stage, seconds in estimates.items() if stage not in walls)
    left = minutes * 60 * (1 - MARGIN) - elapsed_s - fixed
    step = slowdown * cost_s("grpo_step", speed)
    steps = max(GRPO_STEPS[0], min(GRPO_STEPS[1], int(left // step)))
    return steps, slowdown, elapsed_s + fixed + steps * step


def speed_of(probe: dict[str, float]) -> tuple[float, float]:
    """(generation, training) ratios of a calibrate() probe against the reference machine's."""
    return probe["generate_s"] / REFERENCE_PROBE["generate_s"], probe["train_s"] / REFERENCE_PROBE["train_s"]


def plan(minutes: float, speed: Speed, sft_steps: int, convert: bool = False,
         calibrate: bool = False) -> tuple[dict[str, int], list[str]]:
    """Step counts and eval sizes that fit `minutes` (less MARGIN for the machine's noise) on a machine `speed` times
    slower than the reference, and what was scaled down from the full demo (FULL_GRPO_STEPS GRPO steps, EVAL_N[0]
    problems per family; empty when nothing was). GRPO's steps take what the fixed stages leave (the distillation
    branch included: traces, warm start, DISTILL_STEPS on-policy steps); below GRPO's floor the held-out sets shrink
    tier by tier; below the last tier GRPO stays at its floor, the demo runs late and says so. The first run's
    conversion and calibration count in the budget, so a first run keeps the promise too."""
    budget = minutes * 60 * (1 - MARGIN)

    def fitted(eval_n: int) -> dict[str, int]:
        p = {"sft_steps": sft_steps, "grpo_steps": 0, "trace_sft_steps": TRACE_SFT_STEPS,
             "distill_steps": DISTILL_STEPS, "eval_n": eval_n,
             "safety_n": SAFETY_PROMPTS, "filter_samples": FILTER_SAMPLES}
        left = budget - estimate_s(p, speed, convert, calibrate)
        p["grpo_steps"] = max(0, min(GRPO_STEPS[1], int(left // cost_s("grpo_step", speed))))
        return p

    for eval_n in EVAL_N:
        p = fitted(eval_n)
        if p["grpo_steps"] >= GRPO_STEPS[0]:
            break
    scaled = []
    if p["eval_n"] < EVAL_N[0]:
        scaled.append(f"held-out problems {2 * EVAL_N[0]} -> {2 * p['eval_n']}")
    if p["grpo_steps"] < GRPO_STEPS[0]:
        p["grpo_steps"] = GRPO_STEPS[0]
        scaled.append(f"GRPO at its floor of {GRPO_STEPS[0]} steps: this machine needs more than "
                      f"{minutes:g} minutes for the smallest demo")
    else:
        scaled += grpo_scaled_down(p["grpo_steps"])
    return p, scaled


def grpo_scaled_down(steps: int) -> list[str]:
    """The "scaled down" line for GRPO at `steps`, or none at the full demo's count."""
    return [f"GRPO steps {FULL_GRPO_STEPS} -> {steps}"] if steps < FULL_GRPO_STEPS else []


def _boot_id() -> str:
    """This boot of this machine (Linux; empty elsewhere). Cloud VMs share hostnames ("vm") and often the home
    folder where the cache lives, so a probe cached on one host was reused on a slower one (+31% on GRPO)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def machine_key(model: str) -> str:
    import torch

    return (f"{platform.node()}|{_boot_id()}|{os.cpu_count()}|{torch.get_num_threads()}|{torch.__version__}"
            f"|{model}")


def cached_probe(cache: Path, model: str, max_age_s: float = PROBE_MAX_AGE_S) -> dict[str, float] | None:
    """This machine's probe ({"generate_s", "train_s"}) from an earlier run, if any and younger than `max_age_s` (a
    machine's load and neighbours change: an old probe, or one taken under load, would keep every later estimate
    wrong)."""
    try:
        entry = json.loads(cache.read_text()).get(machine_key(model))
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or time.time() - entry.get("measured_at", 0) > max_age_s:
        return None  # expired, or the bare number an older r1lite stored without a date
    probe = {k: entry.get(k) for k in ("generate_s", "train_s")}
    if all(isinstance(v, (int, float)) and v > 0 for v in probe.values()):
        return {k: float(v) for k, v in probe.items()}
    return None  # broken, or a single number from before the probe had two parts


def calibrate(model: str, eval_recipe: Any, prompts: list[Any], sft_rows: list[dict[str, Any]],
              cache: Path) -> dict[str, float]:
    """This machine's probe: seconds of a greedy batch of the eval's shape (`prompts`, held-out chats, at half its
    max_new_tokens) and of a LoRA training step of the SFT's shape (its batch of conversations), both on the real
    model, each timed once after a warm-up (one timing of a noisy VM can be 2x off; medians cost ~20 s more, and the
    demo's replan_grpo corrects the pace anyway). Two numbers, because hosts differ in their ratio (one of this class
    generated about as fast as the reference and trained 1.45x slower). Stored in `cache` per machine and model."""
    import torch
    from peft import LoraConfig, get_peft_model

    from r1lite.backends import SamplingParams, make_backend, model_args

    def timed_s(work: Any) -> float:
        work()  # warm-up: first-call allocations
        start = time.perf_counter()
        work()
        return time.perf_counter() - start

    backend = make_backend("hf", **model_args("hf", eval_recipe.model), batch_size=len(prompts))
    greedy = SamplingParams(temperature=0.0, max_new_tokens=eval_recipe.max_new_tokens // 2)
    generate_s = timed_s(lambda: backend.generate(prompts, greedy))

    tokenizer = backend.tokenizer
    model_ = get_peft_model(backend.model.train(), LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    inputs = tokenizer([tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in sft_rows],
                       return_tensors="pt", padding=True)
    optimizer = torch.optim.AdamW([p for p in model_.parameters() if p.requires_grad], lr=1e-4)

    def train_step() -> None:
        model_(**inputs, labels=inputs["input_ids"]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    train_s = timed_s(train_step)
    probe = {"generate_s": round(generate_s, 3), "train_s": round(train_s, 3)}
    stored = {}
    try:
        stored = json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    stored = stored if isinstance(stored, dict) else {}
    cache.parent.mkdir(parents=True, exist_ok=True)
    entry = {**probe, "measured_at": round(time.time())}
    cache.write_text(json.dumps({**stored, machine_key(model): entry}, indent=2))
    return probe


def report_section(data: dict[str, Any]) -> list[str]:
    """The demo report's time section (Markdown lines): each stage's wall time, the estimate printed at the start,
    the replan at GRPO's start and the probe it all scaled by."""
    walls = data["wall_s"]
    parts = ["## Wall time per stage", "", "| stage | seconds |", "|---|---:|"]
    parts += [f"| {stage} | {sec:.0f} |" for stage, sec in walls.items()]
    if data.get("difficulty_filter"):
        parts.append(f"| (of which GRPO's difficulty filter) | {data['difficulty_filter']['wall_s']:.0f} |")
    parts.append(f"| **total** | {sum(walls.values()):.0f} |")
    if data.get("estimate_s"):
        parts += ["", f"Estimated at the start: {data['estimate_s']:.0f} s."]
    if data.get("replanned"):
        r = data["replanned"]
        parts += ["", (f"Replanned when GRPO started: the stages before it took {r['slowdown']:.2f}x their estimate, "
                       f"so GRPO got {r['grpo_steps'][1]} steps (planned {r['grpo_steps'][0]}) and the estimate "
                       f"became {r['estimate_s']:.0f} s.")]
    c = data.get("calibration") or {}
    if isinstance(c.get("probe"), dict):  # a run folder from before the two-part probe has one number: not shown
        probe, ref, speed = c["probe"], c["reference_probe"], c["speed"]
        parts += ["", (f"Machine probe ({'measured at the start' if c['measured_now'] else 'cached from an earlier run'}"
                       f"): a greedy batch of the model {probe['generate_s']:.1f} s and a LoRA training step "
                       f"{probe['train_s']:.1f} s, against {ref['generate_s']:.1f} s and {ref['train_s']:.1f} s on the "
                       f"reference machine: every stage was planned at {speed['generate']:.2f}x its reference time "
                       f"for generation and {speed['train']:.2f}x for training.")]
    return parts
