"""SFT on a tiny model: assistant-only loss verified on the labels the trainer builds, loss decreases, resume continues
exactly where it stopped, LoRA + gradient checkpointing, and clear errors for what this machine cannot do."""

import importlib.util
import itertools
import json
import shutil

import pytest
import torch

from r1lite.models.models import check_model_loading
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.train.sft import SFTRecipe, build_trainer
from r1lite.train.sft import run as run_sft


def recipe(tmp_path, model=None, data=None, **trainer):
    raw = {
        "model": {"model_name_or_path": "tiny:qwen2", **(model or {})},
        "data": data or {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 64, "ops": ["sub"]}}],
                         "system_prompt": None},
        "trainer": {"output_dir": str(tmp_path / "sft"), "max_steps": 2, "per_device_train_batch_size": 8,
                    "max_length": 128, "learning_rate": 3e-3, "save_strategy": "no", "seed": 0, **trainer},
    }
    return load_recipe(SFTRecipe, raw=raw)


def traces_folder(tmp_path, n=12):
    """What `r1lite generate` writes: JSONL shards of chat `messages` (user, then assistant <think>...</think> answer)."""
    folder = tmp_path / "traces"
    folder.mkdir()
    rows = [{"id": f"p{i}", "source": "teacher", "messages": [
        {"role": "user", "content": f"What is {i} + {i}?"},
        {"role": "assistant", "content": f"<think>\n{i} + {i} = {2 * i}.\n</think>\nThe answer is \\boxed{{{2 * i}}}."},
    ]} for i in range(n)]
    for shard in range(2):
        (folder / f"shard-{shard:05d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[shard::2]))
    return folder, {r["messages"][-1]["content"] for r in rows}


def segments(batch):
    """(input_ids, labels) of each sequence in a collated batch: padded rows, or one padding-free packed row split at
    its position_ids resets."""
    if "position_ids" in batch and batch["input_ids"].shape[0] == 1:
        ids, labels, pos = batch["input_ids"][0], batch["labels"][0], batch["position_ids"][0]
        starts = (pos == 0).nonzero().flatten().tolist() + [len(ids)]
        return [(ids[a:b], labels[a:b]) for a, b in itertools.pairwise(starts)]
    return [(ids[mask.bool()], labels[mask.bool()])
            for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"])]


def losses_by_step(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


@pytest.mark.parametrize("packing", [False, True])
def test_labels_cover_assistant_tokens_only(tmp_path, packing):
    folder, answers = traces_folder(tmp_path)
    data = {"sources": [{"path": str(folder)}], "system_prompt": "r1"}
    trainer = build_trainer(recipe(tmp_path, data=data, packing=packing, max_length=1024), tmp_path / "sft")
    tok = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    found = segments(batch)
    assert len(found) >= 3
    for ids, labels in found:
        trained, ignored = tok.decode(ids[labels != -100]), tok.decode(ids[labels == -100])
        # exactly the assistant turn (its <think> block and boxed answer) and the end-of-turn token are trained ...
        assert trained.removesuffix("<|im_end|>") in answers and trained.endswith("<|im_end|>")
        # ... and exactly the system prompt, the user's question and the assistant header are not
        assert ignored.startswith("<|im_start|>system\n") and ignored.endswith("<|im_start|>assistant\n")
        assert "<|im_start|>user\nWhat is" in ignored
    if packing:  # several conversations share one padding-free row, kept apart by position_ids
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch


def test_loss_decreases_with_packing(tmp_path):
    out = run_sft(recipe(tmp_path, packing=True, max_steps=30, learning_rate=3e-3))
    losses = [loss for _, loss in losses_by_step(out)]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses
    assert (out / "model.safetensors").is_file() and (out / "resolved_recipe.yaml").is_file()


def test_resume_continues_at_the_right_step(tmp_path):
    resumable = {"max_steps": 4, "packing": True, "save_strategy": "steps", "save_steps": 2}
    out = run_sft(recipe(tmp_path, **resumable))
    straight = losses_by_step(out)
    # as if killed between the checkpoints at steps 2 and 4
    shutil.rmtree(out / "checkpoint-4")
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        run_sft(recipe(tmp_path, **resumable))
    run_sft(recipe(tmp_path, resume_from_checkpoint="latest", **resumable))
    resumed = losses_by_step(out)
    # the log holds one row per step: the killed run's steps 3 and 4 were dropped on resume and redone, on the
    # batches, weights, optimizer and scheduler state of the first run
    assert [s for s, _ in resumed] == [1, 2, 3, 4]
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in straight], rel=1e-5)
    assert json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


def test_lora_with_gradient_checkpointing_and_model_init_kwargs(tmp_path):
    r = recipe(tmp_path, model={"use_peft": True, "lora_r": 4, "lora_target_modules": ["q_proj", "v_proj"]},
               gradient_checkpointing=True, model_init_kwargs={"attn_implementation": "eager"})
    trainer = build_trainer(r, tmp_path / "sft")
    assert trainer.model.config._attn_implementation == "eager"  # model_init_kwargs reach the model r1lite loads
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n}
    trainer.train()
    assert trainer.model.base_model.model.is_gradient_checkpointing
    assert any(not torch.equal(before[n], p) for n, p in trainer.model.named_parameters() if n in before)


def test_cpu_bf16_is_opt_in_and_trains_under_autocast_with_fp32_weights(tmp_path):
    """On CPU r1lite leaves bf16 off unless the recipe asks (it is only faster with bf16 instructions); asked, the
    trainer runs its layers in bf16 under autocast while the weights stay fp32, and learns as the fp32 run does."""
    lora = {"use_peft": True, "lora_r": 8, "lora_target_modules": "all-linear"}
    losses, seen = {}, set()
    for bf16 in (False, True):
        extra = {"bf16": True} if bf16 else {}  # the fp32 run leaves bf16 unset: r1lite's CPU default
        trainer = build_trainer(recipe(tmp_path / str(bf16), model=lora, max_steps=20, learning_rate=1e-2, **extra),
                                tmp_path / str(bf16) / "sft")
        assert trainer.args.bf16 is bf16
        layer = trainer.model.base_model.model.model.layers[0].mlp.down_proj
        hook = layer.register_forward_hook(lambda _m, _i, out, bf16=bf16: seen.add((bf16, out.dtype)))
        trainer.train()
        hook.remove()
        assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}
        losses[bf16] = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert seen == {(False, torch.float32), (True, torch.bfloat16)}
    first, last = (sum(losses[True][s]) / 5 for s in (slice(0, 5), slice(-5, None)))
    assert len(losses[True]) == 20 and last < first - 0.5, losses[True]
    assert losses[True][-1] == pytest.approx(losses[False][-1], rel=0.05), losses


def test_quantization_and_kernels_need_what_this_machine_has(tmp_path):
    with pytest.raises(ConfigError, match="model.load_in_4bit: .*needs a CUDA GPU"):
        run_sft(recipe(tmp_path, model={"load_in_4bit": True, "use_peft": True}))
    qlora_without_lora = recipe(tmp_path, model={"load_in_4bit": True})
    with pytest.raises(ConfigError, match="bitsandbytes|use_peft"):
        check_model_loading(qlora_without_lora.model, qlora_without_lora.trainer, on_gpu=True)
    if importlib.util.find_spec("kernels") is None:
        with pytest.raises(ConfigError, match="use_kernels: needs the kernels package"):
            with_kernels = recipe(tmp_path, model_init_kwargs={"use_kernels": True})
            check_model_loading(with_kernels.model, with_kernels.trainer, on_gpu=False)


def test_assistant_turns_beyond_max_length_are_an_error(tmp_path):
    folder, _ = traces_folder(tmp_path)
    data = {"sources": [{"path": str(folder)}], "system_prompt": "r1"}  # a ~400-token system prompt
    with pytest.raises(ConfigError, match="trainer.max_length: every one of the 12 conversations"):
        build_trainer(recipe(tmp_path, data=data, max_length=64), tmp_path / "sft")


def test_think_block_dropped_by_chat_template_is_an_error():
    from r1lite.train import sft

    class DropThink:
        def apply_chat_template(self, messages, tokenize=False):
            return "".join(m["content"].split("</think>")[-1] for m in messages)

    dataset = [{"prompt": [{"role": "user", "content": "q"}],
                "completion": [{"role": "assistant", "content": "<think>r</think> \\boxed{1}"}]}]
    with pytest.raises(ConfigError, match="removes the <think> block"):
        sft.check_think_survives(dataset, DropThink())
