"""The shape of the recipes' models: what `plan` computes memory and throughput from, and the architecture `arch_of`
reads for a Hub id (KNOWN_SHAPES: config.json values, since the Hub is unreachable offline); shape_from_config for
any config.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    head_dim: int | None = None  # None: hidden_size / num_heads
    qkv_bias: bool = False  # Qwen2 has biases on q/k/v
    max_position_embeddings: int = 32768

    @property
    def dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one decoder block, by module name."""
        h, q, kv, i = self.hidden_size, self.num_heads * self.dim, self.num_kv_heads * self.dim, self.intermediate_size
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def num_params(self) -> int:
        linears = sum(a * b for a, b in self.linear_shapes().values())
        bias = (self.num_heads + 2 * self.num_kv_heads) * self.dim if self.qkv_bias else 0
        per_layer = linears + bias + 2 * self.hidden_size  # + two RMSNorm weights
        embed = self.vocab_size * self.hidden_size
        return embed * (1 if self.tie_word_embeddings else 2) + self.num_layers * per_layer + self.hidden_size

    def lora_params(self, r: int, targets: list[str] | str | None) -> int:
        """Trainable parameters of a LoRA adapter: r x (in + out) per adapted linear per layer."""
        shapes = self.linear_shapes()
        if targets in (None, "all-linear") or targets == ["all-linear"]:
            names = list(shapes)
        else:
            names = [t for t in ([targets] if isinstance(targets, str) else targets) if t in shapes]
        return self.num_layers * sum(r * (shapes[n][0] + shapes[n][1]) for n in names)

    def activation_elems_per_token_layer(self) -> int:
        """Tensors one decoder layer keeps for backward, per token: attention (norm in/out, q, k, v, output, residual)
        and SwiGLU MLP (norm in/out, gate, up, act(gate), product)."""
        h, kv, i = self.hidden_size, self.num_kv_heads * self.dim, self.intermediate_size
        return 7 * h + 2 * kv + 4 * i

    def kv_bytes_per_token(self, dtype_bytes: float = 2) -> float:
        return 2 * self.num_layers * self.num_kv_heads * self.dim * dtype_bytes


def _qwen2(h: int, layers: int, heads: int, kv: int, inter: int, vocab: int, tie: bool, ctx: int) -> ModelShape:
    return ModelShape("qwen2", h, layers, heads, kv, inter, vocab, tie, qkv_bias=True, max_position_embeddings=ctx)


# config.json values of the recipes' models (the Hub is unreachable here); -Instruct variants share the base's shape
KNOWN_SHAPES: dict[str, ModelShape] = {
    "Qwen/Qwen2.5-0.5B": _qwen2(896, 24, 14, 2, 4864, 151936, True, 32768),
    "Qwen/Qwen2.5-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, True, 32768),
    "Qwen/Qwen2.5-3B": _qwen2(2048, 36, 16, 2, 11008, 151936, True, 32768),
    "Qwen/Qwen2.5-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 131072),
    "Qwen/Qwen2.5-Math-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, True, 4096),
    "Qwen/Qwen2.5-Math-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 4096),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": _qwen2(1536, 28, 12, 2, 8960, 151936, False, 131072),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": _qwen2(3584, 28, 28, 4, 18944, 152064, False, 131072),
    "HuggingFaceTB/SmolLM2-135M-Instruct": ModelShape("llama", 576, 30, 9, 3, 1536, 49152, True,
                                                      max_position_embeddings=8192),
}


def known_shape(name: str) -> ModelShape | None:
    """A known shape by Hub id or by its name without the organisation (a recipes/<model>/ folder name)."""
    lowered = name.lower().removesuffix("-instruct")  # smollm2-135m is the embedded name of SmolLM2-135M-Instruct
    for key, shape in KNOWN_SHAPES.items():
        key = key.lower().removesuffix("-instruct")
        if lowered in (key, key.split("/")[-1]):
            return shape
    return None


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    heads = config["num_attention_heads"]
    return ModelShape(
        model_type=config.get("model_type", "llama"), hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"], num_heads=heads,
        num_kv_heads=config.get("num_key_value_heads") or heads, intermediate_size=config["intermediate_size"],
        vocab_size=config["vocab_size"], tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        head_dim=config.get("head_dim"), qkv_bias=config.get("model_type") == "qwen2",
        max_position_embeddings=config.get("max_position_embeddings", 32768))
