"""Hub uploads (mocked: no network) and multi-process runs: what goes up, with which card, from which process."""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from r1lite.models import hub, models
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.train import runtime
from r1lite.train.grpo import GRPORecipe

REPO = Path(__file__).resolve().parents[1]
BASE = "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.fixture
def previous_stage(tmp_path):
    """A local model folder as an earlier r1lite stage leaves it: its run started from a Hub model."""
    folder = tmp_path / "sft"
    shutil.copytree(models.materialize("tiny:qwen2"), folder)
    (folder / "resolved_recipe.yaml").write_text(yaml.safe_dump({"model": {"model_name_or_path": BASE}}))
    return folder


class FakeHub:
    """HfApi.create_repo / upload_folder / upload_file, recording what would go up."""

    def __init__(self):
        self.calls, self.uploaded = [], {}

    def install(self, monkeypatch):
        import huggingface_hub

        fake = self

        def create_repo(api, repo_id, private=None, exist_ok=False, **kw):
            fake.calls.append(("create_repo", repo_id, private))
            return types.SimpleNamespace(repo_id=repo_id)

        def upload_folder(api, repo_id, folder_path, ignore_patterns=(), **kw):
            fake.calls.append(("upload_folder", repo_id))
            for path in Path(folder_path).rglob("*"):
                rel = path.relative_to(folder_path).as_posix()
                if path.is_file() and not any(fnmatch.fnmatch(rel, p) for p in ignore_patterns):
                    fake.uploaded[rel] = path.read_bytes()  # as it is at upload time

        def upload_file(api, path_or_fileobj, path_in_repo, repo_id, repo_type=None, **kw):
            fake.calls.append(("upload_file", repo_id, repo_type))
            fake.uploaded[path_in_repo] = path_or_fileobj

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", upload_file)
        return self


def _grpo_raw(tmp_path, model, **trainer):
    return {"model": {"model_name_or_path": str(model)},
            "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 8, "difficulty": 1}}],
                     "system_prompt": None},
            "rewards": [{"name": "accuracy"}],
            "scoring": {"num_workers": 1},
            "trainer": {"output_dir": str(tmp_path / "grpo"), "max_steps": 1, "per_device_train_batch_size": 4,
                        "num_generations": 2, "max_completion_length": 8, "report_to": "none", **trainer}}


def test_hub_origin_follows_runs_and_adapters_back_to_the_hub(tmp_path, previous_stage):
    assert hub.hub_origin(BASE) == BASE
    assert hub.hub_origin("smollm2-135m") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert hub.hub_origin("tiny:qwen2") is None
    later = tmp_path / "grpo"
    later.mkdir()
    (later / "resolved_recipe.yaml").write_text(yaml.safe_dump({"model": {"model_name_or_path": str(previous_stage)}}))
    assert hub.hub_origin(str(later)) == BASE
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(later)}))
    assert hub.hub_origin(str(adapter)) == BASE


def test_push_uploads_model_card_and_tokenizer_never_run_records(tmp_path, previous_stage, monkeypatch):
    from r1lite.train.grpo import run as run_grpo

    fake = FakeHub().install(monkeypatch)
    out = run_grpo(load_recipe(GRPORecipe, raw=_grpo_raw(tmp_path, previous_stage, push_to_hub=True,
                                                         hub_model_id="me/tiny-grpo", hub_private_repo=True)))
    assert [c[0] for c in fake.calls] == ["create_repo", "upload_folder"]
    assert fake.calls[0] == ("create_repo", "me/tiny-grpo", True)
    local = {p.name for p in out.iterdir()}
    assert {"completions.jsonl", "metrics.jsonl", "run.json", "resolved_recipe.yaml"} <= local  # kept locally ...
    assert not {"completions.jsonl", "metrics.jsonl", "run.json", "resolved_recipe.yaml",
                "training_args.bin"} & set(fake.uploaded)  # ... never uploaded
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md"} <= set(
        fake.uploaded)
    card = fake.uploaded["README.md"].decode()
    assert f"base_model: {BASE}" in card and str(tmp_path) not in card
    assert fake.uploaded["tokenizer_config.json"] == (out / "tokenizer_config.json").read_bytes()  # the final save


def test_push_refuses_mid_run_pushes_before_training(tmp_path, monkeypatch):
    FakeHub().install(monkeypatch)
    recipe = load_recipe(GRPORecipe, raw=_grpo_raw(tmp_path, "tiny:qwen2", push_to_hub=True,
                                                   hub_strategy="every_save"))
    from r1lite.train.grpo import run as run_grpo

    with pytest.raises(ConfigError, match="hub_strategy: 'every_save'.*allowed values: end"):
        run_grpo(recipe)
    assert not (tmp_path / "grpo" / "model.safetensors").exists()


def test_generate_pushes_a_dataset_card(tmp_path, monkeypatch):
    import datasets

    from r1lite.generate import generate, trace_store

    fake = FakeHub().install(monkeypatch)
    pushed = []
    monkeypatch.setattr(datasets.Dataset, "push_to_hub", lambda ds, repo_id, private=None, **kw:
                        pushed.append((repo_id, private, len(ds))))
    out = tmp_path / "gen"
    (out / trace_store.DATA).mkdir(parents=True)
    (out / trace_store.DATA / "part-0.jsonl").write_text(json.dumps({"id": "a", "messages": []}) + "\n")
    stats = {"teacher": "deepseek-reasoner", "prompts": 10, "prompts_with_accepted": 7, "requests": 40,
             "accepted": 25, "accepted_rate": 0.625, "cost_usd": 1.234, "prompt_tokens": 1000,
             "completion_tokens": 50000, "prices_per_million": {"input": 0.55, "output": 2.19},
             "decontamination": {"benchmarks": {"math500": 500, "gsm8k": 1319}, "removed": 3}}
    (out / trace_store.STATS).write_text(json.dumps(stats))
    recipe = load_recipe(generate.GenerateRecipe, raw={
        "teacher": {"backend": "openai", "model": "deepseek-reasoner", "base_url": "http://localhost:1"},
        "data": {"sources": [{"path": "synthetic:arithmetic"}]}, "push_to_hub": "me/traces",
        "filters": {"keep": "shortest"}, "sampling": {"n": 4}})
    generate.push(out, recipe)
    assert pushed == [("me/traces", True, 1)] and fake.calls == [("upload_file", "me/traces", "dataset")]
    card = fake.uploaded["README.md"].decode()
    decontamination = "8-gram overlap against math500, gsm8k benchmarks: 3 problems removed"
    for fact in ("deepseek-reasoner", '"keep": "shortest"', "25 of 40 samples (62.5%)", decontamination, "$1.23",
                 "synthetic:arithmetic", "n=4"):
        assert fact in card, fact


def test_log_levels_per_process(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    runtime.setup_logging({})
    assert runtime.log.getEffectiveLevel() == 20  # info on the main process
    runtime.setup_logging({"log_level": "error"})
    assert runtime.log.getEffectiveLevel() == 40
    monkeypatch.setenv("RANK", "1")
    runtime.setup_logging({})
    assert runtime.log.getEffectiveLevel() == 30  # warning on the others, transformers' log_level_replica default
    runtime.setup_logging({"log_level_replica": "error"})
    assert runtime.log.getEffectiveLevel() == 40
    monkeypatch.setenv("RANK", "0")
    runtime.setup_logging({})


def test_trackers_reported_to_are_finished(monkeypatch):
    finished = []
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(finish=lambda: finished.append("wandb")))
    monkeypatch.setitem(sys.modules, "trackio", types.SimpleNamespace(finish=lambda: finished.append("trackio")))
    runtime.close_trackers(["wandb"])
    runtime.close_trackers("none")
    runtime.close_trackers(["all"])
    assert finished == ["wandb", "wandb", "trackio"]


def test_grpo_applies_model_init_kwargs(tmp_path):
    from r1lite.train.grpo import build_trainer

    recipe = load_recipe(GRPORecipe, raw=_grpo_raw(tmp_path, "tiny:qwen2",
                                                   model_init_kwargs={"attn_implementation": "eager"}))
    trainer = build_trainer(recipe, tmp_path / "grpo")
    assert trainer.model.config._attn_implementation == "eager"  # r1lite's default load would use sdpa


def test_two_processes_log_once(tmp_path):
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 16}}], "system_prompt": None},
        "trainer": {"output_dir": str(tmp_path / "sft"), "max_steps": 1, "per_device_train_batch_size": 2,
                    "max_length": 64, "resume_from_checkpoint": "latest", "report_to": "none"}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO / "configs" / "accelerate" / "cpu_ddp.yaml"), "--main_process_port", "29527", "-m", "r1lite", "sft",
           "--config", str(recipe)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    both = proc.stdout + proc.stderr
    assert both.count("checkpoint: starting from step 0") == 1  # r1lite's info line, rank 0 only
    assert both.count("sft finished:") == 1


def test_a_finished_command_ends_its_process_group(tmp_path):
    """Gloo threads left running at interpreter exit can abort a rank of a finished run (pytorch#190489)."""
    import torch.distributed as dist

    from r1lite.cli import end_process_group

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    end_process_group()
    assert not dist.is_initialized()
    end_process_group()  # nothing to end: a no-op
