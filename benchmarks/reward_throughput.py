"""Reward throughput: r1lite's `accuracy` reward (bounded process-pool scorer, all cores) vs math-verify called
serially once per completion, the way open-r1's accuracy reward does. One run, the same completions for both.

Completions are built (seeded) from the gold answers of MATH-500 and GSM8K (bundled in r1lite): chains of thought of
150 to 3,000 words (R1-style traces run to thousands of tokens) ending in a boxed answer that is right, wrong, or right in another form (\\dfrac, a decimal); chains of thought cut off
before any answer; answers stated without \\boxed; garbage; and a few pathological inputs (deep nesting, huge powers,
unclosed braces). Both sides score them in the batches TRL hands a reward function (`--batch`).

    python benchmarks/reward_throughput.py [--n 2000] [--batch 64] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable

# Well-formed: one final \boxed{} answer after the reasoning. On these both scorers must agree.
WELL_FORMED = ("boxed_correct", "boxed_wrong", "boxed_equivalent")
KINDS = {  # kind -> share of the completions
    "boxed_correct": 0.32, "boxed_wrong": 0.25, "boxed_equivalent": 0.10, "answer_is_unboxed": 0.08,
    "no_answer": 0.12, "garbage": 0.125, "pathological": 0.005,
}
STEPS = ("Let me think about this carefully.", "First, I need to understand what the problem is asking.",
         "We can set up an equation: $x + {a} = {b}$, so $x = {c}$.", "Wait, let me double-check that step.",
         "Multiplying both sides by ${a}$ gives ${d}$.", "Hmm, that does not look right. Let me recompute.",
         "So the total is ${a} \\times {b} = {d}$.", "Using the formula $\\frac{{n(n+1)}}{{2}}$ with $n = {a}$.",
         "Therefore $\\sqrt{{{d}}}$ is not an integer, so we try another approach.",
         "Substituting back, ${a}^2 - {b} = {e}$.", "This means the answer should be close to {c}.")


def load_golds(seed: int) -> list[tuple[str, str]]:
    """(problem, gold answer) pairs from MATH-500 and GSM8K, shuffled."""
    from r1lite.data.benchmarks import bundled_file, read_jsonl

    pairs = []
    for name in ("math500", "gsm8k_test"):
        pairs += [(row["problem"], str(row["answer"])) for row in read_jsonl(bundled_file(name))]
    random.Random(seed).shuffle(pairs)
    return pairs


def reasoning(rng: random.Random, problem: str, words: int) -> str:
    """A chain of thought of about `words` words with inline LaTeX and numbers."""
    lines, size = [f"The problem says: {problem[:300]}"], 0
    while size < words:
        a, b = rng.randint(2, 99), rng.randint(2, 999)
        line = rng.choice(STEPS).format(a=a, b=b, c=b - a, d=a * b, e=a * a - b)
        lines.append(line)
        size += len(line.split())
    return "\n".join(lines)


def equivalent_form(gold: str) -> str | None:
    """The gold written differently but equal: \\dfrac for \\frac, a decimal for a simple fraction or integer."""
    if "\\frac" in gold:
        return gold.replace("\\frac", "\\dfrac")
    if gold.lstrip("-").isdigit():
        return f"{gold}.0"
    return None


def wrong_answer(rng: random.Random, gold: str, golds: list[str]) -> str:
    if gold.lstrip("-").isdigit():
        return str(int(gold) + rng.choice([-10, -1, 1, 2, 7]))
    other = rng.choice(golds)
    return other if other != gold else f"{gold} + 1"


def pathological(rng: random.Random) -> str:
    """Degenerate outputs that make a symbolic checker slow or hang (power towers never finish in sympy)."""
    depth = rng.randint(200, 400)
    return rng.choice([
        "\\boxed{" + "(" * depth + "x" + ")" * depth + "}",
        "\\boxed{" + "9^{" * 12 + "9" + "}" * 12 + "}",
        "\\boxed{" + "\\frac{1}{" * 60 + "2" + "}" * 60 + "}",
        "\\boxed{" + "x+" * 3000 + "1}",
        "\\boxed{" + "{" * depth,
        "$" + "\\sqrt{" * 80 + "2" + "}" * 80 + "$ so \\boxed{" + "+".join(["x^{100}"] * 400) + "}",
    ])


def garbage(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789{}[]()\\$^_+-=*/ \n\t<>|&%#@!~"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 3000)))
    return rng.choice([text, "\u2603\u00e9\u4e2d" * rng.randint(1, 500), "", "</think>" * 3, "\\boxed{}" + text])


def build_completions(n: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, completion, gold) triples; all completions distinct (no cache hit flatters r1lite)."""
    rng = random.Random(seed)
    pairs = load_golds(seed)
    golds = [g for _, g in pairs]
    kinds = [k for k, share in KINDS.items() for _ in range(round(n * share))][:n]
    kinds += ["boxed_correct"] * (n - len(kinds))
    rng.shuffle(kinds)
    out = []
    for i, kind in enumerate(kinds):
        problem, gold = pairs[i % len(pairs)]
        think = f"<think>\n{reasoning(rng, problem, rng.choice([150, 400, 1200, 3000]))}\n</think>\n"
        if kind == "boxed_equivalent" and equivalent_form(gold) is None:
            kind = "boxed_correct"
        if kind == "boxed_correct":
            text = f"{think}The answer is $\\boxed{{{gold}}}$."
        elif kind == "boxed_equivalent":
            text = f"{think}So the final answer is $\\boxed{{{equivalent_form(gold)}}}$."
        elif kind == "boxed_wrong":
            text = f"{think}The answer is $\\boxed{{{wrong_answer(rng, gold, golds)}}}$."
        elif kind == "answer_is_unboxed":
            text = f"{think}The answer is {gold}."
        elif kind == "no_answer":
            text = think[: rng.randint(len(think) // 2, len(think) - 10)]  # cut off at max_completion_length
        elif kind == "garbage":
            text = garbage(rng)
        else:
            text = f"{think}{pathological(rng)}"
        out.append((kind, f"{text} #{i}" if kind == "garbage" else text, gold))  # garbage can repeat; make it unique
    return out


def open_r1_accuracy() -> Callable[[str, str], float | None]:
    """open-r1's accuracy reward for one completion: parse the gold, parse the completion's boxed/LaTeX answer with
    its extraction settings, verify; math-verify's default (signal-based) timeouts, serial."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(
        # open-r1 also sets equations=True, which math-verify 0.9 deprecates (the parser handles equations now)
        normalization_config=NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True,
                                                 boxed="all", units=True),
        boxed_match_priority=0, try_extract_without_anchor=False)]

    def score(completion: str, gold: str) -> float | None:
        gold_parsed = parse("\\boxed{" + gold + "}")  # open-r1 parses a solution holding the boxed answer
        if not gold_parsed:
            return None
        try:
            return float(verify(gold_parsed, parse(completion, extraction_config=config,
                                                   extraction_mode="first_match")))
        except Exception:  # noqa: BLE001 - open-r1 scores a verifier error None too
            return None

    return score


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_baseline(items: list[tuple[str, str, str]], batch: int) -> tuple[list[float | None], list[float], list[float]]:
    score = open_r1_accuracy()
    score("<think>warm</think> \\boxed{1}", "1")
    verdicts, latencies, batch_times = [], [], []
    for start in range(0, len(items), batch):
        t_batch = time.perf_counter()
        for _, completion, gold in items[start:start + batch]:
            t = time.perf_counter()
            verdicts.append(score(completion, gold))
            latencies.append(time.perf_counter() - t)
        batch_times.append(time.perf_counter() - t_batch)
    return verdicts, latencies, batch_times


def run_r1lite(items: list[tuple[str, str, str]], batch: int) -> tuple[list[float | None], list[float], list[float]]:
    from r1lite.rewards import make_reward

    reward = make_reward("accuracy")
    reward(completions=["<think>warm</think> \\boxed{x^2}"] * 2, answer=["x^2", "y"])  # start the worker pool
    verdicts, latencies, batch_times = [], [], []
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        t = time.perf_counter()
        verdicts += reward(completions=[c for _, c, _ in chunk], answer=[g for _, _, g in chunk])
        batch_times.append(time.perf_counter() - t)
        latencies += [batch_times[-1]] * len(chunk)  # a completion's score is ready when its batch returns
    return verdicts, latencies, batch_times


# the verdict each kind of completion deserves: credit (1.0) or none (0.0)
EXPECTED = {"boxed_correct": 1.0, "boxed_equivalent": 1.0, "answer_is_unboxed": 1.0, "boxed_wrong": 0.0,
            "no_answer": 0.0, "garbage": 0.0, "pathological": 0.0}


def report_agreement(items: list[tuple[str, str, str]], base: list[float | None], ours: list[float | None]
                     ) -> list[bool]:
    """Agreement with math-verify by answer kind, and every disagreement with who is right (the verdict the kind
    deserves; a None on an unparseable gold counts as no credit; a "wrong" answer drawn from another gold can
    happen to equal this one). Returns agreement on the well-formed kinds."""
    agree: dict[str, list[bool]] = defaultdict(list)
    right: Counter = Counter()
    for (kind, completion, gold), a, b in zip(items, base, ours):
        agree[kind].append(a == b)
        if a != b:
            truth = EXPECTED[kind]
            who = "r1lite" if (b or 0.0) == truth else "math-verify" if (a or 0.0) == truth else "neither"
            right[who] += 1
            print(f"disagreement ({kind}, {who} right): gold {gold!r:.50}, math-verify {a}, r1lite {b}: "
                  f"...{completion[-70:]!r}")
    print("agreement with math-verify by kind: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in agree.items()))
    print(f"disagreements, who is right: {dict(right)}")
    return [x for k in WELL_FORMED for x in agree[k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="completions")
    parser.add_argument("--batch", type=int, default=64, help="completions per reward call (TRL's generation batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    from r1lite.grading.bounded_pool import default_num_workers, shared_scorer

    items = build_completions(args.n, args.seed)
    counts = Counter(kind for kind, _, _ in items)
    print(f"{len(items)} completions ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
          f"{sum(len(c) for _, c, _ in items) / len(items):.0f} chars on average; batches of {args.batch}; "
          f"{os.cpu_count()} cores, r1lite uses {default_num_workers()} scoring workers")

    results = {}
    for name, run in (("baseline", run_baseline), ("r1lite", run_r1lite)):
        t = time.perf_counter()
        verdicts, latencies, batch_times = run(items, args.batch)
        results[name] = {"verdicts": verdicts, "latencies": latencies, "batch_times": batch_times,
                         "rate": len(items) / (time.perf_counter() - t)}

    base, ours = results["baseline"], results["r1lite"]
    well_formed = report_agreement(items, base["verdicts"], ours["verdicts"])
    seconds_by_kind: Counter = Counter()
    for (kind, _, _), latency in zip(items, base["latencies"]):
        seconds_by_kind[kind] += latency
    print("baseline seconds by kind: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds_by_kind.items()))
    print(f"r1lite scorer: {dict(shared_scorer().stats)} (quick: decided in-process without math-verify; remote: "
          "graded by a worker; timed_out: killed at the 5 s deadline)")
    for name, r in results.items():
        print(f"{name:8s}: {r['rate']:7.1f} completions/s; per completion p50 "
              f"{statistics.median(r['latencies']) * 1e3:7.1f} ms, p99 {percentile(r['latencies'], 0.99) * 1e3:7.1f} "
              f"ms, max {max(r['latencies']):.2f} s; per batch p99 {percentile(r['batch_times'], 0.99):.2f} s")
    print("  (r1lite scores a batch in parallel: each of its completions waits for its whole batch)")
    for name in results:
        correct = Counter(kind for (kind, _, _), v in zip(items, results[name]["verdicts"]) if v == 1.0)
        print(f"  judged correct by {name}: {dict(correct)}")
    ratio = ours["rate"] / base["rate"]
    print(f"SUMMARY reward_throughput: r1lite {ours['rate']:.1f}/s vs serial math-verify {base['rate']:.1f}/s = "
          f"{ratio:.2f}x (target >= 3x); agreement on well-formed {sum(well_formed)}/{len(well_formed)}; p99 per "
          f"completion {percentile(ours['latencies'], 0.99):.2f} s vs {percentile(base['latencies'], 0.99):.2f} s")


if __name__ == "__main__":
    main()
