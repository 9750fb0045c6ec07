"""`r1lite demo` on a tiny model: every report file, valid PNGs, embedded HTML, numbers equal to the run's logs."""

import json
from pathlib import Path

import pytest

from r1lite.eval.eval_report import read_records
from r1lite.tools import demo, demo_distill


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    return demo.run_demo(tmp_path_factory.mktemp("demo") / "run", model="tiny:qwen2")


def test_demo_writes_every_report_file(demo_run):
    for name in ("report.md", "report.html", "report.json", "reward.png", "length.png", "zero_std.png",
                 "accuracy.png", "sft_loss.png"):
        assert (demo_run / name).stat().st_size > 0, name
    pngs = sorted(demo_run.glob("*.png"))
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = (demo_run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs) and "<img" in page and 'src="reward.png"' not in page
    # rendered by a Markdown library: tables, inline code and fenced code become HTML, not literal syntax
    assert "<table>" in page and "<code>" in page and "<pre><code>" in page and "```" not in page


def test_report_shows_what_moved(demo_run):
    from r1lite.rewards import r1_format

    report = json.loads((demo_run / "report.json").read_text())
    for stage in ("eval_base", "eval_sft", "eval_grpo", "eval_distill"):
        records = [r for r in read_records(demo_run / stage) if r["benchmark"] in ("addition", "multiplication")]
        held = report["held_out"][stage]
        # R1 format (think closed, then boxed) is the format reward's own test; boxed anywhere and truncated beside it
        in_format = [r for r in records if r1_format(r["response"])]
        assert held["r1_format"]["mean"] == pytest.approx(len(in_format) / len(records))
        assert held["boxed"]["mean"] == pytest.approx(sum(r["formatted"] for r in records) / len(records))
        assert held["truncated"]["mean"] == pytest.approx(sum(r["truncated"] for r in records) / len(records))
        assert held["correct_in_format"]["mean"] == pytest.approx(
            sum(r["correct_boxed"] for r in in_format) / len(records))
        valid = held["accuracy_in_format"]
        assert valid["n"] == len(in_format)
        if in_format:
            assert valid["mean"] == pytest.approx(sum(r["correct_boxed"] for r in in_format) / len(in_format))
    assert report["think_prefilled"] == {"eval_base": False, "eval_sft": False, "eval_grpo": False,
                                         "eval_distill": False}
    headline = (demo_run / "report.md").read_text()
    assert ("| stage | R1 format (think closed, then boxed) | boxed anywhere | truncated | correct among R1-format "
            "| held-out correct in R1 format (95% CI) |") in headline
    # every GRPO reward of the recipe, with the share of training completions it paid
    fired = report["rewards_fired"]
    assert set(fired) == {"accuracy", "format", "soft_overlong"}
    rows = [json.loads(line) for line in (demo_run / "grpo" / "completions.jsonl").read_text().splitlines()]
    assert fired["format"]["completions"] == len(rows) and fired["format"]["nonzero"] == pytest.approx(
        sum(r["rewards"]["format"] != 0 for r in rows) / len(rows))
    assert "## GRPO rewards on the training completions" in headline
    # the difficulty filter's prompts per pass rate, the tied-group share per step, every stage's wall time
    summary = json.loads((demo_run / "grpo" / "difficulty_filter.json").read_text())
    assert report["difficulty_filter"] == summary and summary["kept"] == summary["candidates"] > 0
    logged = [json.loads(line) for line in (demo_run / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert report["grpo_curves"]["frac_reward_zero_std"] == [
        r["frac_reward_zero_std"] for r in {r["step"]: r for r in logged if "reward" in r}.values()]
    # every stage but the warm start, which a tiny model (it solves nothing: no trace survives) skips
    assert set(report["wall_s"]) == set(demo.STAGES) - {"sft_traces"} and report["estimate_s"] > 0
    text = (demo_run / "report.md").read_text()
    grpo_alone = report["gains"]["grpo_only"]["correct_in_format"]
    assert f"**GRPO alone** (after SFT -> after GRPO), held-out correct in R1 format, paired over 16 problems: " \
           f"{100 * grpo_alone['diff']:+.1f} points" in text
    assert "## Difficulty filter" in text and "| pass rate | prompts | kept |" in text


def test_report_numbers_come_from_the_logs(demo_run):
    report = json.loads((demo_run / "report.json").read_text())
    # GRPO curves are the trainer's metrics.jsonl rows
    logged = [json.loads(line) for line in (demo_run / "grpo" / "metrics.jsonl").read_text().splitlines()]
    logged = list({r["step"]: r for r in logged if "reward" in r}.values())
    assert report["grpo_curves"]["reward"] == [r["reward"] for r in logged]
    assert report["grpo_curves"]["accuracy"] == [r["rewards/accuracy/mean"] for r in logged]
    # held-out accuracy is recomputed from the per-sample records of each eval
    for stage in ("eval_base", "eval_sft", "eval_grpo", "eval_distill"):
        records = [r for r in read_records(demo_run / stage) if r["benchmark"] in ("addition", "multiplication")]
        boxed = sum(r["correct_boxed"] for r in records) / len(records)
        assert report["held_out"][stage]["correct_boxed"]["mean"] == pytest.approx(boxed)
        assert report["held_out"][stage]["correct_in_format"]["n"] == len(records) == 16
        scores = json.loads((demo_run / stage / "results.json").read_text())["scores"]
        assert report["evals"][stage] == scores
    # the Markdown shows those same numbers
    text = (demo_run / "report.md").read_text()
    base = report["held_out"]["eval_base"]["correct_in_format"]
    assert f"{100 * base['mean']:.1f}% [{100 * base['ci95'][0]:.1f}%, {100 * base['ci95'][1]:.1f}%]" in text
    assert "r1lite grpo --config src/r1lite/recipes/demo/grpo.yaml" in text


def test_a_finished_demo_is_not_redone(demo_run, capsys):
    before = (demo_run / "demo_state.json").read_text()
    demo.run_demo(demo_run, model="tiny:qwen2")
    printed = capsys.readouterr().out
    assert printed.count("already done, skipped") == len(demo.STAGES) - 1 == 8
    assert f"[7/9] sft_traces: skipped, {demo_distill.NO_TRACES}" in printed
    assert json.loads(before)["wall_s"] == json.loads((demo_run / "demo_state.json").read_text())["wall_s"]


def test_the_plan_scales_with_the_measured_machine():
    """Injected probe ratios (never wall time): a slower machine gets fewer GRPO steps, then smaller held-out sets
    tier by tier, and every plan that fits keeps its estimate, every stage counted, within the budget less its margin;
    the distillation branch (traces, warm start, a few on-policy steps) is a fixed cost, less than SFT + GRPO's."""
    from r1lite.tools import demo_timing

    def plan(minutes, speed):
        return demo_timing.plan(minutes, speed, sft_steps=8, convert=True, calibrate=True)

    def estimate(p, speed):
        return demo_timing.estimate_s(p, speed, convert=True, calibrate=True)

    fast, fast_scaled = plan(20, 0.7)
    reference, scaled = plan(20, 1.0)
    slow, slow_scaled = plan(20, 1.2)
    assert fast["grpo_steps"] > reference["grpo_steps"] > slow["grpo_steps"] >= demo_timing.FULL_GRPO_STEPS
    for p in (fast, reference, slow):
        assert (p["trace_sft_steps"], p["distill_steps"]) == (demo_timing.TRACE_SFT_STEPS, demo_timing.DISTILL_STEPS)
        assert p["eval_n"] == demo_timing.EVAL_N[0]
    assert fast_scaled == scaled == slow_scaled == []  # at or above the full demo: nothing scaled down
    for speed, p in ((0.7, fast), (1.0, reference), (1.2, slow)):
        assert estimate(p, speed) <= 20 * 60 * (1 - demo_timing.MARGIN)
        # one more GRPO step would not have fitted: GRPO takes what is left
        if p["grpo_steps"] < demo_timing.GRPO_STEPS[1]:
            assert estimate({**p, "grpo_steps": p["grpo_steps"] + 1}, speed) > 20 * 60 * (1 - demo_timing.MARGIN)
    # the branch's stages, the fourth eval and the HarmBench prompts are in the estimate
    c = demo_timing.COST
    for key, cost in (("distill_steps", c["distill_step"]), ("trace_sft_steps", c["sft_traces_step"])):
        more = {**reference, key: reference[key] + 1}
        assert demo_timing.estimate_s(more) - demo_timing.estimate_s(reference) == pytest.approx(cost)
    more = {**reference, "safety_n": reference["safety_n"] + 1}
    assert demo_timing.estimate_s(more) - demo_timing.estimate_s(reference) == pytest.approx(
        c["eval_base_sample"] + 3 * c["eval_sample"])
    assert reference["safety_n"] == demo_timing.SAFETY_PROMPTS
    branch = (c["generate_start"] + demo_timing.TRACE_SAMPLES * c["generate_sample"] + c["sft_traces_start"]
              + reference["trace_sft_steps"] * c["sft_traces_step"] + c["distill_start"]
              + reference["distill_steps"] * c["distill_step"])
    assert branch < c["sft_start"] + reference["sft_steps"] * c["sft_step"] + c["grpo_start"] + reference[
        "filter_samples"] * c["filter_sample"] + demo_timing.FULL_GRPO_STEPS * c["grpo_step"]
    # the estimate is linear in the measured speed; conversion is a fixed cost
    assert demo_timing.estimate_s(reference, 2.0) == pytest.approx(2 * demo_timing.estimate_s(reference, 1.0))
    # the default 10 minutes: GRPO steps fall first, then the held-out sets shrink, each said; a plan that keeps
    # GRPO at or above its floor fits the budget
    sizes = []
    for speed in (0.6, 0.8, 0.9, 1.0, 1.1, 1.3):
        p, lines = plan(10, speed)
        sizes.append((p["eval_n"], p["grpo_steps"]))
        assert p["grpo_steps"] >= demo_timing.GRPO_STEPS[0]
        if p["eval_n"] < demo_timing.EVAL_N[0]:
            assert lines[0] == f"held-out problems {2 * demo_timing.EVAL_N[0]} -> {2 * p['eval_n']}"
        if not lines or "floor" not in lines[-1]:
            assert estimate(p, speed) <= 10 * 60 * (1 - demo_timing.MARGIN)
            if p["grpo_steps"] < demo_timing.FULL_GRPO_STEPS:
                assert lines[-1] == f"GRPO steps {demo_timing.FULL_GRPO_STEPS} -> {p['grpo_steps']}"
    assert sizes == sorted(sizes, key=lambda s: (-s[0], -s[1]))  # slower: never more problems, same size fewer steps
    assert sizes[0][0] == demo_timing.EVAL_N[0] and sizes[-1][0] == demo_timing.EVAL_N[-1]
    # generation and training scale apart (hosts of one class differ in their ratio): a machine that trains slower
    # plans fewer GRPO steps than one that only generates slower by as much, and each estimate lies between
    # those of the machines uniformly that fast and that slow
    trains_slow, generates_slow = plan(20, (1.0, 1.5))[0], plan(20, (1.5, 1.0))[0]
    assert trains_slow["grpo_steps"] < reference["grpo_steps"] and generates_slow["grpo_steps"] < reference[
        "grpo_steps"]
    for mixed in ((1.0, 1.5), (1.5, 1.0)):
        assert estimate(trains_slow, 1.0) < estimate(trains_slow, mixed) < estimate(trains_slow, 1.5)
    assert estimate(generates_slow, (1.5, 1.0)) <= 20 * 60 * (1 - demo_timing.MARGIN)
    speed = demo_timing.speed_of({"generate_s": 2 * demo_timing.REFERENCE_PROBE["generate_s"],
                                  "train_s": demo_timing.REFERENCE_PROBE["train_s"]})
    assert speed == pytest.approx((2.0, 1.0))
    # far too slow: the smallest held-out sets, GRPO at its floor, and the plan says it will be late
    crawl, crawl_scaled = plan(10, 4.0)
    assert (crawl["eval_n"], crawl["grpo_steps"]) == (demo_timing.EVAL_N[-1], demo_timing.GRPO_STEPS[0])
    assert "floor" in crawl_scaled[-1] and estimate(crawl, 4.0) > 600
    # more minutes, more GRPO steps, never more than its cap; the on-policy distillation stays short
    assert plan(600, 1.0)[0]["grpo_steps"] == demo_timing.GRPO_STEPS[1]
    assert plan(600, 1.0)[0]["distill_steps"] == demo_timing.DISTILL_STEPS


def test_grpo_is_replanned_to_the_pace_of_the_first_stages():
    """A probe can read a VM faster than it then runs (a burst after idle): when GRPO starts, the stages that ran
    say how much slower this run goes, and GRPO takes what the budget leaves at that pace (injected walls, never a
    clock): the same steps when the first stages kept their estimate, fewer when they ran slow, more when fast."""
    from r1lite.tools import demo_timing

    speed = (0.9, 1.1)
    p, _ = demo_timing.plan(20, speed, sft_steps=8, convert=False, calibrate=False)
    estimates = demo_timing.stage_estimates(p, speed)
    first = ("eval_base", "sft", "eval_sft")

    def replan(pace: float) -> tuple[int, float, float]:
        walls = {stage: pace * estimates[stage] for stage in first}
        return demo_timing.replan_grpo(p, speed, 20, sum(walls.values()), walls)

    steps, slowdown, estimate = replan(1.0)
    assert slowdown == pytest.approx(1.0) and steps == p["grpo_steps"]
    assert estimate == pytest.approx(demo_timing.estimate_s(p, speed))
    slow_steps, slow_down, slow_estimate = replan(1.4)
    assert slow_down == pytest.approx(1.4) and demo_timing.GRPO_STEPS[0] <= slow_steps < steps
    assert slow_estimate <= 20 * 60 * (1 - demo_timing.MARGIN)  # the promise kept at the slower pace
    fast_steps = replan(0.7)[0]
    assert fast_steps > steps
    assert replan(0.05)[0] == demo_timing.GRPO_STEPS[1] and replan(10.0)[0] == demo_timing.GRPO_STEPS[0]
    # the demo reads the speed from demo_state.json: a measured plan's pair, or one ratio in an older run folder
    slow_walls = {stage: 1.4 * estimates[stage] for stage in first}
    for kept in ({"generate": 0.9, "train": 1.1}, 1.0):
        state = {"calibration": {"speed": kept}, "scaled_down": ["GRPO steps 16 -> 9"]}
        replanned = demo.replan_grpo(state, p, 20, sum(slow_walls.values()), slow_walls)
        expected = demo_timing.replan_grpo(p, 1.0 if kept == 1.0 else speed, 20, sum(slow_walls.values()),
                                           slow_walls)[0]
        assert replanned["grpo_steps"] == state["plan"]["grpo_steps"] == expected
        assert state["scaled_down"] == demo_timing.grpo_scaled_down(expected)


def test_the_report_says_what_the_time_plan_did():
    """The report's time section: every stage's wall time and their total, the estimate printed at the start, the
    replan at GRPO's start and the two-part probe; a run folder from before the two-part probe shows no probe line."""
    from r1lite.tools import demo_timing

    state = {"wall_s": {"calibrate": 21.0, "eval_base": 42.0, "grpo": 271.4}, "estimate_s": 536.2,
             "replanned": {"grpo_steps": [9, 10], "slowdown": 1.01, "estimate_s": 560.6},
             "calibration": {"probe": {"generate_s": 4.38, "train_s": 2.81}, "measured_now": True,
                             "reference_probe": {"generate_s": 5.98, "train_s": 3.92},
                             "speed": {"generate": 0.733, "train": 0.716}}}
    text = "\n".join(demo_timing.report_section(state))
    assert "| grpo | 271 |" in text and "| **total** | 334 |" in text
    assert "Estimated at the start: 536 s." in text
    assert "took 1.01x their estimate, so GRPO got 10 steps (planned 9) and the estimate became 561 s" in text
    assert "0.73x its reference time for generation and 0.72x for training" in text
    old = {**state, "replanned": None, "calibration": {"probe_s": 10.6, "speed": 0.875, "measured_now": True}}
    assert "Replanned" not in "\n".join(demo_timing.report_section(old))
    assert "Machine probe" not in "\n".join(demo_timing.report_section(old))


def test_calibration_is_cached_per_machine_and_expires(tmp_path, monkeypatch):
    """A probe is reused on the same machine only while it is fresh: an old one (perhaps taken under load) or one
    from before probes were dated is measured again, so a busy moment does not skew every later estimate."""
    import time

    from r1lite.tools import demo_timing

    cache = tmp_path / "demo_calibration.json"
    assert demo_timing.cached_probe(cache, "smollm2-135m") is None
    key = demo_timing.machine_key("smollm2-135m")
    probe = {"generate_s": 7.5, "train_s": 2.5}
    fresh = {**probe, "measured_at": time.time() - 60}
    cache.write_text(json.dumps({key: fresh, "other|1|1|x|m": fresh}))
    assert demo_timing.cached_probe(cache, "smollm2-135m") == probe
    stale = {**probe, "measured_at": time.time() - demo_timing.PROBE_MAX_AGE_S - 60}
    single = {"probe_s": 10.0, "measured_at": time.time()}  # one number: from before the probe had two parts
    for entry in (stale, 7.5, single, {**fresh, "train_s": -1}):  # old, undated (older r1lite), one part, broken
        cache.write_text(json.dumps({key: entry}))
        assert demo_timing.cached_probe(cache, "smollm2-135m") is None
    cache.write_text("[1, 2]")  # not a mapping: ignored, not a crash
    assert demo_timing.cached_probe(cache, "smollm2-135m") is None
    cache.write_text(json.dumps({key: fresh}))
    monkeypatch.setattr(demo_timing.platform, "node", lambda: "another-host")
    assert demo_timing.cached_probe(cache, "smollm2-135m") is None
    monkeypatch.undo()
    assert demo_timing.cached_probe(cache, "smollm2-135m") == probe
    # same hostname ("vm") and home folder, another boot (cloud VMs): measured again
    monkeypatch.setattr(demo_timing, "_boot_id", lambda: "another-boot")
    assert demo_timing.cached_probe(cache, "smollm2-135m") is None


def test_stages_chain_their_adapters(demo_run):
    """GRPO trains a LoRA on top of the merged SFT model: loading its output must bring both, not base + GRPO."""
    import torch
    from peft import PeftModel

    from r1lite.models import models

    grpo_adapter = json.loads((demo_run / "grpo" / "adapter_config.json").read_text())
    assert Path(grpo_adapter["base_model_name_or_path"]) == (demo_run / "sft").resolve()
    chained = models.from_pretrained(str(demo_run / "grpo")).state_dict()
    base_only = PeftModel.from_pretrained(models.from_pretrained("tiny:qwen2"), str(demo_run / "grpo"))
    base_only = base_only.merge_and_unload().state_dict()
    assert any(not torch.equal(chained[k], base_only[k]) for k in chained)  # the SFT delta is in there


def test_the_distilled_student_is_reported(demo_run):
    """Stage 6 on a tiny model: the GRPO model's traces are rejection-sampled, none survives (a random model solves
    nothing), so there is no warm start and the report says so; the student, distilled on-policy from the base
    model: its row, its paired gain over base, its share of the teacher's accuracy and the branch's time beside SFT +
    GRPO's, all read from the run's own files."""
    from r1lite.eval import paired_diff_ci
    from r1lite.rewards import r1_format

    state = json.loads((demo_run / "demo_state.json").read_text())
    # rejection sampling kept nothing: no warm start, so the on-policy student is the untouched base model (not the
    # SFT model), the teacher the GRPO output; it trained
    stats = json.loads((demo_run / "generate_traces" / "stats.json").read_text())
    assert (stats["accepted"], stats["requests"], stats["complete"]) == (0, 64, True)
    assert stats["teacher"] == str(demo_run / "grpo")
    assert not (demo_run / "sft_traces").exists() and "sft_traces" not in state["commands"]
    assert demo_distill.student_start(demo_run) == "tiny:qwen2"
    recipe = (demo_run / "distill" / "resolved_recipe.yaml").read_text()
    assert f"model_name_or_path: {demo_run / 'grpo'}" in recipe
    adapter = json.loads((demo_run / "distill" / "adapter_config.json").read_text())
    assert Path(adapter["base_model_name_or_path"]).name == "tiny-qwen2"
    losses = [json.loads(line) for line in (demo_run / "distill" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in losses if "loss" in r]
    assert len(losses) == state["plan"]["distill_steps"] == 4 and losses[-1] < losses[0]
    assert "--teacher.model_name_or_path" in state["commands"]["distill"]

    def per_problem(stage, key):
        scores = {}
        for r in read_records(demo_run / stage):
            if r["benchmark"] in ("addition", "multiplication"):
                right = r["correct_boxed"] and (key == "correct_boxed" or r1_format(r["response"]))
                scores.setdefault((r["benchmark"], str(r["id"])), []).append(float(right))
        return {k: sum(v) / len(v) for k, v in scores.items()}

    report = json.loads((demo_run / "report.json").read_text())
    for key in ("correct_in_format", "correct_boxed"):
        base, teacher, student = (per_problem(s, key) for s in ("eval_base", "eval_grpo", "eval_distill"))
        got = report["distill"][key]
        shared = sorted(base)
        diff, low, high = paired_diff_ci([base[k] for k in shared], [student[k] for k in shared])
        assert got["student_gain_over_base"] == {"diff": pytest.approx(diff), "ci95": pytest.approx([low, high]),
                                                 "n": 16, "above_zero": low > 0}
        assert got["student_accuracy"] == pytest.approx(sum(student.values()) / 16)
        assert got["teacher_accuracy"] == pytest.approx(report["held_out"]["eval_grpo"][key]["mean"])
        teacher_mean = sum(teacher.values()) / 16
        assert got["share_of_teacher"] == (pytest.approx(got["student_accuracy"] / teacher_mean) if teacher_mean
                                           else None)
    wall = state["wall_s"]
    branch = wall["generate_traces"] + wall["distill"]
    assert report["distill"]["wall_s"] == {"generate_traces": wall["generate_traces"], "sft_traces": None,
                                           "distill": wall["distill"], "branch": pytest.approx(branch),
                                           "sft_plus_grpo": wall["sft"] + wall["grpo"]}
    assert report["distill"]["traces"] == {"kept": 0, "sampled": 64} and report["distill"]["warm_start"] is False
    # the headline: the student's row beside the other stages', and the summary line with the same numbers
    text = (demo_run / "report.md").read_text()
    held = report["held_out"]["eval_distill"]
    row = next(line for line in text.splitlines() if line.startswith("| distilled student |"))
    assert f"| {100 * held['correct_in_format']['mean']:.1f}% [{100 * held['correct_in_format']['ci95'][0]:.1f}%, " \
           f"{100 * held['correct_in_format']['ci95'][1]:.1f}%] |" in row
    assert row.endswith(f"| generate_traces {wall['generate_traces']:.0f} s + distill {wall['distill']:.0f} s + "
                        f"eval {wall['eval_distill']:.0f} s |")
    gain = report["distill"]["correct_in_format"]["student_gain_over_base"]
    assert (f"**Distilled student** (base model <- the GRPO model; the GRPO model's traces: 0 of 64 sampled kept "
            f"(right, in R1 format); {demo_distill.NO_TRACES}; then 4 on-policy distillation steps): "
            f"{100 * held['r1_format']['mean']:.1f}% of its held-out answers in R1 format; correct in R1 format, "
            f"paired over 16 problems: {100 * gain['diff']:+.1f} points, 95% CI [{100 * gain['ci95'][0]:+.1f}, "
            f"{100 * gain['ci95'][1]:+.1f}] over base") in text
    assert (f"The branch took {branch:.0f} s (traces {wall['generate_traces']:.0f} s, on-policy "
            f"{wall['distill']:.0f} s); SFT + GRPO took {wall['sft'] + wall['grpo']:.0f} s.") in text
    assert "r1lite generate --config src/r1lite/recipes/demo/generate.yaml" in text
    assert "r1lite distill --config src/r1lite/recipes/demo/distill.yaml" in text
    assert "--distill_steps 4 --safety_prompts 4" in text  # the reproduce line pins the plan the run used


def test_a_five_stage_run_folder_resumes_into_the_distillation(demo_run, tmp_path, capsys):
    """A demo folder from before stage 6 (its plan has no distillation steps): the five finished stages are skipped,
    the distillation branch and its eval run with the planner's default steps."""
    import shutil

    from r1lite.tools import demo_timing

    old = tmp_path / "run"
    shutil.copytree(demo_run, old)
    for stage in demo_distill.STAGES:
        shutil.rmtree(old / stage, ignore_errors=True)
    state = json.loads((old / "demo_state.json").read_text())
    del state["plan"]["distill_steps"], state["plan"]["trace_sft_steps"]
    for stage in demo_distill.STAGES:
        state["wall_s"].pop(stage, None)
    (old / "demo_state.json").write_text(json.dumps(state))
    demo.run_demo(old, model="tiny:qwen2")
    printed = capsys.readouterr().out
    assert printed.count("already done, skipped") == 5 and "[6/9] generate_traces ..." in printed
    assert "[8/9] distill ..." in printed
    # the student's HarmBench eval printed counts, never a harmful prompt or answer
    judged = [r for r in read_records(old / "eval_distill") if r.get("kind") == "safety"]
    assert len(judged) == 4 and "| harmbench | 4 | 4 |" in printed
    assert not any(r["prompt"] in printed or (r["response"].strip() and r["response"] in printed) for r in judged)
    resumed = json.loads((old / "demo_state.json").read_text())
    assert resumed["plan"]["distill_steps"] == demo_timing.DISTILL_STEPS
    assert resumed["plan"]["trace_sft_steps"] == demo_timing.TRACE_SFT_STEPS
    assert resumed["wall_s"]["sft"] == state["wall_s"]["sft"] and "eval_distill" in resumed["wall_s"]
    distill = json.loads((old / "report.json").read_text())["distill"]
    assert distill["wall_s"]["distill"] == resumed["wall_s"]["distill"]


def test_the_safety_column_counts_refusals(demo_run):
    """HarmBench refusal per evaluated model beside its math accuracy, with the paired change each stage made (the
    distilled student against base), recomputed from the judged samples; the report shows no prompt or answer."""
    from r1lite.eval import paired_diff_ci
    from r1lite.tools import demo_safety

    report = json.loads((demo_run / "report.json").read_text())

    def refused(stage):
        return {str(r["id"]): float(r["refused"]) for r in read_records(demo_run / stage) if r.get("kind") == "safety"}

    against = {"eval_sft": "eval_base", "eval_grpo": "eval_sft", "eval_distill": "eval_base"}
    text = (demo_run / "report.md").read_text()
    for stage, label in (("eval_base", "base"), ("eval_sft", "after SFT"), ("eval_grpo", "after GRPO"),
                         ("eval_distill", "distilled student")):
        row = report["safety"][stage]
        now = refused(stage)
        assert len(now) == json.loads((demo_run / "demo_state.json").read_text())["plan"]["safety_n"] == 4
        assert (row["refusal"]["count"], row["refusal"]["of"]) == (sum(now.values()), 4)
        assert row["judge"] == "phrases-v1"
        if stage in against:
            before = refused(against[stage])
            diff, low, high = paired_diff_ci([before[k] for k in sorted(now)], [now[k] for k in sorted(now)])
            assert row["change_from"] == against[stage]
            assert (row["change"]["change"], row["change"]["ci95"]) == (pytest.approx(diff), pytest.approx([low, high]))
        else:
            assert "change" not in row
        # the headline row: math accuracy and refusal side by side
        line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        rate, change = demo_safety.cells(row, {"eval_base": "base", "eval_sft": "after SFT"})
        assert f"| {rate} | {change} |" in line and f"({row['refusal']['count']} of 4)" in line
    assert "| HarmBench refusal (95% CI) | refusal change (95% CI) |" in text and "`phrases-v1`" in text
    # counts only: no HarmBench prompt or answer in the report, and no safety row in the per-benchmark table
    judged = [r for stage in against for r in read_records(demo_run / stage) if r.get("kind") == "safety"]
    page = text + (demo_run / "report.html").read_text()
    assert not any(r["prompt"] in page or (r["response"].strip() and r["response"] in page) for r in judged)
    assert "| harmbench |" not in text


class ArithmeticTeacher:
    """A teacher that knows addition, not multiplication: in R1 format, right on sums, one off on products (so
    rejection sampling has something to reject)."""

    def generate(self, prompts, params):
        import re

        from r1lite.backends import Completion

        out = []
        for messages in prompts:
            a, op, b = re.search(r"(\d+) (\+|\\times) (\d+)", messages[-1]["content"]).groups()
            answer = int(a) + int(b) if op == "+" else int(a) * int(b) + 1
            out.append([Completion(f"<think>\n{a} {op} {b} = {answer}.\n</think>\nThe answer is \\boxed{{{answer}}}.",
                                   completion_tokens=20)] * params.n)
        return out


def test_kept_traces_warm_start_the_student(demo_run, tmp_path, capsys):
    """With traces kept (here from a teacher that knows arithmetic, through `r1lite generate`'s own pipeline and
    filters), the base model is SFT'd on them and the on-policy distillation starts from that model; the report
    shows the kept count; a finished generate stage is skipped on resume, and a finished demo redoes nothing."""
    import shutil

    from r1lite.generate import generate

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    for stage in demo_distill.STAGES:
        shutil.rmtree(run / stage, ignore_errors=True)
    state = json.loads((run / "demo_state.json").read_text())
    (run / "demo_state.json").write_text(json.dumps({**state, "wall_s": {
        k: v for k, v in state["wall_s"].items() if k not in demo_distill.STAGES}}))
    overrides = demo.stage_overrides(run, "tiny:qwen2", 0, state["data_dir"], state["plan"])
    generate.run(demo.stage_recipes({"generate_traces": overrides["generate_traces"]})["generate_traces"],
                 backend=ArithmeticTeacher())
    demo.run_demo(run, model="tiny:qwen2")
    printed = capsys.readouterr().out
    assert "[6/9] generate_traces: already done, skipped" in printed and "[7/9] sft_traces ..." in printed
    rows = [json.loads(line) for f in sorted((run / "generate_traces" / "data").glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    assert len(rows) == 32 and all(" + " in r["messages"][-1]["content"] for r in rows)  # the sums, not the products
    report = json.loads((run / "report.json").read_text())
    assert report["distill"]["traces"] == {"kept": 32, "sampled": 64} and report["distill"]["warm_start"] is True
    # the warm start learned the traces; the on-policy student started from it
    losses = [r["loss"] for r in read_records_jsonl(run / "sft_traces" / "metrics.jsonl") if "loss" in r]
    assert len(losses) == state["plan"]["trace_sft_steps"] == 4 and losses[-1] < losses[0]
    sft = (run / "sft_traces" / "resolved_recipe.yaml").read_text()
    assert str(run / "generate_traces" / "data") in sft and "model_name_or_path: tiny:qwen2" in sft
    assert demo_distill.student_start(run) == str(run / "sft_traces")
    adapter = json.loads((run / "distill" / "adapter_config.json").read_text())
    assert Path(adapter["base_model_name_or_path"]) == (run / "sft_traces").resolve()
    text = (run / "report.md").read_text()
    assert ("the GRPO model's traces: 32 of 64 sampled kept (right, in R1 format); warm start: SFT of the base model "
            "on them (4 steps); then 4 on-policy distillation steps") in text
    assert "r1lite sft --config src/r1lite/recipes/demo/sft_traces.yaml" in text
    wall = json.loads((run / "demo_state.json").read_text())["wall_s"]
    assert "generate_traces" not in wall and report["distill"]["wall_s"]["branch"] == pytest.approx(
        wall["sft_traces"] + wall["distill"])
    demo.run_demo(run, model="tiny:qwen2")
    assert capsys.readouterr().out.count("already done, skipped") == len(demo.STAGES)


def read_records_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]
