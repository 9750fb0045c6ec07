"""`r1lite plan`: memory terms against hand-computed answers, monotonicity, fixes, and the command on every recipe."""

import json
from pathlib import Path

import pytest

from r1lite.cli import main
from r1lite.models.model_shapes import KNOWN_SHAPES
from r1lite.recipe.config import ConfigError, load_recipe
from r1lite.tools import plan, plan_cli
from r1lite.tools.plan import GIB, Setup, estimate_memory
from r1lite.train.grpo import GRPORecipe
from r1lite.train.sft import SFTRecipe

REPO = Path(__file__).resolve().parents[1]
QWEN_1_5B = KNOWN_SHAPES["Qwen/Qwen2.5-1.5B"]
P = QWEN_1_5B.num_params


def states(memory: dict) -> float:
    t = memory["terms"]
    return t["weights"] + t["gradients"] + t["optimizer"]


def test_parameter_counts_match_the_published_models():
    assert KNOWN_SHAPES["Qwen/Qwen2.5-0.5B"].num_params == 494_032_768  # model card: 0.49B
    assert P == 1_543_714_304  # 1.54B
    assert KNOWN_SHAPES["Qwen/Qwen2.5-7B"].num_params == 7_615_616_512  # 7.61B
    assert KNOWN_SHAPES["HuggingFaceTB/SmolLM2-135M-Instruct"].num_params == 134_515_008


def test_full_finetune_adam_bf16_with_fp32_master_is_16_bytes_per_param():
    memory = estimate_memory(QWEN_1_5B, Setup(master_weights=True))
    assert states(memory) == pytest.approx(16 * P)  # 2 weights + 2 grads + 4 master + 4 + 4 moments
    assert memory["terms"]["optimizer"] == pytest.approx(12 * P)
    # an fp32 model: 4 + 4 + 8, no separate master; plain PyTorch on a bf16 model keeps bf16 moments: 2 + 2 + 4
    assert states(estimate_memory(QWEN_1_5B, Setup(weight_bytes=4))) == pytest.approx(16 * P)
    assert states(estimate_memory(QWEN_1_5B, Setup(strategy="none"))) == pytest.approx(8 * P)
    # DeepSpeed keeps an fp32 master by itself
    assert estimate_memory(QWEN_1_5B, Setup(strategy="zero2", num_gpus=1))["master_weights"]


def test_lora_trains_only_the_adapter_in_fp32():
    # r x (in + out) per adapted linear: q 1536+1536, k/v 1536+256, o 1536+1536, gate/up 1536+8960, down 8960+1536
    adapter = 28 * 16 * (3072 + 1792 + 1792 + 3072 + 10496 + 10496 + 10496)
    assert QWEN_1_5B.lora_params(16, "all-linear") == adapter == 18_464_768
    assert QWEN_1_5B.lora_params(16, ["q_proj", "v_proj"]) == 28 * 16 * (3072 + 1792)
    memory = estimate_memory(QWEN_1_5B, Setup(lora_r=16))
    t = memory["terms"]
    assert memory["trainable_params"] == adapter
    assert t["weights"] == pytest.approx(2 * P + 4 * adapter)
    assert t["gradients"] == pytest.approx(4 * adapter)
    assert t["optimizer"] == pytest.approx(8 * adapter)
    # QLoRA: the frozen base in ~4 bits
    assert estimate_memory(QWEN_1_5B, Setup(lora_r=16, weight_bytes=0.55))["terms"]["weights"] < 0.3 * t["weights"]


@pytest.mark.parametrize("strategy, divided", [("zero1", {"optimizer"}), ("zero2", {"optimizer", "gradients"}),
                                               ("zero3", {"optimizer", "gradients", "weights"}),
                                               ("fsdp", {"optimizer", "gradients", "weights"})])
def test_zero_stages_divide_the_sharded_terms_by_the_gpu_count(strategy, divided):
    one = estimate_memory(QWEN_1_5B, Setup(master_weights=True, num_gpus=8, strategy="ddp"))["terms"]
    sharded = estimate_memory(QWEN_1_5B, Setup(master_weights=True, num_gpus=8, strategy=strategy))["terms"]
    for term in ("weights", "gradients", "optimizer"):
        assert sharded[term] == pytest.approx(one[term] / 8 if term in divided else one[term])
    assert sharded["activations"] == one["activations"]  # activations are per micro batch, never sharded


def test_zero3_over_8_gpus_gives_2_bytes_per_param():
    memory = estimate_memory(QWEN_1_5B, Setup(num_gpus=8, strategy="zero3"))
    assert states(memory) == pytest.approx(16 * P / 8)


def test_activations_by_hand_and_checkpointing():
    h, kv, i, layers = 1536, 256, 8960, 28
    per_token_layer = (7 * h + 2 * kv + 4 * i) * 2  # bf16
    full = estimate_memory(QWEN_1_5B, Setup(micro_batch=2, seq_len=1000, gradient_checkpointing=False))
    ckpt = estimate_memory(QWEN_1_5B, Setup(micro_batch=2, seq_len=1000, gradient_checkpointing=True))
    assert full["terms"]["activations"] == 2000 * per_token_layer * layers
    assert ckpt["terms"]["activations"] == 2000 * (h * 2 * layers + per_token_layer)
    assert ckpt["terms"]["activations"] < full["terms"]["activations"] / 10


@pytest.mark.parametrize("checkpointing", [True, False])
def test_monotonic_in_sequence_length_and_micro_batch(checkpointing):
    peaks = [estimate_memory(QWEN_1_5B, Setup(seq_len=s, gradient_checkpointing=checkpointing))["peak"]
             for s in (256, 512, 1024, 4096, 16384)]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)
    peaks = [estimate_memory(QWEN_1_5B, Setup(micro_batch=b, gradient_checkpointing=checkpointing))["peak"]
             for b in (1, 2, 4, 8, 16)]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)


def test_reference_model_only_for_full_finetuning_with_beta():
    assert estimate_memory(QWEN_1_5B, Setup(ref_model=True))["terms"]["reference_model"] == 2 * P
    assert estimate_memory(QWEN_1_5B, Setup(ref_model=True, num_gpus=8, strategy="zero3"))["terms"][
        "reference_model"] == 2 * P / 8
    assert estimate_memory(QWEN_1_5B, Setup(ref_model=True, lora_r=16))["terms"]["reference_model"] == 0


def test_vllm_colocate_share_and_sleep_mode():
    base = {"generation": "colocate", "vllm_gpu_memory_utilization": 0.3, "gpu_memory_gib": 80, "gen_sequences": 64,
            "seq_len": 2048, "micro_batch": 4}
    awake = estimate_memory(QWEN_1_5B, Setup(**base))
    asleep = estimate_memory(QWEN_1_5B, Setup(**base, vllm_sleep=True))
    t = awake["terms"]
    assert t["vllm"] == pytest.approx(0.3 * 80 * GIB)
    static = t["weights"] + t["gradients"] + t["optimizer"] + t["reference_model"] + t["overhead"]
    assert awake["peak"] == pytest.approx(static + t["activations"] + t["vllm"])
    assert asleep["peak"] == pytest.approx(static + max(t["activations"], t["vllm"]))
    kv_per_token = 2 * 28 * 2 * 128 * 2  # K and V, layers, kv heads, head dim, bf16
    assert awake["kv_cache_capacity_tokens"] == int((0.3 * 80 * GIB - 2 * P) / kv_per_token)
    assert awake["kv_cache_needed_tokens"] == 64 * 2048
    assert estimate_memory(QWEN_1_5B, Setup(generation="server"))["peak"] < awake["peak"]


def test_cheapest_fix_makes_it_fit():
    seven_b = KNOWN_SHAPES["Qwen/Qwen2.5-7B"]
    on_4090 = Setup(gpu_memory_gib=23.6, seq_len=2048)
    assert not estimate_memory(seven_b, on_4090)["fits"]
    fix = plan.cheapest_fix(seven_b, on_4090)
    assert fix and "LoRA" in fix[0]
    # 8 GPUs: sharding is cheaper than LoRA, and ZeRO-2 cheaper than ZeRO-3 when it is enough
    node = Setup(gpu_memory_gib=40, num_gpus=8, strategy="ddp", seq_len=2048)
    assert plan.cheapest_fix(seven_b, node) == ["ZeRO-2 (configs/accelerate/zero2.yaml)"]
    node = Setup(gpu_memory_gib=23.6, num_gpus=8, strategy="ddp", seq_len=2048)
    assert plan.cheapest_fix(seven_b, node) == ["ZeRO-3 (configs/accelerate/zero3.yaml or fsdp.yaml)"]
    # activations too big: a smaller micro batch comes before anything that changes the run
    big_batch = Setup(lora_r=16, micro_batch=64, seq_len=2048, gpu_memory_gib=23.6)
    assert plan.cheapest_fix(QWEN_1_5B, big_batch)[0].startswith("halve the micro batch")


def recipes() -> list[Path]:
    return sorted(p for p in (REPO / "recipes").rglob("*.yaml") if p.parent.name in ("grpo", "sft"))


@pytest.mark.parametrize("path", recipes(), ids=lambda p: str(p.relative_to(REPO / "recipes")))
def test_every_training_recipe_has_a_plan(path, monkeypatch):
    monkeypatch.chdir(REPO)
    stage = path.parent.name
    recipe = load_recipe(GRPORecipe if stage == "grpo" else SFTRecipe, path)
    result = plan.make_plan(recipe, stage, "h100", 8, "zero3", str(path))
    assert result["peak_gib"] > 0 and result["largest"] in result["memory_gib"]
    assert result["gpu_hours"] is not None and result["tokens_train"] > 0 and result["cost_usd"] >= 0
    json.dumps(result)
    assert "peak" in plan_cli.format_plan(result)


def test_recipes_fit_the_hardware_their_header_names(monkeypatch):
    monkeypatch.chdir(REPO)
    cases = [("qwen2.5-0.5b-instruct/grpo/gsm8k_lora_24gb.yaml", "rtx4090", 1, None),
             ("qwen2.5-1.5b-instruct/grpo/math_lora_24gb.yaml", "rtx3090", 1, None),
             ("qwen2.5-math-7b/grpo/r1_zero_math.yaml", "a100-80g", 8, "zero3"),
             ("qwen2.5-7b-instruct/sft/distill_openr1_math.yaml", "h800", 8, "zero3")]
    for path, gpu, n, strategy in cases:
        stage = Path(path).parent.name
        recipe = load_recipe(GRPORecipe if stage == "grpo" else SFTRecipe, REPO / "recipes" / path)
        assert plan.make_plan(recipe, stage, gpu, n, strategy, path)["fits"], path


def test_command_line_table_json_and_overrides(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = "recipes/qwen2.5-1.5b-instruct/grpo/math_lora_24gb.yaml"
    assert main(["plan", "--config", recipe, "--gpu", "rtx4090", "--num_gpus", "1"]) == 0
    table = capsys.readouterr().out
    assert "fits" in table and "largest term" in table and "GPU-hours" in table and "assumed" in table
    assert main(["plan", "--config", recipe, "--gpu", "rtx4090", "--json", "--price_per_gpu_hour", "1.0",
                 "--tokens_per_s", "1000", "--gen_tokens_per_s", "2000", "--max_steps", "10"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["steps"] == 10 and data["price_per_gpu_hour"] == 1.0 and not data["price_assumed"]
    expected = (data["tokens_train"] / 1000 + data["tokens_generate"] / 2000) / 3600
    assert data["gpu_hours"] == pytest.approx(expected, abs=0.05)
    assert data["cost_usd"] == pytest.approx(expected, abs=0.05)
    # an accelerate config sets the strategy
    assert main(["plan", "--config", "recipes/qwen2.5-7b-instruct/sft/distill_openr1_math.yaml", "--gpu", "h800",
                 "--num_gpus", "8", "--accelerate_config", "configs/accelerate/zero3.yaml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["strategy"] == "zero3"
    assert main(["plan", "--config", recipe, "--gpu", "v100"]) == 2
    assert "allowed values" in capsys.readouterr().err


def test_strategy_of_every_accelerate_config():
    expected = {"single_gpu": "none", "ddp": "ddp", "zero2": "zero2", "zero3": "zero3", "fsdp": "fsdp",
                "multi_node_zero3": "zero3", "multi_node_fsdp": "fsdp"}
    for name, strategy in expected.items():
        assert plan_cli.strategy_of_accelerate_config(str(REPO / "configs/accelerate" / f"{name}.yaml")) == strategy


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ConfigError, match="known models"):
        plan.model_shape("someorg/unknown-model")
    # an earlier stage's output is known by the recipe's folder
    shape = plan.model_shape("runs/x", "recipes/deepseek-r1-distill-qwen-1.5b/grpo/s2.yaml")
    assert shape == KNOWN_SHAPES["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"]


def test_local_folder_config_json(tmp_path):
    config = {"model_type": "qwen2", "hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12,
              "num_key_value_heads": 2, "intermediate_size": 8960, "vocab_size": 151936, "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert plan.model_shape(str(tmp_path)).num_params == P
