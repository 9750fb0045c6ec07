"""SFT on a tiny model: assistant-only loss is verified on the labels, loss decreases, resume refuses silent reuse."""

import json

import pytest
import torch

from r1lite.config import ConfigError, SFTRecipe, load_recipe
from r1lite.sft import build_trainer, run_sft


def recipe(tmp_path, **trainer):
    raw = {
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 64, "ops": ["sub"]}}],
                 "system_prompt": None},
        "trainer": {"output_dir": str(tmp_path / "sft"), "max_steps": 2, "per_device_train_batch_size": 8,
                    "max_length": 128, "learning_rate": 3e-3, "save_strategy": "no", "seed": 0, **trainer},
    }
    return load_recipe(SFTRecipe, raw=raw)


@pytest.mark.parametrize("packing", [False, True])
def test_labels_cover_assistant_tokens_only(tmp_path, packing):
    trainer = build_trainer(recipe(tmp_path, packing=packing), tmp_path / "sft")
    tok = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    trained = tok.decode(ids[labels != -100])
    ignored = tok.decode(ids[(labels == -100) & (ids != tok.pad_token_id)])
    # the code-made R1 answer is trained ...
    assert "<think>" in trained and "\\boxed{" in trained and "</think>" in trained
    # ... the user's question never is
    assert "What is" not in trained and "What is" in ignored
    assert "user" in ignored and "<|im_start|>" not in trained
    if packing:  # two sequences share one padding-free row, kept apart by position_ids
        assert batch["input_ids"].shape[0] == 1 and (batch["position_ids"][0] == 0).sum() >= 2


def test_loss_decreases_with_packing(tmp_path):
    out = run_sft(recipe(tmp_path, packing=True, max_steps=30, learning_rate=3e-3))
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses
    assert (out / "model.safetensors").is_file() and (out / "resolved_recipe.yaml").is_file()


def test_fresh_run_refuses_folder_with_checkpoints(tmp_path):
    run_sft(recipe(tmp_path, save_strategy="steps", save_steps=2))
    assert (tmp_path / "sft" / "checkpoint-2").is_dir()
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        run_sft(recipe(tmp_path))
    # resume "latest" continues from step 2 to 4
    out = run_sft(recipe(tmp_path, max_steps=4, resume_from_checkpoint="latest", save_strategy="steps",
                         save_steps=2))
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 4 and 3 in steps
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4


def test_think_block_dropped_by_chat_template_is_an_error(tmp_path):
    from r1lite import sft

    class DropThink:
        def apply_chat_template(self, messages, tokenize=False):
            return "".join(m["content"].split("</think>")[-1] for m in messages)

    dataset = [{"prompt": [{"role": "user", "content": "q"}],
                "completion": [{"role": "assistant", "content": "<think>r</think> \\boxed{1}"}]}]
    with pytest.raises(ConfigError, match="removes the <think> block"):
        sft.check_think_survives(dataset, DropThink())
    torch.manual_seed(0)
