"""The demo's report: report.md, a self-contained report.html and PNG plots, every number read from the run's logs
(eval results.json / samples.jsonl, trainer metrics.jsonl, demo_state.json) and collected in report.json.

    the run folder -> collect (held-out accuracy per stage, paired gains, training curves) -> report.json
      -> plot_all (PNGs) -> markdown (headline, tables, samples, the commands and recipes) -> report.md
      -> to_html (images embedded) -> report.html
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import yaml

from r1lite.data import read_jsonl
from r1lite.eval import mean_ci, paired_diff_ci, pyplot, read_records, save
from r1lite.recipe import to_dict
from r1lite.rewards import r1_format
from r1lite.tools import demo_distill, demo_safety, demo_timing
from r1lite.train import SUMMARY

EVALS = {"eval_base": "base", "eval_sft": "after SFT", "eval_grpo": "after GRPO", "eval_distill": "distilled student"}
# the stages that made each evaluated model
TRAINED_BY = {"eval_sft": ("sft",), "eval_grpo": ("grpo",), "eval_distill": demo_distill.BRANCH}
HELD_OUT = ("addition", "multiplication")


# per-sample flags of a held-out completion, in the report's column order
FLAGS = {"r1_format": "R1 format (think closed, then boxed)", "boxed": "boxed anywhere", "truncated": "truncated",
         "correct_in_format": "correct in R1 format", "correct_anywhere": "correct anywhere"}


def _held_out(out: Path, stage: str, think_prefilled: bool) -> dict[tuple[str, str], dict[str, list[bool]]]:
    """Held-out problem -> per-sample flags (FLAGS, plus correct_boxed), without budget runs. R1 format is
    rewards.r1_format, the test the format reward pays for; think_prefilled: the evaluated model's chat template
    opened <think> itself, so its completions start inside the reasoning."""
    problems: dict[tuple[str, str], dict[str, list[bool]]] = {}
    for r in sorted(read_records(out / stage), key=lambda r: r["sample"]):
        if r["benchmark"] not in HELD_OUT or r.get("budget"):
            continue
        in_format = r1_format(r["response"], think_prefilled)
        flags = {"r1_format": in_format, "boxed": r["formatted"], "truncated": r["truncated"],
                 "correct_in_format": in_format and r["correct_boxed"], "correct_anywhere": r["correct_anywhere"],
                 "correct_boxed": r["correct_boxed"]}
        problem = problems.setdefault((r["benchmark"], str(r["id"])), {k: [] for k in flags})
        for k, v in flags.items():
            problem[k].append(bool(v))
    return problems


def _share(problems: dict[tuple[str, str], dict[str, list[bool]]], key: str) -> dict[tuple[str, str], float]:
    """Problem -> share of its samples with flag `key`."""
    return {k: sum(p[key]) / len(p[key]) for k, p in problems.items()}


def collect(out: Path, state: dict[str, Any]) -> dict[str, Any]:
    """All numbers of the report, from the run's own JSON logs."""
    evals = {}
    for stage in EVALS:
        path = out / stage / "results.json"
        if path.is_file():
            evals[stage] = json.loads(path.read_text())["scores"]
    prefilled = state.get("think_prefilled", {})
    problems = {stage: _held_out(out, stage, prefilled.get(stage, False)) for stage in evals}  # samples read once
    held_out = {}
    for stage in evals:
        held_out[stage] = {}
        for key in (*FLAGS, "correct_boxed"):
            values = list(_share(problems[stage], key).values())
            mean, low, high = mean_ci(values)
            held_out[stage][key] = {"mean": mean, "ci95": [low, high], "n": len(values)}
        held_out[stage]["accuracy_in_format"] = _accuracy_in_format(problems[stage])
    gains = {}
    for name, (a, b) in {"base_to_final": ("eval_base", "eval_grpo"), "grpo_only": ("eval_sft", "eval_grpo"),
                         "sft_only": ("eval_base", "eval_sft")}.items():
        if a in evals and b in evals:
            gains[name] = {}
            for key in ("correct_in_format", "correct_anywhere", "correct_boxed", "r1_format", "truncated"):
                before, after = _share(problems[a], key), _share(problems[b], key)
                shared = sorted(set(before) & set(after))
                diff, low, high = paired_diff_ci([before[k] for k in shared], [after[k] for k in shared])
                gains[name][key] = {"diff": diff, "ci95": [low, high], "n": len(shared),
                                    "excludes_zero": bool(shared) and (low > 0 or high < 0)}
    # a resumed stage logs again the steps after its last checkpoint: the later row of a step wins
    grpo_log = list({r["step"]: r for r in _log(out / "grpo" / "metrics.jsonl") if "reward" in r}.values())
    sft_log = list({r["step"]: r for r in _log(out / "sft" / "metrics.jsonl") if "loss" in r}.values())
    reward_keys = sorted({k for r in grpo_log for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    curves = {"step": [r["step"] for r in grpo_log], "reward": [r["reward"] for r in grpo_log],
              **{k.split("/")[1]: [r.get(k) for r in grpo_log] for k in reward_keys},
              "mean_length": [r.get("completions/mean_length") for r in grpo_log],
              "clipped_ratio": [r.get("completions/clipped_ratio") for r in grpo_log],
              "frac_reward_zero_std": [r.get("frac_reward_zero_std") for r in grpo_log]}
    sft = {"step": [r["step"] for r in sft_log], "loss": [r["loss"] for r in sft_log]}
    difficulty = out / "grpo" / SUMMARY
    distill = None
    if {"eval_base", "eval_grpo", "eval_distill"} <= set(evals):  # the student against base and its teacher
        distill = {key: demo_distill.summary(*(_share(problems[s], key) for s in ("eval_base", "eval_grpo",
                                                                                   "eval_distill")))
                   for key in ("correct_in_format", "correct_boxed")}
        distill["wall_s"] = demo_distill.wall_times(state.get("wall_s", {}))
        plan = state.get("plan") or {}
        distill.update(traces=demo_distill.traces(out), sft_steps=plan.get("trace_sft_steps"),
                       warm_start=demo_distill.student_start(out) == str(out / "sft_traces"),
                       distill_steps=plan.get("distill_steps"), r1_format=held_out["eval_distill"]["r1_format"]["mean"])
    return {"model": state.get("model"), "seed": state.get("seed"), "plan": state.get("plan"),
            "commands": state.get("commands", {}), "estimate_s": state.get("estimate_s"),
            "replanned": state.get("replanned"),
            "scaled_down": state.get("scaled_down", []), "calibration": state.get("calibration"),
            "think_prefilled": prefilled, "wall_s": state.get("wall_s", {}), "evals": evals, "held_out": held_out,
            "gains": gains, "distill": distill, "safety": demo_safety.refusals(out, list(evals)),
            "grpo_curves": curves, "sft_curve": sft,
            "rewards_fired": _rewards_fired(out),
            "difficulty_filter": json.loads(difficulty.read_text()) if difficulty.is_file() else None}


def _accuracy_in_format(problems: dict[tuple[str, str], dict[str, list[bool]]]) -> dict[str, Any]:
    """Correct inside the box among the samples in R1 format: did the answers or the format move?"""
    valid = [c for p in problems.values() for f, c in zip(p["r1_format"], p["correct_boxed"]) if f]
    mean, low, high = mean_ci([float(c) for c in valid])
    return {"mean": mean, "ci95": [low, high], "n": len(valid)}


def _log(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.is_file() else []


def _first_last(values: list[float], n: int = 5) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    n = max(1, min(n, len(values) // 2 or 1))
    return sum(values[:n]) / n, sum(values[-n:]) / n


# ---------------------------------------------------------------------------------------------------------------------
# plots


def plot_all(data: dict[str, Any], out: Path) -> list[Path]:
    plt = pyplot()
    paths = []
    curves = data["grpo_curves"]
    if curves["step"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(curves["step"], curves["reward"], label="total (weighted)", color="black", linewidth=2)
        for name in [k for k in curves if k not in ("step", "reward", "mean_length", "clipped_ratio",
                                                     "frac_reward_zero_std")]:
            ax.plot(curves["step"], _nan(curves[name]), label=name, alpha=0.8)
        ax.set(xlabel="GRPO step", ylabel="mean reward", title="GRPO reward per step")
        ax.legend()
        paths.append(save(fig, out / "reward.png"))
        fig, ax = plt.subplots(figsize=(6, 3.0))
        ax.plot(curves["step"], curves["mean_length"], color="#55A868")
        ax.set(xlabel="GRPO step", ylabel="tokens", title="mean completion length per step")
        paths.append(save(fig, out / "length.png"))
        fig, ax = plt.subplots(figsize=(6, 3.0))
        ax.bar(curves["step"], _nan(curves["frac_reward_zero_std"]), color="#8172B2")
        ax.set(xlabel="GRPO step", ylabel="share of groups", ylim=(0, 1.05),
               title="groups whose rewards all tie (frac_reward_zero_std): no learning signal")
        paths.append(save(fig, out / "zero_std.png"))
    if data["sft_curve"]["step"]:
        fig, ax = plt.subplots(figsize=(6, 3.0))
        ax.plot(data["sft_curve"]["step"], data["sft_curve"]["loss"], color="#C44E52")
        ax.set(xlabel="SFT step", ylabel="loss", title="cold-start SFT loss")
        paths.append(save(fig, out / "sft_loss.png"))
    if data["held_out"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        stages = list(data["held_out"])
        for offset, (key, label) in enumerate((("correct_in_format", "correct in R1 format"),
                                               ("correct_anywhere", "correct anywhere"))):
            means = [100 * data["held_out"][s][key]["mean"] for s in stages]
            lows = [m - 100 * data["held_out"][s][key]["ci95"][0] for m, s in zip(means, stages)]
            highs = [100 * data["held_out"][s][key]["ci95"][1] - m for m, s in zip(means, stages)]
            ax.bar([i + 0.38 * offset for i in range(len(stages))], means, width=0.38, yerr=[lows, highs],
                   capsize=4, label=label)
        ax.set_xticks([i + 0.19 for i in range(len(stages))], [EVALS[s] for s in stages])
        ax.set(ylabel="held-out accuracy (%)", ylim=(0, 105), title="held-out accuracy with 95% CI")
        ax.legend()
        paths.append(save(fig, out / "accuracy.png"))
    return paths


def _nan(values: list[float | None]) -> list[float]:
    """A logged series with its gaps (None) as NaN, which matplotlib leaves out."""
    return [v if v is not None else float("nan") for v in values]


# ---------------------------------------------------------------------------------------------------------------------
# text


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def _ci(c: dict[str, Any]) -> str:
    return f"{_pct(c['mean'])} [{_pct(c['ci95'][0])}, {_pct(c['ci95'][1])}]"


def headline(out: Path) -> str:
    data = json.loads((out / "report.json").read_text())
    safety = data.get("safety")  # None: a run folder evaluated without HarmBench
    lines = [("| stage | R1 format (think closed, then boxed) | boxed anywhere | truncated | correct among R1-format "
              "| held-out correct in R1 format (95% CI) | "
              + ("HarmBench refusal (95% CI) | refusal change (95% CI) | " if safety else "")
              + "correct anywhere (95% CI) | stage wall time |"),
             "|---|---:|---:|---:|---:|---|" + ("---|---|" if safety else "") + "---|---:|"]
    for stage, label in EVALS.items():
        if stage in data["held_out"]:
            h = data["held_out"][stage]
            valid = h["accuracy_in_format"]
            wall = data["wall_s"].get(stage, 0)
            if stage in TRAINED_BY:
                made = [f"{t} {data['wall_s'][t]:.0f} s" for t in TRAINED_BY[stage] if t in data["wall_s"]]
                wall_text = " + ".join([*made, f"eval {wall:.0f} s"])
            else:
                wall_text = f"eval {wall:.0f} s"
            lines.append(f"| {label} | {_pct(h['r1_format']['mean'])} | {_pct(h['boxed']['mean'])} | "
                         f"{_pct(h['truncated']['mean'])} | {_pct(valid['mean'])} (of {valid['n']}) | "
                         f"{_ci(h['correct_in_format'])} | "
                         + ("{} | {} | ".format(*demo_safety.cells(safety.get(stage), EVALS)) if safety else "")
                         + f"{_ci(h['correct_anywhere'])} | {wall_text} |")
    for name, label in (("grpo_only", "**GRPO alone** (after SFT -> after GRPO)"),
                        ("base_to_final", "base -> after GRPO"), ("sft_only", "cold-start SFT alone (base -> after SFT)")):
        if name in data["gains"]:
            g, anywhere = data["gains"][name]["correct_in_format"], data["gains"][name]["correct_anywhere"]
            lines.append(f"\n{label}, held-out correct in R1 format, paired over {g['n']} problems: "
                         f"{_points(g)} ({'interval excludes zero' if g['excludes_zero'] else 'interval includes zero'});"
                         f" correct anywhere {_points(anywhere)}")
    if safety:
        lines.append(demo_safety.note(safety))
    if data.get("distill"):
        lines.append(demo_distill.headline(data["distill"]))
    prefilled = [EVALS[s] for s, on in data.get("think_prefilled", {}).items() if on]
    if prefilled:
        lines.append(f"\nThe chat template of the model {' and '.join(prefilled)} opens the assistant turn with "
                     "`<think>` (DeepSeek-R1's own template does); its completions count as R1 format when they close "
                     "the think block and then box an answer.")
    total = sum(data["wall_s"].values())
    if data.get("estimate_s"):
        r = data.get("replanned")
        replan = (f"; when GRPO started, after the first stages ran {r['slowdown']:.2f}x their estimate: "
                  f"{r['estimate_s'] / 60:.1f} min, GRPO {r['grpo_steps'][0]} -> {r['grpo_steps'][1]} steps"
                  if r else "")
        lines.append(f"\nWall time of all stages: {total / 60:.1f} min (estimated at the start: "
                     f"{data['estimate_s'] / 60:.1f} min{replan}).")
    if data.get("scaled_down"):
        lines.append(f"Scaled down to fit the time: {'; '.join(data['scaled_down'])}.")
    return "\n".join(lines)


def _points(g: dict[str, Any]) -> str:
    return f"{100 * g['diff']:+.1f} points, 95% CI [{100 * g['ci95'][0]:+.1f}, {100 * g['ci95'][1]:+.1f}]"


def _samples(out: Path, stage: str, n: int = 2) -> list[dict[str, Any]]:
    picked = []
    for bench in HELD_OUT:
        picked += [r for r in read_records(out / stage) if r["benchmark"] == bench and not r.get("budget")][:n]
    return picked


def markdown(out: Path, data: dict[str, Any], recipes: dict[str, Any], images: list[Path]) -> str:
    curves = data["grpo_curves"]
    parts = [f"# r1lite demo: {data['model']}", "",
             ("DeepSeek-R1's recipe at toy scale: evaluate the base model, a short cold-start SFT on code-made "
             "R1-format traces (`<think>` reasoning `</think>` then the boxed answer), evaluate, GRPO with rule "
             "rewards, evaluate; then R1's last step: the GRPO model (teacher) distilled into the untouched base "
             "model (student), off-policy then on-policy: the teacher's rejection-sampled traces (right and in R1 "
             "format) teach the student the format by SFT, then the student samples and the teacher scores every "
             "token; evaluate. Each evaluation "
             "also asks a few HarmBench behaviours and counts refusals (the safety column). Held-out problems come "
             "from the synthetic test split, disjoint from all training data. R1 format: one closed, non-empty think block, then a boxed answer (what the format reward pays "
             "for); boxed anywhere: a box with or without it; truncated: the completion hit the token limit "
             "without ending."), "",
             "## Headline", "", headline(out), ""]
    if curves["step"]:
        first, last = _first_last(curves["reward"])
        tied = [v for v in curves["frac_reward_zero_std"] if v is not None]
        parts += [(f"GRPO reward (mean of the first / last 5 logged steps): {first:.3f} -> {last:.3f} over "
                   f"{curves['step'][-1]} steps. Groups with all-tied rewards (no learning signal, TRL's "
                   f"`frac_reward_zero_std`): {100 * sum(tied) / max(len(tied), 1):.0f}% on average."), ""]
    parts += _difficulty_section(data.get("difficulty_filter"))
    parts += _rewards_section(data.get("rewards_fired", {}))
    parts += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images] + [""]
    parts += ["## Every benchmark at each stage", "",
              ("pass@1: the grader's verdict on the final answer, boxed or not; correct in box: right and inside "
               "`\\boxed{}`; boxed anywhere: the final answer has a box, right or wrong."), "",
              ("| stage | benchmark | problems | pass@1 | correct in box | correct anywhere | boxed anywhere | "
               "truncated | mean tokens |"),
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for stage, scores in data["evals"].items():
        for bench, s in scores.items():
            if s.get("kind") == "safety":  # in the headline's refusal column
                continue
            parts.append(f"| {EVALS[stage]} | {bench} | {s['num_problems']} | {_pct(s['pass@1'])} | "
                         f"{_pct(s['boxed_pass@1'])} | {_pct(s['correct_anywhere'])} | {_pct(s['format_rate'])} | "
                         f"{_pct(s['truncation_rate'])} | {s['mean_tokens']:.0f} |")
    parts += ["", "## Sample completions", ""]
    prefilled = data.get("think_prefilled", {})
    for stage, label in EVALS.items():
        if (out / stage).is_dir():
            parts += [f"### {label}", ""]
            opened = "<think>" if prefilled.get(stage) else ""  # written by the chat template, shown as the model saw it
            for r in _samples(out, stage):
                in_format = r1_format(r["response"], bool(opened))
                mark = ("correct in R1 format" if in_format and r["correct_boxed"] else
                        "correct in the box, outside R1 format" if r["correct_boxed"] else
                        "correct elsewhere" if r["correct_anywhere"] else "wrong")
                mark += ", truncated" if r["truncated"] else ""
                parts += [f"`{r['prompt']}` (gold {r['gold']}, {mark}):", "", "```",
                          (opened + r["response"]).strip()[:400], "```", ""]
    parts += demo_timing.report_section(data)
    parts += ["", "## Reproduce", "", "```",
              (f"r1lite demo --output_dir {out} --seed {data['seed']} --minutes {data.get('minutes') or 10} "
              f"--model {data['model']} --grpo_steps {(data.get('plan') or {}).get('grpo_steps')} "
              f"--distill_steps {(data.get('plan') or {}).get('distill_steps')} "
              f"--safety_prompts {(data.get('plan') or {}).get('safety_n')}"),
              f"# or stage by stage, the same {len(data.get('commands', {}))} commands the demo ran:",
              *[data["commands"][stage] for stage in data.get("commands", {})],
              "```", "", "## Recipes used (resolved)", ""]
    for stage, recipe in recipes.items():
        if not stage.startswith("eval") or stage == "eval_base":
            parts += [f"### {stage if stage != 'eval_base' else 'eval (every stage)'}", "", "```yaml",
                      yaml.safe_dump(to_dict(recipe), sort_keys=False).strip(), "```", ""]
    return "\n".join(parts)


def _rewards_fired(out: Path) -> dict[str, dict[str, float]]:
    """Per GRPO reward, over every training completion (completions.jsonl): the share it paid a nonzero score, and
    its mean. A reward that never fires shapes nothing."""
    rows = _log(out / "grpo" / "completions.jsonl")
    names = sorted({n for r in rows for n in r["rewards"]})
    fired = {}
    for name in names:
        scores = [r["rewards"].get(name) for r in rows]
        scored = [x for x in scores if x is not None]
        fired[name] = {"completions": len(scores), "nonzero": sum(x != 0 for x in scored) / max(len(scores), 1),
                       "mean": sum(scored) / len(scored) if scored else float("nan")}
    return fired


def _rewards_section(fired: dict[str, dict[str, float]]) -> list[str]:
    if not fired:
        return []
    lines = ["## GRPO rewards on the training completions", "", "| reward | completions | nonzero | mean |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {f['completions']} | {_pct(f['nonzero'])} | {f['mean']:.3f} |" for name, f in fired.items()]
    return lines + [""]


def _difficulty_section(summary: dict[str, Any] | None) -> list[str]:
    """Prompts kept per pass rate by GRPO's difficulty filter."""
    if not summary:
        return []
    low, high = summary["band"]
    rule = f"{low} <= p <= {high}" if summary["inclusive"] else f"{low} < p < {high}"
    lines = ["## Difficulty filter (GRPO training prompts)", "",
             (f"The SFT model sampled {summary['num_samples']} answers for each of {summary['candidates']} "
              f"candidate training prompts; GRPO trains on the {summary['kept']} whose pass rate p satisfies {rule} "
              f"(mean pass rate {summary['mean_pass_rate']:.2f}; {summary['wall_s']:.0f} s)."), "",
             "| pass rate | prompts | kept |", "|---:|---:|---|"]
    lines += [f"| {h['pass_rate']:.3f} | {h['prompts']} | {'yes' if h['kept'] else 'no'} |"
              for h in summary["histogram"]]
    return lines + [""]


def to_html(markdown_text: str, out: Path, images: list[Path]) -> str:
    """A self-contained page: the Markdown rendered by the `markdown` library, images embedded as base64."""
    import markdown as md

    body = md.markdown(markdown_text, extensions=["tables", "fenced_code"])
    for image in images:
        data = base64.b64encode(image.read_bytes()).decode()
        body = body.replace(f'src="{image.name}"', f'src="data:image/png;base64,{data}"')
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px}pre{background:#f6f6f6;padding:8px;overflow-x:auto}"
             "code{background:#f6f6f6}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>r1lite demo</title><style>{style}</style>" \
           f"</head><body>{body}</body></html>"


def write_report(out: Path, recipes: dict[str, Any], state: dict[str, Any]) -> Path:
    data = collect(out, state)
    data["minutes"] = state.get("minutes")
    (out / "report.json").write_text(json.dumps(data, indent=2))
    images = plot_all(data, out)
    text = markdown(out, data, recipes, images)
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(to_html(text, out, images))
    return out / "report.md"
