"""`r1lite demo` on a tiny model: every report file, valid PNGs, embedded HTML, numbers equal to the run's logs."""

import json
from pathlib import Path

import pytest

from r1lite.eval.eval_report import read_records
from r1lite.tools import demo


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
    report = json.loads((demo_run / "report.json").read_text())
    for stage in ("eval_base", "eval_sft", "eval_grpo"):
        records = [r for r in read_records(demo_run / stage) if r["benchmark"] in ("addition", "multiplication")]
        formatted = [r for r in records if r["formatted"]]
        assert report["held_out"][stage]["formatted"]["mean"] == pytest.approx(len(formatted) / len(records))
        valid = report["held_out"][stage]["accuracy_when_formatted"]
        assert valid["n"] == len(formatted)
        if formatted:
            assert valid["mean"] == pytest.approx(sum(r["correct_boxed"] for r in formatted) / len(formatted))
    # the difficulty filter's prompts per pass rate, the tied-group share per step, every stage's wall time
    summary = json.loads((demo_run / "grpo" / "difficulty_filter.json").read_text())
    assert report["difficulty_filter"] == summary and summary["kept"] == summary["candidates"] > 0
    logged = [json.loads(line) for line in (demo_run / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert report["grpo_curves"]["frac_reward_zero_std"] == [
        r["frac_reward_zero_std"] for r in {r["step"]: r for r in logged if "reward" in r}.values()]
    assert set(report["wall_s"]) == set(demo.STAGES) and report["estimate_s"] > 0
    text = (demo_run / "report.md").read_text()
    grpo_alone = report["gains"]["grpo_only"]["correct_boxed"]
    assert f"**GRPO alone** (after SFT -> after GRPO), held-out correct inside the box, paired over 16 problems: " \
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
    for stage in ("eval_base", "eval_sft", "eval_grpo"):
        records = [r for r in read_records(demo_run / stage) if r["benchmark"] in ("addition", "multiplication")]
        boxed = sum(r["correct_boxed"] for r in records) / len(records)
        assert report["held_out"][stage]["correct_boxed"]["mean"] == pytest.approx(boxed)
        assert report["held_out"][stage]["correct_boxed"]["n"] == len(records) == 16
        scores = json.loads((demo_run / stage / "results.json").read_text())["scores"]
        assert report["evals"][stage] == scores
    # the Markdown shows those same numbers
    text = (demo_run / "report.md").read_text()
    base = report["held_out"]["eval_base"]["correct_boxed"]
    assert f"{100 * base['mean']:.1f}% [{100 * base['ci95'][0]:.1f}%, {100 * base['ci95'][1]:.1f}%]" in text
    assert "r1lite grpo --config src/r1lite/recipes/demo/grpo.yaml" in text


def test_a_finished_demo_is_not_redone(demo_run, capsys):
    before = (demo_run / "demo_state.json").read_text()
    demo.run_demo(demo_run, model="tiny:qwen2")
    assert capsys.readouterr().out.count("already done, skipped") == 5
    assert json.loads(before)["wall_s"] == json.loads((demo_run / "demo_state.json").read_text())["wall_s"]


def test_minutes_scale_the_plan():
    short, long = demo.plan(6), demo.plan(15)
    assert short["grpo_steps"] < long["grpo_steps"] and demo.estimate_s(long) <= 15 * 60
    assert demo.estimate_s(demo.plan(10)) <= 10 * 60 + 60


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
