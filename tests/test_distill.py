"""On-policy distillation on tiny models: the loss falls, resume (also after kill -9) equals an uninterrupted run,
padded vocabularies train over the real one, a different tokenizer is one line (rc 2) before any weights load, an
adapter folder is a teacher, and check / --help / a served teacher without vLLM answer as configuration does."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from r1lite.cli import main
from r1lite.models import TINY_ARCHS, models
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.train import distill
from r1lite.train.distill import DistillRecipe
from r1lite.train.distill import run as run_distill

REPO = Path(__file__).resolve().parents[1]


def save_tiny(folder: Path, vocab_size: int | None = None, seed: int = 1, tokenizer=None) -> str:
    """A tiny Qwen2 model (vocab_size rows: padded past the tokenizer when larger) with its tokenizer, saved."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tok = tokenizer or models.tiny_tokenizer()
    config = AutoConfig.for_model("qwen2", vocab_size=vocab_size or len(tok), pad_token_id=tok.pad_token_id,
                                  eos_token_id=tok.eos_token_id, bos_token_id=None, **TINY_ARCHS["qwen2"])
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def raw_recipe(out: Path, teacher: str = "tiny:llama", student: str = "tiny:qwen2", **trainer) -> dict:
    return {
        "model": {"model_name_or_path": student},
        "teacher": {"model_name_or_path": teacher},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 32, "difficulty": 1}}],
                 "system_prompt": None},
        "trainer": {"output_dir": str(out), "max_steps": 4, "per_device_train_batch_size": 8,
                    "max_completion_length": 12, "learning_rate": 3e-3, "save_strategy": "no", "seed": 0, **trainer},
    }


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def losses(out: Path) -> list[float]:
    return [r["loss"] for r in rows(out / "metrics.jsonl") if "loss" in r]


def test_distill_run_loss_decreases_and_logs(tmp_path):
    out = run_distill(load_recipe(DistillRecipe, raw=raw_recipe(tmp_path / "d", max_steps=16)))
    loss = losses(out)
    assert len(loss) == 16 and sum(loss[-4:]) < 0.6 * sum(loss[:4]), loss
    recorded = rows(out / "completions.jsonl")
    assert len(recorded) == 16 * 8 and {"step", "prompt", "completion", "answer", "correct"} <= set(recorded[0])
    assert all(isinstance(r["correct"], bool) for r in recorded)  # synthetic rows carry answers: every one graded
    assert "accuracy" in rows(out / "metrics.jsonl")[0]
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()


def test_resume_equals_an_uninterrupted_run(tmp_path):
    from safetensors.torch import load_file

    full = run_distill(load_recipe(DistillRecipe, raw=raw_recipe(tmp_path / "a", save_strategy="steps",
                                                                 save_steps=2)))
    killed = tmp_path / "b"
    killed.mkdir()
    os.rename(full / "checkpoint-2", killed / "checkpoint-2")  # only checkpoint-2 survived
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        run_distill(load_recipe(DistillRecipe, raw=raw_recipe(killed)))
    resumed = run_distill(load_recipe(DistillRecipe, raw=raw_recipe(killed, save_strategy="steps", save_steps=2,
                                                                    resume_from_checkpoint="latest")))
    assert [r["step"] for r in rows(resumed / "metrics.jsonl") if "loss" in r] == [3, 4]
    a, b = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


KILL_AFTER_LOG = """
import json, os, signal, sys
from trl import DistillationTrainer
from r1lite.recipe.config import load_recipe
from r1lite.train.distill import DistillRecipe, run
original = DistillationTrainer.compute_loss
def compute_loss(self, *args, **kwargs):
    if self.state.global_step == 3:  # step 3 is logged, its checkpoint (save_steps 2) never written
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)
DistillationTrainer.compute_loss = compute_loss
run(load_recipe(DistillRecipe, raw=json.loads(sys.argv[1])))
"""


def test_kill_9_then_resume_logs_one_row_per_step(tmp_path):
    out = tmp_path / "d"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    raw = raw_recipe(out, save_strategy="steps", save_steps=2)
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_LOG, json.dumps(raw)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert [r["step"] for r in rows(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3]
    run_distill(load_recipe(DistillRecipe, raw={**raw, "trainer": {**raw["trainer"],
                                                                    "resume_from_checkpoint": "latest"}}))
    assert [r["step"] for r in rows(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]
    assert [sum(r["step"] == s for r in rows(out / "completions.jsonl")) for s in range(4)] == [8, 8, 8, 8]


def test_aligned_teacher_head_scores_the_real_vocabulary_only(tmp_path):
    from transformers import AutoModelForCausalLM

    real = len(models.tiny_tokenizer())
    teacher = AutoModelForCausalLM.from_pretrained(save_tiny(tmp_path / "t", vocab_size=real + 24))
    ids = torch.tensor([[5, 9, 30, 41]])
    before = teacher(input_ids=ids).logits
    distill.align_vocabulary(teacher, real + 8, real)
    after = teacher(input_ids=ids).logits
    assert after.shape[-1] == real + 8 and teacher.config.vocab_size == real + 8
    assert torch.allclose(after[..., :real], before[..., :real], atol=1e-5)  # the real rows are the teacher's own
    assert torch.all(after[..., real:] == distill.MASKED_LOGIT)  # padding gets no probability
    assert torch.softmax(after, -1)[..., real:].sum() == 0


@pytest.mark.parametrize("padded", ["teacher", "student"])
def test_padded_vocabulary_trains(tmp_path, padded):
    """Same tokenizer, extra embedding rows on one side (Qwen2.5-7B's 152,064 vs 1.5B's 151,936): TRL alone refuses
    the pair (vocab_size differs); r1lite distils over the tokenizer's real vocabulary."""
    real = len(models.tiny_tokenizer())
    padded_model = save_tiny(tmp_path / "padded", vocab_size=real + 24)
    teacher, student = (padded_model, "tiny:qwen2") if padded == "teacher" else ("tiny:llama", padded_model)
    out = run_distill(load_recipe(DistillRecipe, raw=raw_recipe(tmp_path / "d", teacher=teacher, student=student,
                                                                max_steps=8)))
    loss = losses(out)
    # the divergence over the real vocabulary: as small as between two unpadded random models (padding masked on both
    # sides; unmasked student padding would add ~1e3 here), and falling
    assert max(loss) < 0.1 and sum(loss[-2:]) < sum(loss[:2]), loss
    if padded == "student":  # it sampled no id the teacher lacks (the teacher's embedding would crash), and is
        from safetensors.torch import load_file  # saved with its own shape and no mask

        weights = load_file(out / "model.safetensors")
        assert weights["model.embed_tokens.weight"].shape[0] == real + 24 and "lm_head.bias" not in weights


def other_tokenizer():
    """A character tokenizer over the same characters in another order: same size, different ids."""
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast

    base = models.tiny_tokenizer()
    order = sorted(base.get_vocab(), key=lambda t: (t.startswith("<"), t), reverse=True)
    backend = Tokenizer(tok_models.WordLevel({t: i for i, t in enumerate(order)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                  unk_token="<unk>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = models.CHAT_TEMPLATE
    return tok


def test_different_tokenizers_are_one_line_rc_2_before_any_weights_load(tmp_path, capsys, model_loads):
    student = save_tiny(tmp_path / "student")
    teacher = save_tiny(tmp_path / "teacher", tokenizer=other_tokenizer())
    recipe = tmp_path / "distill.yaml"
    recipe.write_text(yaml.safe_dump(raw_recipe(tmp_path / "d", teacher=teacher, student=student)))
    capsys.readouterr()
    assert main(["check", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and teacher in err and student in err
    assert "different tokenizers" in err and "trl.experimental.gold" in err
    assert main(["distill", "--config", str(recipe)]) == 2
    assert "different tokenizers" in capsys.readouterr().err
    assert model_loads == []  # refused from the tokenizer files: no model was loaded


def test_an_adapter_folder_teacher_loads_merged(tmp_path):
    """An earlier stage's LoRA output (adapter + tokenizer, no full weights) is a teacher: loaded merged."""
    from r1lite.train.sft import SFTRecipe
    from r1lite.train.sft import run as run_sft

    sft = {"model": {"model_name_or_path": "tiny:qwen2", "use_peft": True, "lora_r": 4,
                     "lora_target_modules": "all-linear"},
           "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 16, "ops": ["sub"]}}],
                    "system_prompt": None},
           "trainer": {"output_dir": str(tmp_path / "sft"), "max_steps": 2, "per_device_train_batch_size": 8,
                       "max_length": 96, "learning_rate": 1e-2, "save_strategy": "no", "seed": 0}}
    adapter = run_sft(load_recipe(SFTRecipe, raw=sft))
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    assert distill.tokenizer_vocab(str(adapter)) == models.tiny_tokenizer().get_vocab()
    out = run_distill(load_recipe(DistillRecipe, raw=raw_recipe(tmp_path / "d", teacher=str(adapter), max_steps=2)))
    assert len(losses(out)) == 2
    merged, base = models.load_inference_model(str(adapter)), models.load_inference_model("tiny:qwen2")
    ids = torch.tensor([[5, 9, 30]])
    assert not torch.allclose(merged(input_ids=ids).logits, base(input_ids=ids).logits)  # the adapter is in


def test_check_help_and_recipe_errors(tmp_path, capsys):
    recipe = tmp_path / "distill.yaml"
    recipe.write_text(yaml.safe_dump(raw_recipe(tmp_path / "d")))
    assert main(["check", "--config", str(recipe)]) == 0
    assert "valid distill recipe" in capsys.readouterr().out
    assert main(["distill", "--help"]) == 0
    text = capsys.readouterr().out
    assert "teacher:  TeacherArgs" in text and "server_url" in text and "trl.DistillationConfig" in text
    with pytest.raises(ConfigError, match="use one of --model.model_name_or_path, --teacher.model_name_or_path"):
        load_recipe(DistillRecipe, recipe, {"model_name_or_path": "tiny:qwen3"})  # the student's or the teacher's?
    recipe_ = load_recipe(DistillRecipe, recipe, {"model.model_name_or_path": "tiny:qwen3"})
    assert (recipe_.model.model_name_or_path, recipe_.teacher.model_name_or_path) == ("tiny:qwen3", "tiny:llama")
    with pytest.raises(ConfigError, match="teacher.model_name_or_path: required"):
        load_recipe(DistillRecipe, raw={k: v for k, v in raw_recipe(tmp_path / "d").items() if k != "teacher"})
    cases = {"--betta 0.5": "did you mean 'beta'", "--beta 2": "trainer.beta",
             "--server_url http://localhost:8000": "needs vLLM",
             "--teacher_model_name_or_path x/y": "set teacher.model_name_or_path",
             "--loss_top_k 4": "only for a served teacher", "--teacher.dtype fp8": "teacher.dtype"}
    for override, message in cases.items():
        assert main(["check", "--config", str(recipe), *override.split()]) == 2, override
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (override, err)


def test_plan_counts_the_teachers_memory_and_time(monkeypatch):
    from r1lite.tools import plan

    monkeypatch.chdir(REPO)
    cases = [("recipes/qwen2.5-1.5b-instruct/distill/math_lora_24gb.yaml", "rtx4090", 1, None),
             ("recipes/deepseek-r1-distill-qwen-1.5b/distill/r1_7b_teacher_zero3.yaml", "h100", 8, "zero3")]
    for path, gpu, n, strategy in cases:
        recipe = load_recipe(DistillRecipe, path)
        result = plan.make_plan(recipe, "distill", gpu, n, strategy, path)
        teacher = plan.model_shape(recipe.teacher.model_name_or_path)
        assert result["memory_gib"]["teacher"] == round(teacher.num_params * 2 / n / plan.GIB, 2), path
        assert result["fits"] and result["tokens_generate"] > 0 and result["memory_gib"]["reference_model"] == 0
        # the teacher's forward over every trained token: 2 FLOPs per teacher parameter
        setup = plan.Setup(**result["setup"])
        shape = plan.model_shape(recipe.model.model_name_or_path)
        without = plan.train_flops_per_token(shape, plan.Setup(**{**result["setup"], "teacher_params": 0}))
        assert plan.train_flops_per_token(shape, setup) - without == 2 * teacher.num_params


def test_demo_stage_recipes_validate_and_summary_compares_student_base_and_teacher(tmp_path):
    from r1lite.data import BUNDLED_DIR
    from r1lite.tools import demo, demo_distill

    out = tmp_path / "demo"
    p = demo.plan(10)
    overrides = demo.stage_overrides(out, "smollm2-135m", 0, str(BUNDLED_DIR), p)
    # validated as the demo validates its stages; the warm start's, once its traces exist
    recipes = demo.stage_recipes(overrides, demo_distill.waiting(out))
    assert demo_distill.waiting(out) == ("sft_traces",) and "sft_traces" not in recipes
    assert recipes["generate_traces"].model.model_name_or_path == str(out / "grpo")  # the teacher samples the traces
    assert recipes["generate_traces"].teacher.backend == "hf" and recipes["generate_traces"].filters.think
    assert overrides["sft_traces"]["model_name_or_path"] == "smollm2-135m"  # the untouched base model, warm-started
    assert overrides["sft_traces"]["data.sources"] == [{"path": str(out / "generate_traces" / "data")}]
    assert recipes["distill"].teacher.model_name_or_path == str(out / "grpo")
    assert recipes["distill"].model.model_name_or_path == str(out / "sft_traces")  # on-policy after the warm start
    assert recipes["distill"].trainer["max_steps"] == p["distill_steps"] > 0
    assert recipes["eval_distill"].model.model_name_or_path == str(out / "distill")
    assert recipes["eval_distill"].benchmark_args == recipes["eval_grpo"].benchmark_args  # the same held-out sets

    base = {i: 0.0 for i in range(40)}
    teacher = {i: float(i < 20) for i in range(40)}
    student = {i: float(i < 16) for i in range(40)}
    s = demo_distill.summary(base, teacher, student)
    assert s["student_gain_over_base"]["diff"] == pytest.approx(0.4) and s["student_gain_over_base"]["above_zero"]
    assert s["share_of_teacher"] == pytest.approx(0.8) and s["student_gain_over_base"]["n"] == 40
    assert demo_distill.summary(base, base, base)["share_of_teacher"] is None  # a teacher that solved nothing
    assert not demo_distill.summary(base, teacher, base)["student_gain_over_base"]["above_zero"]
    wall = demo_distill.wall_times({"sft": 40.0, "grpo": 300.0, "generate_traces": 20.0, "sft_traces": 40.0,
                                    "distill": 50.0, "eval_distill": 60.0})
    assert wall == {"generate_traces": 20.0, "sft_traces": 40.0, "distill": 50.0, "branch": 110.0,
                    "sft_plus_grpo": 340.0}


def test_served_teacher_recipe_builds_trls_server_config_where_vllm_exists(tmp_path, monkeypatch):
    """vLLM is not installed here: with it faked present, a served-teacher recipe validates (its own loss fields
    allowed) and becomes TRL's ServerDistillationConfig; the trainer itself (an HTTP client to vLLM) is not run."""
    import importlib.util

    from trl.experimental.server_distillation import ServerDistillationConfig

    from r1lite.train import runtime

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm"
                        else real_find_spec(name, *a))
    raw = raw_recipe(tmp_path / "d", beta=0.0, loss_top_k=8)
    raw["teacher"] = {"model_name_or_path": "tiny:llama", "server_url": "http://localhost:8000"}
    recipe = load_recipe(DistillRecipe, raw=raw)
    args = distill.trainer_config(ServerDistillationConfig, runtime.trainer_kwargs(recipe, tmp_path / "d"),
                           teacher_model_server_url=recipe.teacher.server_url)
    assert (args.teacher_model_server_url, args.loss_top_k, args.beta) == ("http://localhost:8000", 8, 0.0)
    with pytest.raises(ConfigError, match="loss_top_k must be positive"):
        distill.trainer_config(ServerDistillationConfig, {**runtime.trainer_kwargs(recipe, tmp_path / "d"), "loss_top_k": 0},
                        teacher_model_server_url="http://localhost:8000")


def test_push_uploads_the_model_with_the_students_hub_base_in_its_card(tmp_path, monkeypatch):
    import shutil

    from test_hub_and_ranks import BASE, FakeHub

    student = tmp_path / "sft"  # an earlier stage's output whose run started from a Hub model
    shutil.copytree(models.materialize("tiny:qwen2"), student)
    (student / "resolved_recipe.yaml").write_text(yaml.safe_dump({"model": {"model_name_or_path": BASE}}))
    fake = FakeHub().install(monkeypatch)
    run_distill(load_recipe(DistillRecipe, raw=raw_recipe(tmp_path / "d", student=str(student), max_steps=1,
                                                          push_to_hub=True, hub_model_id="me/tiny-distill")))
    assert [c[0] for c in fake.calls] == ["create_repo", "upload_folder"]
    card = fake.uploaded["README.md"].decode()
    assert f"base_model: {BASE}" in card and "Distillation" in card
    assert "model.safetensors" in fake.uploaded and not {"completions.jsonl", "metrics.jsonl"} & set(fake.uploaded)
