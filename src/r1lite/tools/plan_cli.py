"""`r1lite plan` on the command line: options -> plan.make_plan -> the plan as a table (format_plan) or as JSON.

    argv -> --config and the plan options (argparse; --accelerate_config names the strategy) -> the rest are recipe
    field overrides, as for `r1lite grpo` -> load_recipe -> make_plan (plain data) -> format_plan or json.dumps

The table shows each memory term with how it was computed (_explain), the verdict, the cheapest change that fits,
then tokens, assumed speeds and cost. `--help` prints plan's docstring: the usage and the memory model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import r1lite.tools.plan
from r1lite.cli import TRAINING, recipe_class, stage_of
from r1lite.recipe import ConfigError, load_recipe, parse_overrides, split_config
from r1lite.tools.plan import GPUS, STRATEGIES, Setup, make_plan

# ---------------------------------------------------------------------------------------------------------------------
# the table

LABELS = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer states",
          "activations": "activations", "reference_model": "reference model", "vllm": "vLLM colocate share",
          "kv_cache": "KV cache (HF generate)", "teacher": "teacher (frozen)",
          "overhead": "CUDA context, allocator"}


def _millions(x: float) -> str:
    return f"{x / 1e9:.2f}B" if x >= 1e9 else f"{x / 1e6:.1f}M"


def _explain(plan: dict[str, Any], term: str) -> str:
    s = plan["setup"]
    # the ZeRO stage that divides a term
    shard = {"weights": 3, "gradients": 2, "optimizer": 1, "reference_model": 3, "teacher": 3}
    sharded = term in shard and Setup(**s).sharding() >= shard[term]
    tail = f", / {plan['num_gpus']} GPUs ({plan['strategy']})" if sharded else ""
    if term == "weights":
        return f"{_millions(plan['params'])} params x {s['weight_bytes']:g} bytes" + tail
    if term == "gradients":
        return f"{_millions(plan['trainable_params'])} trainable" + tail
    if term == "optimizer":
        kind = "8-bit Adam moments" if s["optimizer_8bit"] else "Adam moments"
        if s["lora_r"] is not None:
            kind += " (fp32 adapters)"
        elif plan["master_weights"]:
            kind += " + fp32 master weights"
        elif s["weight_bytes"] < 4:
            kind += " in bf16 (plain PyTorch on a bf16 model: no fp32 master)"
        return kind + tail
    if term == "activations":
        a = plan["activations_gib"]
        state = "on" if s["gradient_checkpointing"] else "off"
        return (f"micro batch {s['micro_batch']} x {s['seq_len']} tokens, checkpointing {state} "
                f"(on: {a['with_checkpointing']:.1f}, off: {a['without_checkpointing']:.1f})")
    if term == "teacher":
        return (f"{_millions(s['teacher_params'])} params x 2 bytes (bf16)" + tail
                if s["teacher_params"] else "none (no distillation teacher, or a served one)")
    if term == "reference_model":
        return "beta > 0: bf16 copy" + tail if plan["memory_gib"][term] else "none (beta 0, or LoRA)"
    if term == "vllm":
        kv = plan["kv_cache_tokens"]
        sleep = "; released while training (sleep mode)" if s["vllm_sleep"] else ""
        return (f"{s['vllm_gpu_memory_utilization']} x GPU: weights + KV cache for {kv['capacity']:,} tokens, "
                f"a generation batch needs {kv['needed']:,}{sleep}")
    if term == "kv_cache":
        return f"{s['gen_sequences']} sequences x {s['seq_len']} tokens"
    return ""


def format_plan(plan: dict[str, Any]) -> str:
    s = plan["setup"]
    method = f"LoRA r={s['lora_r']}" if s["lora_r"] is not None else "full fine-tuning"
    lines = [
        f"r1lite plan: {plan['recipe'] or '(recipe)'}  [{plan['stage']}]",
        (f"model     {plan['model']} ({plan['model_type']}, {_millions(plan['params'])} params; {method}, "
         f"{_millions(plan['trainable_params'])} trainable)"),
        (f"hardware  {plan['num_gpus']} x {plan['gpu']} ({plan['capacity_gib']} GiB each), "
         f"strategy {plan['strategy']}, generation {s['generation']}"),
        "",
        "per-GPU memory (GiB)",
    ]
    for term, gib in plan["memory_gib"].items():
        lines.append(f"  {LABELS[term]:<26}{gib:>8.1f}   {_explain(plan, term)}")
    verdict = "fits" if plan["fits"] else "DOES NOT FIT"
    lines.append(f"  {'peak':<26}{plan['peak_gib']:>8.1f}   of {plan['capacity_gib']} GiB: {verdict}; "
                 f"largest term: {LABELS[plan['largest']]}")
    if not plan["fits"]:
        fix = plan["fix"]
        lines.append("  cheapest change that fits: " + (" + ".join(fix) if fix else
                                                        "none of the listed changes; use more or larger GPUs"))
    lines.append("")
    rates, assumed = plan["tokens_per_s_per_gpu"], plan["throughput_assumed"]
    if plan["tokens_train"] is None:
        lines.append(f"time      unknown: {plan['workload_note']}")
        return "\n".join(lines)
    if plan["stage"] in ("grpo", "distill"):
        lines.append(f"tokens    generate <= {_millions(plan['tokens_generate'])}, train <= "
                     f"{_millions(plan['tokens_train'])} over {plan['steps']} steps (every completion at max length)")
    else:
        lines.append(f"tokens    train <= {_millions(plan['tokens_train'])} over {plan['steps']} steps "
                     "(every sequence at max_length)")
    a = plan["assumptions"]
    how = (f"{'assumed' if assumed['train'] else 'given'}: "
           + (f"{a['mfu']:.0%} MFU of {a['peak_bf16_tflops']:g} TFLOPS" if assumed["train"] else "--tokens_per_s"))
    lines.append(f"speed     train {rates['train']:,} tokens/s/GPU ({how})")
    if plan["stage"] in ("grpo", "distill"):
        how = ("given: --gen_tokens_per_s" if not assumed["generate"] else
               f"assumed: decode at {a['decode_bandwidth_efficiency']:.0%} of {a['bandwidth_gbs']:g} GB/s for "
               f"{s['gen_sequences']} concurrent sequences"
               + (", HF generate x0.2" if s["generation"] == "hf" else ""))
        lines.append(f"          generate {rates['generate']:,} tokens/s/GPU ({how})")
    price = "assumed" if plan["price_assumed"] else "given"
    lines.append(f"time      <= {plan['gpu_hours']:,} GPU-hours = {plan['wall_hours']:,} h wall on {plan['num_gpus']} "
                 f"GPU{'s' if plan['num_gpus'] > 1 else ''}; <= ${plan['cost_usd']:,} at "
                 f"${plan['price_per_gpu_hour']}/GPU-hour ({price})")
    return "\n".join(lines)




# ---------------------------------------------------------------------------------------------------------------------
# command line

USAGE = ("usage: r1lite plan --config RECIPE --gpu {" + "|".join(GPUS) + "} [--num_gpus N] "
         "[--strategy {" + "|".join(STRATEGIES) + "} | --accelerate_config FILE] [--json] [--price_per_gpu_hour X] "
         "[--tokens_per_s X] [--gen_tokens_per_s X] [--field value ...]")
# the plan's own options; anything else on the command line is a recipe field override (no abbreviations: --gen
# must not swallow a field's name)
OPTIONS = argparse.ArgumentParser(prog="r1lite plan", add_help=False, allow_abbrev=False, exit_on_error=False)
OPTIONS.add_argument("--gpu")
OPTIONS.add_argument("--num_gpus", type=int, default=1)
OPTIONS.add_argument("--strategy")
OPTIONS.add_argument("--accelerate_config")
OPTIONS.add_argument("--json", action="store_true")
for name in ("--price_per_gpu_hour", "--tokens_per_s", "--gen_tokens_per_s"):
    OPTIONS.add_argument(name, type=float)


def strategy_of_accelerate_config(path: str) -> str:
    """none | ddp | zeroN | fsdp, from an accelerate config file."""
    import yaml

    config = yaml.safe_load(Path(path).read_text()) or {}
    kind = str(config.get("distributed_type", "NO"))
    if kind == "DEEPSPEED":
        return f"zero{(config.get('deepspeed_config') or {}).get('zero_stage', 2)}"
    return {"FSDP": "fsdp", "MULTI_GPU": "ddp"}.get(kind, "none")


def cli(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(r1lite.tools.plan.__doc__)
        return 0
    path, rest = split_config(argv)
    try:
        opts, rest = OPTIONS.parse_known_args(rest)
    except argparse.ArgumentError as e:  # a bad or missing value: a configuration error, as a bad field is
        raise ConfigError(f"{e}; {USAGE}") from None
    if path is None or opts.gpu is None:
        print(USAGE, file=sys.stderr)
        return 2
    stage = stage_of(path)
    if stage not in TRAINING:
        raise ConfigError(f"{path}: plan covers training recipes ({', '.join(TRAINING)}), not {stage}")
    recipe = load_recipe(recipe_class(stage), path, parse_overrides(rest))
    strategy = strategy_of_accelerate_config(opts.accelerate_config) if opts.accelerate_config else opts.strategy
    if opts.num_gpus < 1:
        raise ConfigError(f"--num_gpus: must be at least 1, got {opts.num_gpus}")
    result = make_plan(recipe, stage, opts.gpu, opts.num_gpus, strategy, path, opts.price_per_gpu_hour,
                       opts.tokens_per_s, opts.gen_tokens_per_s)
    print(json.dumps(result, indent=2) if opts.json else format_plan(result))
    return 0
