"""`r1lite demo` on a tiny model: every report file, valid PNGs, embedded HTML, numbers equal to the run's logs."""

import json
from pathlib import Path

import pytest

from r1lite import demo
from r1lite.evaluate import read_records


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    return demo.run_demo(tmp_path_factory.mktemp("demo") / "run", model="tiny:qwen2")


def test_demo_writes_every_report_file(demo_run):
    for name in ("report.md", "report.html", "report.json", "reward.png", "length.png", "accuracy.png",
                 "sft_loss.png"):
        assert (demo_run / name).stat().st_size > 0, name
    pngs = sorted(demo_run.glob("*.png"))
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = (demo_run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs) and "<img" in page and 'src="reward.png"' not in page


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
    assert "r1lite grpo --config recipes/smollm2-135m/demo/grpo.yaml" in text


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

    from r1lite import models

    grpo_adapter = json.loads((demo_run / "grpo" / "adapter_config.json").read_text())
    assert Path(grpo_adapter["base_model_name_or_path"]) == (demo_run / "sft").resolve()
    chained = models.from_pretrained(str(demo_run / "grpo")).state_dict()
    base_only = PeftModel.from_pretrained(models.from_pretrained("tiny:qwen2"), str(demo_run / "grpo"))
    base_only = base_only.merge_and_unload().state_dict()
    assert any(not torch.equal(chained[k], base_only[k]) for k in chained)  # the SFT delta is in there
