"""What `--trainer.bf16 true` buys on this CPU: r1lite's GRPO trainer on the demo's GRPO recipe, fp32 against bf16
autocast (fp32 weights), alternately in this process, split into generation and the training pass per step. bf16
autocast is only faster on a CPU with bf16 instructions (AVX512-BF16, AMX); elsewhere expect a speed-up below 1.

    OMP_NUM_THREADS=2 python benchmarks/cpu_bf16.py [--model smollm2-135m] [--steps 4] [--rounds 2]
"""

from __future__ import annotations

import statistics
from pathlib import Path

from grpo_step_overhead import alternate, demo_recipe, parse_args, r1lite_trainer, timed_train

from r1lite.runs import setup_env


def cpu_bf16_flags() -> list[str]:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    return sorted({f for f in flags if f in ("avx512_bf16", "amx_bf16")})


def run(bf16: bool, model: str, steps: int, out: Path) -> list[dict[str, float]]:
    recipe = demo_recipe(model, out, steps, **{"trainer.bf16": bf16})
    return timed_train(r1lite_trainer(recipe, out), "bf16" if bf16 else "fp32")


def main() -> None:
    args = parse_args(__doc__, "fp32 / bf16")
    setup_env()
    print(f"CPU bf16 instructions: {', '.join(cpu_bf16_flags()) or 'none'}")
    rows = alternate((False, True), args.rounds, lambda bf16, out: run(bf16, args.model, args.steps, out))
    medians = {bf16: {k: statistics.median(x[k] for x in r) for k in ("total", "generate", "train")}
               for bf16, r in rows.items()}
    print("| precision | steps | step s (median) | generate s | train s (logps, loss, backward) |")
    print("|---|---:|---:|---:|---:|")
    for bf16, m in medians.items():
        print(f"| {'bf16 autocast' if bf16 else 'fp32'} | {len(rows[bf16])} | {m['total']:.2f} | {m['generate']:.2f} | "
              f"{m['train']:.2f} |")
    ratio = {k: medians[False][k] / medians[True][k] for k in ("total", "generate", "train")}
    print(f"bf16 speed-up (fp32 / bf16): step {ratio['total']:.2f}x, generation {ratio['generate']:.2f}x, "
          f"training pass {ratio['train']:.2f}x")


if __name__ == "__main__":
    main()
