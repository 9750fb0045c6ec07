"""Eval generation throughput: r1lite's batched HF backend vs a naive loop (one model.generate per sample).

SmolLM2-135M on GSM8K problems x k samples, same sampling settings and max new tokens, in one run. Prints
samples/s of both and the ratio (target >= 4x). Run: python benchmarks/eval_throughput.py [--problems 64 --k 4]
"""

from __future__ import annotations

import argparse
import time

import torch

from r1lite.backends import SamplingParams
from r1lite.backends.hf import HFBackend
from r1lite.data.benchmarks import load_benchmark
from r1lite.data.prompts import build_messages


def naive(backend: HFBackend, prompts: list, params: SamplingParams) -> int:
    """What a first eval script does: render, tokenize and generate each sample on its own."""
    model, tok, tokens = backend.model, backend.tokenizer, 0
    for prompt in prompts:
        ids = tok(backend.render(prompt), return_tensors="pt", add_special_tokens=False).to(model.device)
        for _ in range(params.n):
            out = model.generate(**ids, max_new_tokens=params.max_new_tokens, do_sample=True,
                                 temperature=params.temperature, top_p=params.top_p, top_k=0,
                                 pad_token_id=tok.pad_token_id)
            tokens += out.shape[1] - ids["input_ids"].shape[1]
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--data_dir", default=None, help="benchmark JSONL folder (default: the bundled copies)")
    args = parser.parse_args()

    rows = load_benchmark("gsm8k", args.data_dir, limit=args.problems)
    prompts = [build_messages(r["prompt"]) for r in rows]
    params = SamplingParams(n=args.k, max_new_tokens=args.max_new_tokens)  # R1 sampling: T=0.6, top_p=0.95
    backend = HFBackend("smollm2-135m", batch_size=args.batch_size)
    torch.manual_seed(0)
    backend.generate(prompts[:2], SamplingParams(n=1, max_new_tokens=4))  # warm-up
    samples = len(prompts) * args.k

    start = time.perf_counter()
    outs = backend.generate(prompts, params)
    ours_s = time.perf_counter() - start
    ours_tokens = sum(c.completion_tokens for o in outs for c in o)

    start = time.perf_counter()
    naive_tokens = naive(backend, prompts, params)
    naive_s = time.perf_counter() - start

    print(f"{samples} samples ({args.problems} GSM8K problems x {args.k}), max_new_tokens={args.max_new_tokens}, "
          f"{torch.get_num_threads()} threads")
    print(f"naive loop : {samples / naive_s:7.2f} samples/s  ({naive_tokens / naive_s:7.1f} tokens/s, {naive_s:.1f} s)")
    print(f"r1lite hf  : {samples / ours_s:7.2f} samples/s  ({ours_tokens / ours_s:7.1f} tokens/s, {ours_s:.1f} s)")
    print(f"ratio      : {naive_s / ours_s:.2f}x (target >= 4x)")


if __name__ == "__main__":
    main()
