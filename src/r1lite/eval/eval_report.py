"""Evaluation results from sample records: results.json, a Markdown table, PNG plots, and run comparison.

    samples*.jsonl -> read_records (one record per sample, keyed by record_key) -> problems_of (per benchmark and
    budget, per problem: per-sample lists) -> build_results (stats.summarize: pass@1 with CIs, maj@k, budget
    curves) -> write: results.json, results.md (markdown_table), accuracy.png and budget.png (plot_*)

`compare` reads two finished folders and pairs their problems for a 95% interval on the difference;
`stage_refusals` does it for a chain of folders (base, sft, grpo, ...) on a safety benchmark.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from r1lite.eval import safety, stats
from r1lite.jsonl import plain, read_rows
from r1lite.recipe import to_dict
from r1lite.runs import versions


def record_key(r: dict[str, Any]) -> tuple[str, str, int, int]:
    return r["benchmark"], str(r["id"]), int(r.get("budget") or 0), int(r["sample"])


def read_records(output_dir: Path) -> list[dict[str, Any]]:
    """Every finished sample of this folder (all ranks' files); a half-written last line (a kill) is ignored."""
    records = {record_key(r): r for path in sorted(output_dir.glob("samples*.jsonl")) for r in read_rows(path)}
    return list(records.values())


def problems_of(records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, dict[str, Any]]]:
    """(benchmark, budget) -> problem id -> per-sample lists in sample order (the input of stats.summarize)."""
    grouped: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        grouped[r["benchmark"], int(r.get("budget") or 0)][str(r["id"])].append(r)
    out: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for key, by_id in grouped.items():
        out[key] = {}
        for pid, samples in by_id.items():
            samples.sort(key=lambda r: r["sample"])
            out[key][pid] = {
                "correct": [r["correct"] for r in samples], "answers": [r["answer_key"] for r in samples],
                "tokens": [r["tokens"] for r in samples], "truncated": [r["truncated"] for r in samples],
                "formatted": [r["formatted"] for r in samples],
                "correct_boxed": [r["correct_boxed"] for r in samples],
                "correct_anywhere": [r["correct_anywhere"] for r in samples],
                "timed_out": [r.get("timed_out", False) for r in samples], "gold_ok": samples[0].get("gold_ok", True),
                **{k: samples[0][k] for k in ("subject", "level") if k in samples[0]},
            }
    return out


def build_results(recipe: Any, records: list[dict[str, Any]], wall_s: float | None = None) -> dict[str, Any]:
    judged: dict[str, list[dict[str, Any]]] = defaultdict(list)  # safety benchmarks' records (safety.py)
    for r in records:
        if r.get("kind") == "safety":
            judged[r["benchmark"]].append(r)
    grouped = problems_of([r for r in records if r.get("kind") != "safety"])
    scores: dict[str, Any] = {bench: safety.summarize(rs) for bench, rs in judged.items()}
    curves: dict[str, list[dict[str, float]]] = defaultdict(list)
    for (bench, budget), by_id in sorted(grouped.items()):
        problems = [p for p in by_id.values() if p["gold_ok"]]
        summary = stats.summarize(list(by_id.values()))
        for key, name in (("correct_boxed", "boxed_pass@1"), ("correct_anywhere", "correct_anywhere")):
            mean, low, high = stats.mean_ci([sum(p[key]) / len(p[key]) for p in problems])
            summary[name], summary[f"{name}_ci95"] = mean, [low, high]
        if budget:
            curves[bench].append({"budget": budget, "pass@1": summary["pass@1"],
                                  "pass@1_ci95": summary["pass@1_ci95"], "mean_tokens": summary["mean_tokens"]})
            continue
        for attr in ("subject", "level"):
            values = sorted({p[attr] for p in problems if attr in p}, key=str)
            if values:
                summary[f"by_{attr}"] = {str(v): stats.summarize([p for p in problems if p.get(attr) == v])["pass@1"]
                                         for v in values}
        scores[bench] = summary
    return {"model": recipe.model.model_name_or_path, "seed": recipe.seed, "scores": scores,
            "budget_curves": dict(curves),
            "config": to_dict(recipe), "versions": versions(), "wall_s": wall_s, "num_records": len(records)}


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def markdown_table(results: dict[str, Any], examples: bool = False) -> str:
    """The scores as Markdown; `examples` adds safety benchmarks' cut-short examples (results.md only)."""
    judged = safety.markdown_table(results["scores"], examples)
    math_scores = {b: s for b, s in results["scores"].items() if s.get("kind") != "safety"}
    if not math_scores:
        return f"### {results['model']}\n\n{judged}"
    lines = [f"### {results['model']}", "",
             ("| benchmark | problems | k | pass@1 % (95% CI) | maj@k % | pass@k % | correct in box % "
              "| correct anywhere % | boxed % | truncated % | mean tokens |"),
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for bench, s in math_scores.items():
        k = s["num_samples"]
        low, high = s["pass@1_ci95"]
        lines.append(f"| {bench} | {s['num_problems']} | {k} | {_pct(s['pass@1'])} ({_pct(low)}-{_pct(high)}) | "
                     f"{_pct(s.get(f'maj@{k}', float('nan')))} | {_pct(s.get(f'pass@{k}', s['pass@1']))} | "
                     f"{_pct(s['boxed_pass@1'])} | {_pct(s['correct_anywhere'])} | {_pct(s['format_rate'])} | "
                     f"{_pct(s['truncation_rate'])} | {s['mean_tokens']:.0f} |")
    for bench, s in math_scores.items():
        if s.get("excluded_unparseable_gold") or s.get("grading_timeouts"):
            lines.append(f"\n{bench}: {s.get('excluded_unparseable_gold', 0)} problems excluded (gold answer not "
                         f"parseable), {s.get('grading_timeouts', 0)} samples graded wrong after the grading timeout")
    for bench, curve in results.get("budget_curves", {}).items():
        lines += ["", f"Thinking budget ({bench}): " + ", ".join(
            f"{c['budget']} tok -> {_pct(c['pass@1'])}% ({c['mean_tokens']:.0f} spent)" for c in curve)]
    return "\n".join(lines + (["", judged] if judged else []))


def write(out: Path, results: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(plain(results, str), indent=2, allow_nan=False))
    (out / "results.md").write_text(markdown_table(results, examples=True) + "\n")
    if any(s.get("kind") != "safety" for s in results["scores"].values()):
        plot_scores(results, out / "accuracy.png")
    if results.get("budget_curves"):
        plot_budget(results, out / "budget.png")


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> Path:
    """A finished figure as a PNG; the figure is closed (pyplot keeps every open one alive)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def plot_scores(results: dict[str, Any], path: Path) -> None:
    names = [n for n, s in results["scores"].items() if s.get("kind") != "safety"]
    values = [100 * results["scores"][n]["pass@1"] for n in names]
    errors = [[100 * (results["scores"][n]["pass@1"] - results["scores"][n]["pass@1_ci95"][0]) for n in names],
              [100 * (results["scores"][n]["pass@1_ci95"][1] - results["scores"][n]["pass@1"]) for n in names]]
    fig, ax = pyplot().subplots(figsize=(max(4, 1.4 * len(names) + 2), 3.5))
    ax.bar(names, values, yerr=errors, capsize=4, color="#4C72B0")
    ax.set(ylabel="pass@1 (%)", ylim=(0, max(100, *(v + 5 for v in values)) if values else 100),
           title=f"{results['model']}: accuracy with 95% CI")
    save(fig, path)


def plot_budget(results: dict[str, Any], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(5, 3.5))
    for bench, curve in results["budget_curves"].items():
        curve = sorted(curve, key=lambda c: c["mean_tokens"])
        ax.plot([c["mean_tokens"] for c in curve], [100 * c["pass@1"] for c in curve], marker="o", label=bench)
    ax.set(xlabel="tokens spent per answer (mean)", ylabel="pass@1 (%)", title="accuracy vs thinking budget")
    ax.legend()
    save(fig, path)


def compare(run_a: Path, run_b: Path) -> str:
    """Side by side pass@1 (safety: refusal and attack success rates) of two runs; on shared problems, a paired 95%
    interval on the difference."""
    results = [json.loads((run / "results.json").read_text()) for run in (run_a, run_b)]
    records = [read_records(run) for run in (run_a, run_b)]
    problems = [problems_of([r for r in rs if r.get("kind") != "safety"]) for rs in records]
    lines = [f"A: {run_a} ({results[0]['model']})", f"B: {run_b} ({results[1]['model']})", "",
             "| benchmark | A % | B % | B - A (95% CI) | shared problems | significant |",
             "|---|---:|---:|---|---:|---|"]
    judged = [[r for r in rs if r.get("kind") == "safety"] for rs in records]
    for bench in [b for b in results[0]["scores"] if b in results[1]["scores"]]:
        if results[0]["scores"][bench].get("kind") == "safety":
            lines += safety.compare_lines(bench, *([r for r in rs if r["benchmark"] == bench] for rs in judged))
            continue
        a, b = problems[0].get((bench, 0), {}), problems[1].get((bench, 0), {})
        shared = sorted(set(a) & set(b))
        score = [[sum(p[i]["correct"]) / len(p[i]["correct"]) for i in shared] for p in (a, b)]
        diff, low, high = stats.paired_diff_ci(score[0], score[1])
        significant = "yes" if shared and (low > 0 or high < 0) else "no"
        lines.append(f"| {bench} | {_pct(results[0]['scores'][bench]['pass@1'])} | "
                     f"{_pct(results[1]['scores'][bench]['pass@1'])} | {100 * diff:+.1f} ({100 * low:+.1f} to "
                     f"{100 * high:+.1f}) | {len(shared)} | {significant} |")
    return "\n".join(lines + ["", "%: pass@1 for math; for safety benchmarks the refusal or attack success rate"])


def stage_refusals(run_dirs: dict[str, str | Path], benchmark: str = "harmbench") -> list[dict[str, Any]]:
    """Per stage (an ordered name -> finished eval folder, e.g. base, sft, grpo): the refusal rate with its Wilson
    CI and, after the first, the paired change from the stage before with its CI. For the demo's safety column."""
    out, previous = [], None
    for stage, folder in run_dirs.items():
        records = [r for r in read_records(Path(folder)) if r.get("kind") == "safety" and r["benchmark"] == benchmark
                   and not r.get("budget")]
        if not records:
            raise ValueError(f"{folder}: no {benchmark} samples; run `r1lite eval --benchmarks {benchmark}` there")
        row = {"stage": stage, "refusal": safety.rate([r["refused"] for r in records]),
               "judge": records[0]["refusal_judge"]}
        if previous is not None:
            row["change"] = safety.paired_change(previous, records, "refused")
        out.append(row)
        previous = records
    return out
