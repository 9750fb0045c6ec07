"""Check `r1lite plan` against a GPU: one GRPO run and one SFT run of a Qwen2.5-1.5B-architecture model.

    python benchmarks/gpu_verify.py [--steps 3] [--json results.json]

The model is random-init from Qwen2.5-1.5B's config (model_shapes.KNOWN_SHAPES; the Hub is not reachable on the GPU
machine either), saved once in bf16 and trained through r1lite's own runners (full fine-tuning, one GPU, AdamW,
gradient checkpointing, HF generate for GRPO) so the measurement covers exactly what a user runs. For each run it
records torch.cuda.max_memory_allocated / max_memory_reserved and tokens/s between the first and the last step (the
first step pays for CUDA kernel warm-up), next to plan.estimate_memory's prediction for the same settings. Target:
the prediction within 15% of the measured peak. Without a CUDA device it says so and exits 2: it never reports
numbers it did not measure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPE = "Qwen/Qwen2.5-1.5B"
GIB = 1024**3


def build_model(folder: Path) -> str:
    """A random Qwen2.5-1.5B-shaped model in bf16 with r1lite's character tokenizer (token ids stay < its vocab,
    which does not change memory or speed: every logit row is still vocab-wide)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from r1lite.models import models
    from r1lite.models.model_shapes import KNOWN_SHAPES

    s = KNOWN_SHAPES[SHAPE]
    tok = models.tiny_tokenizer()
    config = AutoConfig.for_model(
        "qwen2", hidden_size=s.hidden_size, num_hidden_layers=s.num_layers, num_attention_heads=s.num_heads,
        num_key_value_heads=s.num_kv_heads, intermediate_size=s.intermediate_size, vocab_size=s.vocab_size,
        tie_word_embeddings=s.tie_word_embeddings, max_position_embeddings=s.max_position_embeddings,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == s.num_params, "plan's parameter count disagrees"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def recipes(model: str, out: Path, steps: int) -> dict[str, dict]:
    common = {"max_steps": steps, "learning_rate": 1e-6, "save_strategy": "no", "logging_steps": 1, "seed": 0,
              "gradient_checkpointing": True, "bf16": True, "report_to": "none"}
    source = {"path": "bundled:math_train_256"}  # MATH train levels 3-5, shipped with r1lite
    return {
        "grpo": {"model": {"model_name_or_path": model, "dtype": "bfloat16"},
                 "data": {"sources": [source], "system_prompt": None, "max_prompt_tokens": 256},
                 "rewards": [{"name": "accuracy"}],
                 "trainer": {**common, "output_dir": str(out / "grpo"), "per_device_train_batch_size": 8,
                             "num_generations": 8, "max_completion_length": 512, "loss_type": "dr_grpo",
                             "temperature": 1.0}},
        "sft": {"model": {"model_name_or_path": model, "dtype": "bfloat16"},
                "data": {"sources": [source], "system_prompt": None},
                "trainer": {**common, "output_dir": str(out / "sft"), "per_device_train_batch_size": 4,
                            "max_length": 2048, "packing": True}},
    }


def predicted(stage: str, recipe: object, gpu_memory_gib: float) -> dict:
    """plan's estimate for the same recipe on a GPU of this memory (one GPU, no sharding)."""
    from r1lite.models.model_shapes import KNOWN_SHAPES
    from r1lite.tools import plan

    setup = plan.setup_from_recipe(recipe, stage, plan.GPUS["h100"], 1, "none")
    setup = dataclasses.replace(setup, gpu_memory_gib=gpu_memory_gib)
    memory = plan.estimate_memory(KNOWN_SHAPES[SHAPE], setup)
    return {"peak_gib": memory["peak"] / GIB, "terms_gib": {k: v / GIB for k, v in memory["terms"].items()}}


def load(stage: str, raw: dict) -> tuple[object, object]:
    """(the validated recipe, the stage's run function): what `r1lite <stage>` runs (cli.py's contract)."""
    from r1lite import cli
    from r1lite.recipe.config import load_recipe

    return load_recipe(cli.recipe_class(stage), raw=raw), cli.module(stage).run


def measure(stage: str, raw: dict) -> dict:
    import torch

    recipe, run = load(stage, raw)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    start = time.time()
    out = run(recipe)
    wall = time.time() - start
    rows = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "num_tokens" in r]
    tokens_per_s = None
    if len(rows) >= 2:  # from the end of step 1 to the end of the last step
        tokens_per_s = (rows[-1]["num_tokens"] - rows[0]["num_tokens"]) / (rows[-1]["time"] - rows[0]["time"])
    return {"stage": stage, "peak_allocated_gib": torch.cuda.max_memory_allocated() / GIB,
            "peak_reserved_gib": torch.cuda.max_memory_reserved() / GIB, "tokens_per_s": tokens_per_s,
            "wall_s": wall, "steps": len(rows),
            "predicted": predicted(stage, recipe, torch.cuda.get_device_properties(0).total_memory / GIB)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_verify: no CUDA device on this machine, so nothing was measured. Run it where `nvidia-smi` "
              "shows a GPU; benchmarks/RESULTS.md records only numbers measured there.", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    device = torch.cuda.get_device_name(0)
    results = []
    with tempfile.TemporaryDirectory(prefix="r1lite-gpu-verify-") as tmp:
        model = build_model(Path(tmp) / "qwen2.5-1.5b-random")
        for stage, raw in recipes(model, Path(tmp), args.steps).items():
            results.append(measure(stage, raw))
    print(f"\n## gpu_verify on {device} (torch {torch.__version__})\n")
    print("| run | measured peak allocated (GiB) | reserved | plan peak (GiB) | plan / measured | tokens/s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        ratio = r["predicted"]["peak_gib"] / r["peak_allocated_gib"]
        speed = f"{r['tokens_per_s']:,.0f}" if r["tokens_per_s"] else "n/a"
        print(f"| {r['stage']} | {r['peak_allocated_gib']:.2f} | {r['peak_reserved_gib']:.2f} | "
              f"{r['predicted']['peak_gib']:.2f} | {ratio:.2f}{'' if abs(ratio - 1) <= 0.15 else ' (off >15%)'} | "
              f"{speed} |")
    for r in results:
        terms = ", ".join(f"{k} {v:.2f}" for k, v in r["predicted"]["terms_gib"].items())
        print(f"\nplan terms for {r['stage']} (GiB): {terms}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
