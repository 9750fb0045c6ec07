"""`r1lite recipes check [paths...] [--data_dir D] [--validate_only]`: every recipe parses, validates, and trains.

Each training recipe (recipes/<model>/{grpo,sft,distill}/*.yaml, or demo/{grpo,sft,distill}.yaml) is first
validated as written, then run for ONE optimizer step on CPU with what needs a GPU or the Hub swapped out:

    model     -> tiny:<arch>, a random 2-layer model of the same architecture (models.arch_of, or its shape table);
                 a distillation teacher too (the tiny models share one tokenizer, as teacher and student must)
    data      -> a few rows: Hub datasets become a bundled training slice (GSM8K -> gsm8k_train_256, anything else ->
                 math_train_256; from --data_dir when given), local files and synthetic tasks keep their source
    trainer   -> vLLM, DeepSpeed/FSDP, bf16/fp16, kernels, 8-bit optimizers and checkpointing off; 1 step, tiny batches
    rewards   -> kept; length arguments tied to the real max_completion_length dropped so they follow the tiny one
    difficulty_filter -> 2 samples per prompt on the tiny model, local hf backend, a band that keeps every prompt

Everything else (loss type, beta, clipping, LoRA, packing, schedulers, prompts, reward functions) runs as written.
Recipes of other stages (generate/, eval/) are validated only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1lite.cli import TRAINING, module, recipe_class, stage_of
from r1lite.data import BUNDLED_DIR, SYNTHETIC, find_local, is_local
from r1lite.recipe import ConfigError, load_recipe, read_yaml

REPO = Path(__file__).resolve().parents[3]
DEMO_RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "demo"  # `r1lite demo`'s recipes travel with the package
DEFAULT_DATA_DIR = BUNDLED_DIR
ROWS = 4  # rows of data per recipe: enough for one GRPO step of 2 prompts x 2 generations


# Hub dataset (lowercased) -> local stand-in file; others get DEFAULT_STAND_IN
STAND_INS = {"openai/gsm8k": "gsm8k_train_256.jsonl"}
DEFAULT_STAND_IN = "math_train_256.jsonl"
# stands in for a data folder an earlier stage writes (demo: generate's arithmetic traces): the same short R1 traces
LATER_DATA = {"path": "synthetic:arithmetic", "task_args": {"n": ROWS}}

# trainer fields forced for a CPU smoke step (None: removed, so TRL's default applies)
COMMON_OVERRIDES: dict[str, Any] = {
    "max_steps": 1, "num_train_epochs": 1, "gradient_accumulation_steps": 1, "save_strategy": "no",
    "logging_steps": 1, "report_to": "none", "disable_tqdm": True, "use_cpu": True, "bf16": False, "fp16": False,
    "tf32": None, "gradient_checkpointing": False, "activation_checkpointing": False, "optim": "adamw_torch",
    "deepspeed": None, "fsdp": None, "fsdp_config": None, "torch_compile": False, "use_liger_kernel": False,
    "dataloader_num_workers": 0, "dataset_num_proc": None, "push_to_hub": False, "resume_from_checkpoint": None,
    "eval_strategy": "no", "do_eval": False, "model_init_kwargs": None, "save_total_limit": None,
}
GRPO_OVERRIDES: dict[str, Any] = {
    "per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 8,
    "steps_per_generation": None, "generation_batch_size": None, "use_vllm": False, "vllm_enable_sleep_mode": False,
    "use_transformers_continuous_batching": False, "cast_lm_head_to_fp32": False, "log_completions": False,
}
SFT_OVERRIDES: dict[str, Any] = {"per_device_train_batch_size": 2, "max_length": 128}
DISTILL_OVERRIDES: dict[str, Any] = {"per_device_train_batch_size": 2, "max_completion_length": 8, "use_vllm": False,
                                     "vllm_enable_sleep_mode": False, "log_completions": False}
STAGE_OVERRIDES = {"grpo": GRPO_OVERRIDES, "sft": SFT_OVERRIDES, "distill": DISTILL_OVERRIDES}
LENGTH_ARGS = ("soft_punish_cache", "max_len")  # reward arguments sized for the real completion length


@dataclass
class Result:
    path: str
    stage: str
    ok: bool
    message: str
    seconds: float


def tiny_arch(model_name: str, recipe_path: str | Path) -> str:
    """The tiny stand-in with the architecture of `model_name` (an earlier stage's output is known by the recipe's
    folder, as in plan)."""
    from r1lite.models import TINY_ARCHS, arch_of
    from r1lite.tools import plan

    try:
        arch = arch_of(model_name)
    except ValueError:  # a path that does not exist yet, e.g. the output of an earlier stage
        arch = None
    if arch is None and (writer := _written_by(model_name, Path(recipe_path))) is not None:
        return tiny_arch(writer, recipe_path)
    arch = arch or plan.model_shape(model_name, recipe_path).model_type
    if arch not in TINY_ARCHS:
        raise ConfigError(f"model.model_name_or_path: no tiny stand-in for architecture {arch!r}; known: "
                          f"{', '.join(TINY_ARCHS)}")
    return arch


def _written_by(output_dir: str, recipe_path: Path) -> str | None:
    """The starting model of the sibling recipe that trains into `output_dir` (demo: sft.yaml writes runs/demo/sft,
    which grpo.yaml starts from), so a later stage gets the architecture of the model its input came from."""
    for sibling in sorted(recipe_path.parent.glob("*.yaml")):
        if sibling == recipe_path:
            continue
        raw = read_yaml(sibling)
        if (raw.get("trainer") or {}).get("output_dir") == output_dir:
            return (raw.get("model") or {}).get("model_name_or_path")
    return None


def _smoke_source(source: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    path = str(source["path"])
    if path.startswith(SYNTHETIC):
        return {**source, "num_samples": None, "task_args": {**source.get("task_args", {}), "n": ROWS}}
    if is_local(path):
        return {**source, "num_samples": ROWS}
    name = STAND_INS.get(path.lower(), DEFAULT_STAND_IN)
    local = find_local(data_dir, name) or data_dir / name  # plain or gzipped (.jsonl.gz, as bundled)
    return {"path": str(local), "num_samples": ROWS}


def smoke_raw(raw: dict[str, Any], stage: str, recipe_path: str | Path, data_dir: Path,
              output_dir: Path) -> dict[str, Any]:
    """The recipe as plain data with the swaps described in the module docstring."""
    model = dict(raw.get("model") or {})
    name = model.get("model_name_or_path") or "smollm2-135m"
    model.update(model_name_or_path=f"tiny:{tiny_arch(name, recipe_path)}", dtype="float32", load_in_4bit=False,
                 load_in_8bit=False, attn_implementation=None)
    data = dict(raw.get("data") or {})
    data.update(sources=[_smoke_source(dict(LATER_DATA if _later_data(str(s.get("path")), Path(recipe_path)) else s),
                                       data_dir) for s in data.get("sources") or []], num_samples=None,
                max_prompt_tokens=None)  # the tiny tokenizer is per character: real prompt limits would drop rows
    trainer = dict(raw.get("trainer") or {})
    overrides = {**COMMON_OVERRIDES, **STAGE_OVERRIDES[stage],
                 "output_dir": str(output_dir)}
    for key, value in overrides.items():
        if value is None:
            trainer.pop(key, None)
        else:
            trainer[key] = value
    smoke = {**raw, "model": model, "data": data, "trainer": trainer, "overwrite_output_dir": True}
    if stage == "distill":  # a served teacher would need vLLM and a server: a local tiny one stands in
        teacher = {k: v for k, v in (raw.get("teacher") or {}).items() if k != "server_url"}
        name = teacher.get("model_name_or_path") or name
        smoke["teacher"] = {**teacher, "model_name_or_path": f"tiny:{tiny_arch(name, recipe_path)}", "dtype": "float32",
                            "attn_implementation": None}
        smoke["trainer"] = {k: v for k, v in trainer.items() if k not in ("loss_top_k", "loss_add_tail",
                                                                          "reverse_kl_top_1_mode")}
    if stage == "grpo":
        smoke["rewards"] = [{**r, "args": {k: v for k, v in (r.get("args") or {}).items() if k not in LENGTH_ARGS}}
                            for r in raw.get("rewards") or [{"name": "accuracy"}]]
        smoke["scoring"] = {**(raw.get("scoring") or {}), "num_workers": 1}
        if raw.get("difficulty_filter") is not None:  # runs, but keeps every prompt: a random model solves none
            smoke["difficulty_filter"] = {**raw["difficulty_filter"], "num_samples": 2, "max_new_tokens": 8,
                                          "band": [0.0, 1.0], "inclusive": True, "backend": "hf",
                                          "backend_args": {}, "pass_rates": None}
    return smoke


def check_recipe(path: str | Path, data_dir: Path = DEFAULT_DATA_DIR, validate_only: bool = False) -> Result:
    """Validate one recipe and, for a training stage, run one step of its tiny stand-in. Never raises."""
    start = time.perf_counter()
    stage = "?"
    try:
        stage = stage_of(path)
        cls = recipe_class(stage)
        load_recipe(cls, path, _later_model(read_yaml(path), stage, path))
        if stage not in TRAINING or validate_only:
            return Result(str(path), stage, True, "valid", time.perf_counter() - start)
        with tempfile.TemporaryDirectory(prefix="r1lite-recipes-check-") as tmp:
            raw = smoke_raw(read_yaml(path), stage, path, Path(data_dir), Path(tmp) / "out")
            recipe = load_recipe(cls, raw=raw)
            run = module(stage).run
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                run(recipe)  # progress bars and log rows of a one-step run are noise here
        return Result(str(path), stage, True, f"valid; 1 step on {raw['model']['model_name_or_path']}",
                      time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001 - report every recipe, whatever breaks
        return Result(str(path), stage, False, f"{type(e).__name__}: {e}", time.perf_counter() - start)


def _later_model(raw: dict[str, Any], stage: str, recipe_path: str | Path) -> dict[str, Any]:
    """A training recipe may start from an earlier stage's output (demo: runs/demo/sft; a distillation teacher:
    runs/demo/grpo), which does not exist until that stage has run: validate it with the tiny stand-in instead
    (`r1lite check` itself reports the missing path)."""
    from r1lite.models import EMBEDDED, resolve

    overrides = {}
    local_teacher = stage == "generate" and (raw.get("teacher") or {}).get("backend") in ("hf", "vllm")
    for section in ("model", "teacher") if stage in TRAINING or local_teacher else ():
        name = (raw.get(section) or {}).get("model_name_or_path")
        if not isinstance(name, str) or name.startswith("tiny:") or name in EMBEDDED or Path(name).exists():
            continue
        try:
            resolve(name)
        except ValueError:
            overrides[f"{section}.model_name_or_path"] = f"tiny:{tiny_arch(name, recipe_path)}"
    sources = (raw.get("data") or {}).get("sources") or []
    if any(_later_data(str(s.get("path")), Path(recipe_path)) for s in sources):  # demo: generate's traces
        overrides["data.sources"] = [LATER_DATA if _later_data(str(s.get("path")), Path(recipe_path)) else s
                                     for s in sources]
    return overrides


def _later_data(path: str, recipe_path: Path) -> bool:
    """A data folder a sibling recipe writes (demo: generate.yaml's runs/demo/generate_traces/data, which
    sft_traces.yaml trains on) that does not exist yet: validated, and smoke-run, on a stand-in file."""
    return not Path(path).exists() and any(
        path.startswith(f"{(read_yaml(sibling).get('output_dir') or '//')}/")
        for sibling in recipe_path.parent.glob("*.yaml") if sibling != recipe_path)


def find_recipes(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    return found


def check_all(paths: list[str], data_dir: Path = DEFAULT_DATA_DIR, validate_only: bool = False) -> list[Result]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # one step per recipe: the trainers' warnings would drown the report
    return [check_recipe(p, data_dir, validate_only) for p in find_recipes(paths)]


USAGE = "usage: r1lite recipes check [PATH ...] [--data_dir DIR] [--validate_only]"
OPTIONS = argparse.ArgumentParser(prog="r1lite recipes check", add_help=False, allow_abbrev=False,
                                  exit_on_error=False)
OPTIONS.add_argument("paths", nargs="*")
OPTIONS.add_argument("--data_dir", type=Path, default=DEFAULT_DATA_DIR)
OPTIONS.add_argument("--validate_only", action="store_true")


def cli(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    if not argv or argv[0] != "check":
        raise ConfigError(USAGE)
    try:
        args, unknown = OPTIONS.parse_known_intermixed_args(argv[1:])
    except argparse.ArgumentError as e:  # a missing value: one line, like every configuration error
        raise ConfigError(f"{e}; {USAGE}") from None
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}; {USAGE}")
    paths = args.paths or [str(Path("recipes") if Path("recipes").is_dir() else REPO / "recipes"), str(DEMO_RECIPES)]
    results = check_all(paths, args.data_dir, args.validate_only)
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'}  {r.stage:<8} {r.path}  ({r.message}; {r.seconds:.1f} s)")
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} recipes passed")
    return 1 if failed else 0
