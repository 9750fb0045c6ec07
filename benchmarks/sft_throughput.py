"""SFT throughput: packing (TRL bfd, padding-free) vs padding, in one run, through r1lite's own `sft.build_trainer`.

Data: chat traces in the format `r1lite generate` writes, with a skewed length distribution like distilled reasoning
data (most traces short, about one in seven a long chain of thought). Model: a random Qwen2 a few times larger than
tiny:qwen2 so that compute, not Python overhead, dominates. Both modes see the same conversations, the same
max_length and about the same number of real tokens per optimizer step (the packed batch holds fewer, fuller rows).

Only real tokens count (padding never does); the first steps are warm-up and not timed.

    OMP_NUM_THREADS=1 python benchmarks/sft_throughput.py [--n 400] [--seconds 40] [--max_length 512]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = ("so", "then", "we", "get", "the", "sum", "is", "therefore", "let", "x", "be", "equal", "to", "check",
         "both", "sides", "wait", "multiply", "divide", "by", "and", "subtract", "which", "gives", "+", "-", "=")
WARMUP_STEPS = 2


def trace(rng: random.Random, length: int) -> str:
    """Chain-of-thought-looking text of about `length` characters (= tokens with the character-level tokenizer)."""
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS) if rng.random() < 0.7 else str(rng.randint(0, 999))
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def write_traces(folder: Path, n: int, max_length: int, seed: int) -> list[int]:
    """n conversations: 85% short (20-120 tokens of reasoning), 15% long (50-95% of max_length). Returns their
    reasoning lengths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    lengths, rows = [], []
    for i in range(n):
        length = rng.randint(20, 120) if rng.random() < 0.85 else rng.randint(int(0.5 * max_length),
                                                                              int(0.95 * max_length))
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        rows.append({"id": f"q{i}", "source": "bench", "messages": [
            {"role": "user", "content": f"What is {a} + {b}? Think step by step."},
            {"role": "assistant", "content": f"<think>\n{trace(rng, length)}\n</think>\nThe answer is \\boxed{{{a + b}}}."},
        ]})
        lengths.append(length)
    (folder / "shard-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return lengths


def write_model(folder: Path) -> None:
    """A random Qwen2 (2 layers, hidden 256: ~10x tiny:qwen2's compute per token) with r1lite's character-level
    tokenizer. Wide for its sequence lengths, as real models are, so the linear layers dominate the cost."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from r1lite.models.models import tiny_tokenizer

    tok = tiny_tokenizer()
    config = AutoConfig.for_model("qwen2", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                                  eos_token_id=tok.eos_token_id, bos_token_id=None, hidden_size=256,
                                  intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)


def real_tokens(batch: dict[str, Any]) -> int:
    """Non-pad tokens of a collated batch: the attention mask when padded; every token of a padding-free row."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["input_ids"].numel())


def measure(trainer: Any, seconds: float) -> dict[str, float]:
    """Train until `seconds` have passed after the warm-up steps; real tokens/s over the timed steps."""
    from transformers import TrainerCallback

    counted = {"tokens": 0, "padded": 0}
    compute_loss = trainer.compute_loss

    def counting_loss(model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        counted["tokens"] += real_tokens(inputs)
        counted["padded"] += int(inputs["input_ids"].numel())
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = counting_loss  # sees exactly the batches that are trained on, no prefetched ones
    marks: list[tuple[float, int, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append((time.perf_counter(), counted["tokens"], counted["padded"]))
            if len(marks) > WARMUP_STEPS and marks[-1][0] - marks[WARMUP_STEPS - 1][0] >= seconds:
                control.should_training_stop = True

    trainer.add_callback(Clock())
    trainer.train()
    (t0, tok0, pad0), (t1, tok1, pad1) = marks[WARMUP_STEPS - 1], marks[-1]
    steps = len(marks) - WARMUP_STEPS
    return {"tokens_per_s": (tok1 - tok0) / (t1 - t0), "steps": steps, "tokens_per_step": (tok1 - tok0) / steps,
            "fill": (tok1 - tok0) / (pad1 - pad0), "seconds": t1 - t0}


def build(work: Path, mode: str, batch_size: int, accumulation: int, max_length: int, seed: int) -> Any:
    from r1lite.recipe.config import load_recipe
    from r1lite.train.sft import SFTRecipe, build_trainer

    out = work / f"out-{mode}"
    raw = {"model": {"model_name_or_path": str(work / "model")},
           "data": {"sources": [{"path": str(work / "traces")}], "system_prompt": None, "seed": seed},
           "trainer": {"output_dir": str(out), "packing": mode == "packing", "max_length": max_length,
                       "per_device_train_batch_size": batch_size,
                       "gradient_accumulation_steps": accumulation, "num_train_epochs": 100, "learning_rate": 1e-4,
                       "save_strategy": "no", "logging_steps": 1000, "report_to": "none", "seed": seed,
                       "disable_tqdm": True}}
    return build_trainer(load_recipe(SFTRecipe, raw=raw), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="conversations")
    parser.add_argument("--seconds", type=float, default=40.0, help="timed training per mode")
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=8, help="rows per step when padding")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    import transformers

    from r1lite import runs

    runs.setup_env()
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(prefix="sft-bench-") as tmp:
        work = Path(tmp)
        lengths = write_traces(work / "traces", args.n, args.max_length, args.seed)
        write_model(work / "model")
        padded = build(work, "padding", args.batch_size, 1, args.max_length, args.seed)
        conversation_tokens = [len(ids) for ids in padded.train_dataset["input_ids"]]
        mean = sum(conversation_tokens) / len(conversation_tokens)
        # The same real tokens per optimizer step in both modes. Packed: one full max_length row per micro-batch,
        # accumulated; sdpa has no variable-length kernel, so a padding-free row of several packed rows would
        # attend densely (through a block-diagonal mask) across all of them.
        accumulation = max(1, round(args.batch_size * mean / args.max_length))
        print(f"{args.n} conversations, reasoning length {min(lengths)}-{max(lengths)} (median "
              f"{sorted(lengths)[len(lengths) // 2]}), {mean:.0f} tokens/conversation on average; max_length "
              f"{args.max_length}; torch threads {torch.get_num_threads()}")
        results = {"padding": measure(padded, args.seconds)}
        del padded
        packed = build(work, "packing", 1, accumulation, args.max_length, args.seed)
        results["packing"] = measure(packed, args.seconds)

    for mode, shape in (("padding", f"{args.batch_size} rows"), ("packing", f"{accumulation} x 1 row")):
        r = results[mode]
        print(f"{mode:8s} ({shape:>8s}/step): {r['tokens_per_s']:8.0f} real tokens/s ({r['steps']} steps in "
              f"{r['seconds']:.1f} s, {r['tokens_per_step']:.0f} real tokens/step, {100 * r['fill']:.0f}% of the "
              f"batch is real tokens)")
    ratio = results["packing"]["tokens_per_s"] / results["padding"]["tokens_per_s"]
    print(f"SUMMARY sft_throughput: packing {results['packing']['tokens_per_s']:.0f} tok/s vs padding "
          f"{results['padding']['tokens_per_s']:.0f} tok/s = {ratio:.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
