"""Agreement with labels: r1lite's grader vs math-verify on tests/data/grading_cases.jsonl (other projects' labels) or
tests/data/grading_pairs.jsonl (hand-written answer-equivalence pairs and extraction traps, `--cases`).

Each case is a (gold, completion, label) triple adapted from another project's answer-checking test suite (the
`source` field names the repository and file). r1lite grades through `r1lite.grading.grading.grade`; math-verify is used the
way open-r1 uses it, `verify(parse(gold), parse(completion))`. Prints agreement per source, every case where the two
disagree (and who matches the label), and the slowest r1lite case. --write stores math-verify's verdicts in the
file's `mv` field, which tests/test_grading.py compares against without running math-verify.

    python benchmarks/grading_agreement.py [--cases tests/data/grading_pairs.jsonl] [--write]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "grading_cases.jsonl"


def math_verify_verdict(gold: str, completion: str) -> int:
    """open-r1's check; a bare gold is given math delimiters, as benchmark golds are written ($\\frac{1}{2}$)."""
    from math_verify import parse, verify

    if "$" not in gold and "\\boxed" not in gold:
        gold = f"${gold}$"
    try:
        return int(verify(parse(gold, parsing_timeout=None), parse(completion, parsing_timeout=None),
                          timeout_seconds=None))
    except Exception:  # noqa: BLE001 - a crash is no credit, as in open-r1
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--write", action="store_true", help="store math-verify's verdicts in the cases file")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    from r1lite.grading.grading import grade

    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    by_source: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    slowest = (0.0, None)
    for case in cases:
        case["mv"] = math_verify_verdict(case["gold"], case["completion"])
        start = time.perf_counter()
        graded = grade(case["completion"], case["gold"])
        seconds = time.perf_counter() - start
        slowest = max(slowest, (seconds, case["gold"]), key=lambda x: x[0])
        ours = int(bool(graded.correct))  # an unparseable gold (None) earns no credit
        by_source[case["source"]].append((ours == case["label"], case["mv"] == case["label"]))
        if ours != case["mv"]:
            right = "r1lite" if ours == case["label"] else "math-verify"
            print(f"disagree ({right} right): gold {case['gold'][:60]!r} -> r1lite {graded.correct} "
                  f"(answer {graded.answer!r:.60}), math-verify {case['mv']}, label {case['label']}")
    print("\n| source | cases | r1lite agrees | math-verify agrees |\n|---|---|---|---|")
    for source, results in sorted(by_source.items(), key=lambda kv: -len(kv[1])):
        print(f"| {source} | {len(results)} | {sum(r for r, _ in results)} | {sum(m for _, m in results)} |")
    ours_total = sum(r for results in by_source.values() for r, _ in results)
    mv_total = sum(m for results in by_source.values() for _, m in results)
    print(f"SUMMARY grading_agreement: r1lite {ours_total}/{len(cases)}, math-verify {mv_total}/{len(cases)}; "
          f"slowest r1lite case {slowest[0]:.2f} s (gold {slowest[1]!r:.40})")
    if args.write:
        args.cases.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))


if __name__ == "__main__":
    main()
