"""A stage reads top to bottom: from `r1lite <stage> --config R` down to the trainer (or the eval loop), every call goes
down into a module not yet on the way; no module below calls back into one above it (the GRPO flow once went
cli -> grpo -> runtime -> back into grpo through a callback).

The check runs the real command on a tiny model under a profiler and, at every call of an r1lite function, reads the
r1lite modules on the stack (outermost first, repeats in a row merged): none may appear twice. Two kinds of frame
are treated apart on purpose: the hooks the generic recipe loader (config.py, which imports no stage) calls on what
it builds, a recipe's own `validate()` and the `trainer:` section's builder (trl_schema.build_trainer_section),
start a chain of their own (what lies above them is the loader); dataclass-made
`__init__`s and default factories, which Python runs in the dataclass's module whoever builds it, are left out.
"""

import json
import sys
from pathlib import Path

import pytest
import yaml
from conftest import json_server

from r1lite import cli
from r1lite.data.benchmarks import BUNDLED_DIR

PACKAGE = str(Path(cli.__file__).parent)
HOOKS = {"validate", "build_trainer_section"}
IGNORED = {"__init__", "<lambda>", "<genexpr>", "<listcomp>", "<dictcomp>", "<setcomp>"}


def _module_chain(frame) -> list[str]:
    chain = []
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(PACKAGE) and code.co_name not in IGNORED:
            module = frame.f_globals.get("__name__", "?")
            if not chain or chain[-1] != module:
                chain.append(module)
            if code.co_name in HOOKS:
                break
        frame = frame.f_back
    return chain[::-1]


def _calls_back(argv: list[str]) -> tuple[list[list[str]], set[tuple[str, ...]]]:
    """Run `r1lite argv` under a profiler: (module chains that revisit a module, every chain seen)."""
    revisits, seen = [], set()

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(PACKAGE):
            return
        chain = tuple(_module_chain(frame))
        if chain not in seen:
            seen.add(chain)
            if len(set(chain)) < len(chain):
                revisits.append(list(chain))

    sys.setprofile(profile)
    try:
        rc = cli.main(argv)
    finally:
        sys.setprofile(None)
    assert rc == 0
    return revisits, seen


def _write(tmp_path: Path, name: str, recipe: dict) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


DATA = {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 16, "difficulty": 1}}], "system_prompt": None}


@pytest.fixture
def chat_server():
    """A chat-completions server that always answers 4, with a price-bearing token count."""
    answer = {"choices": [{"message": {"content": "<think>\n2 + 2 = 4\n</think>\n\\boxed{4}"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 10, "completion_tokens": 1000}}
    with json_server(lambda body, request: (200, answer)) as url:
        yield url


def test_generate_through_an_api_teacher_reads_top_to_bottom(tmp_path, chat_server):
    """The API teacher pulls prompts from generate lazily and generate stops feeding it at max_cost_usd: the feed
    lives in backends, so pulling never runs generate's code from below."""
    recipe = {"model": {"model_name_or_path": "served"}, "data": DATA, "output_dir": str(tmp_path / "out"),
              "teacher": {"base_url": chat_server, "api_key_env": None, "concurrency": 1, "max_cost_usd": 0.005},
              "sampling": {"n": 1, "max_new_tokens": 8}, "decontamination": {"enabled": False}}
    revisits, seen = _calls_back(["generate", "--config", _write(tmp_path, "generate.yaml", recipe)])
    assert revisits == [], "\n".join(" -> ".join(chain) for chain in revisits[:5])
    assert any("r1lite.backends.openai" in chain for chain in seen)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["stopped"].startswith("max_cost_usd reached") and 0 < stats["prompts_done"] < 16


@pytest.mark.parametrize("stage", ["grpo", "sft", "distill", "eval", "generate"])
def test_a_stage_reads_top_to_bottom(tmp_path, stage):
    if stage == "grpo":
        trainer = {"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 4, "max_completion_length": 8}
        recipe = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": DATA,
                  "rewards": [{"name": "accuracy"}, {"name": "format", "weight": 0.1}],
                  "trainer": {"output_dir": str(tmp_path / "out"), "save_strategy": "no", **trainer}}
        bottom = ("r1lite.cli", "r1lite.train.grpo", "r1lite.train.runtime")  # ... -> runtime.train_and_save -> train()
    elif stage == "sft":
        recipe = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": DATA,
                  "trainer": {"output_dir": str(tmp_path / "out"), "save_strategy": "no", "max_steps": 1,
                              "per_device_train_batch_size": 4, "max_length": 64}}
        bottom = ("r1lite.cli", "r1lite.train.sft", "r1lite.train.runtime")
    elif stage == "distill":
        recipe = {"model": {"model_name_or_path": "tiny:qwen2"}, "teacher": {"model_name_or_path": "tiny:llama"},
                  "data": DATA, "trainer": {"output_dir": str(tmp_path / "out"), "save_strategy": "no", "max_steps": 1,
                                            "per_device_train_batch_size": 4, "max_completion_length": 8}}
        bottom = ("r1lite.cli", "r1lite.train.distill", "r1lite.train.runtime")
    elif stage == "generate":
        recipe = {"model": {"model_name_or_path": "tiny:qwen2"}, "data": DATA,
                  "teacher": {"backend": "hf", "price_input_per_m": 0.0, "price_output_per_m": 0.0},
                  "sampling": {"n": 2, "max_new_tokens": 8}, "decontamination": {"enabled": False},
                  "output_dir": str(tmp_path / "out")}
        bottom = ("r1lite.cli", "r1lite.generate.generate")
    else:
        recipe = {"model": {"model_name_or_path": "tiny:qwen2"}, "benchmarks": ["gsm8k"], "data_dir": str(BUNDLED_DIR),
                  "limit": 2, "max_new_tokens": 8, "output_dir": str(tmp_path / "out")}
        bottom = ("r1lite.cli", "r1lite.eval.evaluate")
    revisits, seen = _calls_back([stage, "--config", _write(tmp_path, f"{stage}.yaml", recipe)])
    assert revisits == [], "\n".join(" -> ".join(chain) for chain in revisits[:5])
    assert bottom in seen  # the command's own path was seen, so the profiler watched it
    assert any(len(chain) >= len(bottom) + 1 for chain in seen if chain[:len(bottom)] == bottom)
