"""`--help` on every subcommand: usage plus, for recipe stages, every field from the schema that validates recipes,
answered without importing torch."""

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS = ["grpo", "sft", "eval", "generate", "check", "demo", "decontaminate", "plan", "recipes"]

# runs every `r1lite <command> --help` in one fresh interpreter and reports what it printed and imported
PROBE = """
import contextlib, io, json, sys
from r1lite.cli import main
out = {}
for command in sys.argv[1:]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            rc = main([command, "--help"])
        except SystemExit as e:  # argparse's own --help
            rc = e.code
    out[command] = {"rc": rc, "text": buf.getvalue()}
out["_heavy"] = sorted(m for m in ("torch", "transformers", "trl.trainer.grpo_trainer") if m in sys.modules)
print(json.dumps(out))
"""


def _probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *COMMANDS], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    return json.loads(done.stdout)


def test_every_subcommand_answers_help_without_importing_torch():
    out = _probe()
    assert out.pop("_heavy") == []
    for command, result in out.items():
        assert result["rc"] == 0, (command, result["text"])
        assert f"r1lite {command}" in result["text"] and "unknown field" not in result["text"], command
    grpo = out["grpo"]["text"]
    for section in ("model:", "data:", "rewards:", "scoring:", "trainer:  trl.GRPOConfig"):
        assert f"\n{section}" in grpo
    lines = grpo.splitlines()
    # r1lite's own field: type, default and the doc from its source comment on the next line
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["max_prompt_tokens"])
    assert "int | None = 512" in lines[at] and "TRL never truncates prompts" in lines[at + 1]
    # a TRL field: TRL's own metadata["help"]
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["beta"])
    assert "float = 0.0" in lines[at] and lines[at + 1].strip().startswith("KL coefficient")
    assert "packing" in out["sft"]["text"] and "trl.SFTConfig" in out["sft"]["text"]
    assert "thinking_budgets" in out["eval"]["text"] and "decontamination:" in out["generate"]["text"]


def test_an_optional_section_is_listed_with_its_fields():
    from r1lite.cli import COMMANDS, recipe_class
    from r1lite.recipe import render
    from r1lite.rewards import REWARDS

    lines = render("grpo", recipe_class("grpo"), COMMANDS["grpo"], REWARDS).splitlines()
    at = lines.index("difficulty_filter:  DifficultyFilterArgs - off unless the recipe has the section")
    names = [line.split()[0] for line in lines[at + 1:] if line.startswith("  ") and not line.startswith("   ")]
    assert {"num_samples", "band", "pass_reward", "backend_args"} <= set(names[:12])
