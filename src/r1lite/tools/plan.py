"""`r1lite plan`: will a recipe fit on these GPUs, what is the biggest memory term, how long and how much?

    r1lite plan --config R --gpu rtx4090|rtx3090|a100-40g|a100-80g|h100|h800 --num_gpus N
                [--strategy none|ddp|zero1|zero2|zero3|fsdp | --accelerate_config F] [--json]
                [--price_per_gpu_hour X] [--tokens_per_s X] [--gen_tokens_per_s X] [--field value ...]

Per-GPU memory is the sum of named terms, each a plain formula over the model's shape (read from config.json for a
local folder, else from models.KNOWN_SHAPES: the Hub is not reachable offline) and the recipe's settings:

    weights      P x bytes(dtype or quantization)                 / N under ZeRO-3 / FSDP
    gradients    T x bytes                                         / N under ZeRO-2+ (T: trainable parameters)
    optimizer    Adam: fp32 master (DeepSpeed/FSDP) + 2 moments    / N under ZeRO-1+ (8-bit Adam: 1-byte moments)
    activations  per token per layer (7h + 2 kv + 4 i) x 2 bytes; with checkpointing only each layer's input is kept
                 plus one layer recomputed at a time; attention is fused (SDPA/flash: no s^2 term) and TRL's chunked
                 LM head never materialises full logits
    reference    a bf16 copy of the weights when beta > 0 (none with LoRA: the adapter is disabled instead)
    teacher      distill: the frozen teacher's bf16 weights, / N under ZeRO-3 / FSDP (its forward: +2 x its params FLOPs)
    vLLM         colocate: the vllm_gpu_memory_utilization share (its weights + KV cache); released while training
                 with vllm_enable_sleep_mode; server mode: on other GPUs
    overhead     CUDA context and allocator slack, a constant

LoRA adapters are kept in fp32 by PEFT (so 16 bytes per trainable parameter); a plain single-GPU/DDP run on a bf16
model keeps Adam's moments in bf16 (8 bytes/param), DeepSpeed and FSDP keep an fp32 master copy (16 bytes/param).
Throughput and price are stated assumptions (peak TFLOPS x MFU, memory bandwidth), overridable on the command line.

recipe -> setup_from_recipe (a Setup) + model_shape -> estimate_memory (terms, peak) -> cheapest_fix when it does not
fit; assumed_throughput x workload (tokens over the run) -> GPU-hours and cost: make_plan, all as plain data, which
plan_cli prints as a table or JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1lite.data import dataset_rows
from r1lite.models import KNOWN_SHAPES, TINY_ARCHS, ModelShape, known_shape, shape_from_config
from r1lite.recipe import ConfigError, trainer_value

GIB = 1024**3


def model_shape(name: str, recipe_path: str | Path | None = None) -> ModelShape:
    """The shape of a model: a local folder's config.json, a tiny:<arch>, a known Hub id; a model that is an earlier
    stage's output (runs/...) is known by the recipe's folder, recipes/<model>/<method>/x.yaml."""
    from r1lite import models

    folder = Path(name).expanduser()
    if (folder / "config.json").is_file():
        return shape_from_config(json.loads((folder / "config.json").read_text()))
    if (folder / "adapter_config.json").is_file():
        return model_shape(json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"])
    if name.startswith("tiny:") and name[5:] in TINY_ARCHS:
        return shape_from_config({"model_type": name[5:], "vocab_size": len(models.tiny_tokenizer()),
                                  **TINY_ARCHS[name[5:]]})
    found = known_shape(name)
    if found is None and recipe_path is not None and len(Path(recipe_path).parts) >= 3:
        found = known_shape(Path(recipe_path).parts[-3])
    if found is None:
        raise ConfigError(f"model.model_name_or_path: the shape of {name!r} is unknown offline; known models: "
                          f"{', '.join(KNOWN_SHAPES)} (or pass a local folder holding config.json)")
    return found


# ---------------------------------------------------------------------------------------------------------------------
# GPUs


@dataclass(frozen=True)
class GPU:
    memory_gib: float  # as torch.cuda.get_device_properties reports it
    bf16_tflops: float  # dense peak with fp32 accumulation
    bandwidth_gbs: float  # HBM/GDDR bandwidth
    price_per_hour: float  # assumed on-demand cloud price, USD


GPUS = {
    "rtx3090": GPU(23.7, 71, 936, 0.25),
    "rtx4090": GPU(23.6, 165, 1008, 0.40),
    "a100-40g": GPU(39.4, 312, 1555, 1.30),
    "a100-80g": GPU(79.2, 312, 2039, 1.80),
    "h100": GPU(79.1, 989, 3350, 2.50),
    "h800": GPU(79.1, 989, 3350, 2.50),
}
STRATEGIES = ("none", "ddp", "zero1", "zero2", "zero3", "fsdp")
MFU = 0.35  # assumed model-FLOPs utilisation of training
DECODE_EFFICIENCY = 0.5  # assumed share of memory bandwidth a vLLM decode step achieves
HF_GENERATE_SLOWDOWN = 0.2  # HF generate (padded static batches) vs vLLM, assumed
OVERHEAD_GIB = 1.0  # CUDA context + allocator fragmentation


# ---------------------------------------------------------------------------------------------------------------------
# memory


@dataclass(frozen=True)
class Setup:
    """What the memory estimate depends on besides the model's shape."""

    num_gpus: int = 1
    strategy: str = "none"  # none | ddp | zero1 | zero2 | zero3 | fsdp
    lora_r: int | None = None  # None: full fine-tuning
    lora_targets: tuple[str, ...] | str | None = "all-linear"
    weight_bytes: float = 2.0  # bf16; 4 fp32; 1 8-bit; ~0.5 4-bit (QLoRA)
    master_weights: bool | None = None  # fp32 master copy; None: yes under DeepSpeed/FSDP, or an fp32 model
    optimizer_8bit: bool = False
    micro_batch: int = 1  # per_device_train_batch_size
    seq_len: int = 1024  # tokens per training sequence (GRPO: prompt + completion)
    gradient_checkpointing: bool = True
    ref_model: bool = False  # beta > 0
    generation: str = "none"  # none (SFT) | hf | colocate | server
    vllm_gpu_memory_utilization: float = 0.3
    vllm_sleep: bool = False
    vllm_tensor_parallel_size: int = 1
    gen_sequences: int = 0  # sequences generated at once per GPU
    gpu_memory_gib: float = 80.0
    teacher_params: int = 0  # distill: the frozen teacher's parameters, in bf16 (0: none, or served elsewhere)

    def sharding(self) -> int:
        """0 none/DDP, 1 optimizer, 2 + gradients, 3 + weights."""
        return {"zero1": 1, "zero2": 2, "zero3": 3, "fsdp": 3}.get(self.strategy, 0)


def estimate_memory(shape: ModelShape, setup: Setup) -> dict[str, Any]:
    """Per-GPU bytes by term, the peak, whether it fits and the largest term."""
    n, stage = max(setup.num_gpus, 1), setup.sharding()
    params = shape.num_params
    lora = setup.lora_r is not None
    trainable = shape.lora_params(setup.lora_r, setup.lora_targets) if lora else params
    master = setup.master_weights if setup.master_weights is not None else (
        stage > 0 and setup.strategy != "ddp" or setup.weight_bytes >= 4)
    # bytes per trainable parameter: PEFT keeps adapters in fp32; a full model trains in its own dtype
    train_w = 4.0 if lora else setup.weight_bytes
    moment = 1.0 if setup.optimizer_8bit else (4.0 if master or lora else train_w)
    optimizer_per_param = 2 * moment + (4.0 if master and not lora and train_w < 4 else 0.0)

    weights = params * setup.weight_bytes + (trainable * train_w if lora else 0)
    terms = {
        "weights": weights / (n if stage >= 3 else 1),
        "gradients": trainable * train_w / (n if stage >= 2 else 1),
        "optimizer": trainable * optimizer_per_param / (n if stage >= 1 else 1),
    }
    tokens = setup.micro_batch * setup.seq_len
    act_bytes = 2  # bf16 autocast
    per_layer = shape.activation_elems_per_token_layer() * act_bytes
    full = tokens * per_layer * shape.num_layers
    checkpointed = tokens * (shape.hidden_size * act_bytes * shape.num_layers + per_layer)
    terms["activations"] = checkpointed if setup.gradient_checkpointing else full
    terms["reference_model"] = params * 2 / (n if stage >= 3 else 1) if setup.ref_model and not lora else 0.0
    terms["teacher"] = setup.teacher_params * 2 / (n if stage >= 3 else 1)

    vllm_weights = params * 2 / max(setup.vllm_tensor_parallel_size, 1)
    kv_needed = setup.gen_sequences * setup.seq_len * shape.kv_bytes_per_token()
    if setup.generation == "colocate":
        share = setup.vllm_gpu_memory_utilization * setup.gpu_memory_gib * GIB
        terms["vllm"] = share
        kv_capacity = max(share - vllm_weights, 0.0)
    elif setup.generation == "hf":
        terms["kv_cache"] = kv_needed  # HF generate allocates the whole batch's cache
        kv_capacity = kv_needed
    else:
        kv_capacity = 0.0
    terms["overhead"] = OVERHEAD_GIB * GIB

    static = sum(terms[k] for k in ("weights", "gradients", "optimizer", "reference_model", "teacher", "overhead"))
    generation = terms.get("vllm", 0.0) + terms.get("kv_cache", 0.0)
    training = terms["activations"] + (0.0 if setup.vllm_sleep else terms.get("vllm", 0.0))
    peak = static + max(training, generation)
    largest = max((k for k in terms if k != "overhead"), key=lambda k: terms[k])
    return {
        "terms": terms,
        "peak": peak,
        "capacity": setup.gpu_memory_gib * GIB,
        "fits": peak <= setup.gpu_memory_gib * GIB,
        "largest": largest,
        "params": params,
        "trainable_params": trainable,
        "master_weights": bool(master and not lora),
        "activations_without_checkpointing": full,
        "activations_with_checkpointing": checkpointed,
        "kv_cache_capacity_tokens": int(kv_capacity / shape.kv_bytes_per_token()),
        "kv_cache_needed_tokens": setup.gen_sequences * setup.seq_len,
    }


# the changes `plan` tries, cheapest first: (name, how to ask for it, what it does to the setup)
def _halve_batch(setup: Setup) -> Setup | None:
    return dataclasses.replace(setup, micro_batch=setup.micro_batch // 2) if setup.micro_batch > 1 else None


CHANGES: list[tuple[str, Any]] = [
    ("vLLM sleep mode (--vllm_enable_sleep_mode true)",
     lambda s: dataclasses.replace(s, vllm_sleep=True) if s.generation == "colocate" and not s.vllm_sleep else None),
    ("halve the micro batch, double gradient_accumulation_steps (same effective batch)", _halve_batch),
    ("gradient checkpointing (--gradient_checkpointing true)",
     lambda s: dataclasses.replace(s, gradient_checkpointing=True) if not s.gradient_checkpointing else None),
    ("ZeRO-2 (configs/accelerate/zero2.yaml)",
     lambda s: dataclasses.replace(s, strategy="zero2") if s.num_gpus > 1 and s.sharding() < 2 else None),
    ("ZeRO-3 (configs/accelerate/zero3.yaml or fsdp.yaml)",
     lambda s: dataclasses.replace(s, strategy="zero3") if s.num_gpus > 1 and s.sharding() < 3 else None),
    ("8-bit Adam (--optim adamw_bnb_8bit)",
     lambda s: dataclasses.replace(s, optimizer_8bit=True) if not s.optimizer_8bit else None),
    ("LoRA r=16 (--use_peft true --lora_r 16 --lora_target_modules all-linear)",
     lambda s: dataclasses.replace(s, lora_r=16, lora_targets="all-linear") if s.lora_r is None else None),
    ("4-bit base weights, QLoRA (--load_in_4bit true)",
     lambda s: dataclasses.replace(s, weight_bytes=0.55) if s.lora_r is not None and s.weight_bytes > 1 else None),
]


def cheapest_fix(shape: ModelShape, setup: Setup) -> list[str] | None:
    """The first single change (cheapest first) that makes the setup fit; else the shortest prefix of changes
    applied together (micro batch halved as often as needed). None when nothing listed is enough."""
    for name, change in CHANGES:
        changed = change(setup)
        if changed is not None and estimate_memory(shape, changed)["fits"]:
            return [name]
    applied: list[str] = []
    current = setup
    for name, change in CHANGES:
        while (changed := change(current)) is not None:
            current = changed
            if name not in applied:
                applied.append(name)
            if estimate_memory(shape, current)["fits"]:
                return applied
            if change is not _halve_batch:
                break
    return None


# ---------------------------------------------------------------------------------------------------------------------
# throughput, tokens, time and cost


def train_flops_per_token(shape: ModelShape, setup: Setup) -> float:
    """6N for a full fine-tuning step (forward 2N, backward 4N); LoRA skips the weight gradients (4N); checkpointing
    recomputes the forward (+2N); a reference model adds a forward (+2N), a teacher its own forward."""
    n = shape.num_params
    flops = (4 if setup.lora_r is not None else 6) * n
    flops += 2 * n if setup.gradient_checkpointing else 0
    flops += 2 * n if setup.ref_model else 0
    flops += 2 * setup.teacher_params
    return flops


def assumed_throughput(shape: ModelShape, setup: Setup, gpu: GPU) -> dict[str, float]:
    """Tokens/s per GPU: training at MFU x peak; generation memory-bound (each decode step reads the weights once
    for all concurrent sequences, plus their KV cache), capped by compute."""
    train = MFU * gpu.bf16_tflops * 1e12 / train_flops_per_token(shape, setup)
    if setup.generation == "none":
        return {"train": train, "generate": 0.0}
    concurrent = max(setup.gen_sequences, 1)
    mean_context = setup.seq_len / 2  # contexts grow from the prompt to prompt + completion
    step_bytes = shape.num_params * 2 + concurrent * mean_context * shape.kv_bytes_per_token()
    step_s = step_bytes / (DECODE_EFFICIENCY * gpu.bandwidth_gbs * 1e9)
    generate = min(concurrent / step_s, MFU * gpu.bf16_tflops * 1e12 / (2 * shape.num_params))
    if setup.generation == "hf":
        generate *= HF_GENERATE_SLOWDOWN
    return {"train": train, "generate": generate}


@dataclass
class Workload:
    steps: int | None
    tokens_generate: float | None
    tokens_train: float | None
    note: str = ""


def workload(recipe: Any, stage: str, num_gpus: int, rows: int | None) -> Workload:
    """Tokens generated and trained over the run, upper bounds (every completion / sequence at its maximum length)."""
    per_device = trainer_value(recipe, "per_device_train_batch_size")
    global_batch = per_device * num_gpus * trainer_value(recipe, "gradient_accumulation_steps")
    grpo = stage == "grpo"
    # GRPO trains num_generations sequences per prompt, each generation batch num_iterations times
    iterations = trainer_value(recipe, "num_iterations") if grpo else 1
    sequences_per_row = trainer_value(recipe, "num_generations") * iterations if grpo else 1
    steps = trainer_value(recipe, "max_steps")
    if not steps or steps < 0:
        if rows is None:
            return Workload(None, None, None, "dataset size unknown offline: pass --max_steps N")
        steps = math.ceil(trainer_value(recipe, "num_train_epochs") * rows * sequences_per_row / global_batch)
    if stage == "sft":
        return Workload(steps, 0.0, steps * global_batch * (trainer_value(recipe, "max_length") or 1024))
    completion = trainer_value(recipe, "max_completion_length")
    fresh = global_batch / iterations  # each generation batch is reused num_iterations times
    seq = completion + (recipe.data.max_prompt_tokens or 512)
    return Workload(steps, steps * fresh * completion, steps * global_batch * seq)


# ---------------------------------------------------------------------------------------------------------------------
# a recipe -> a plan


def setup_from_recipe(recipe: Any, stage: str, gpu: GPU, num_gpus: int, strategy: str,
                      recipe_path: str | Path | None = None) -> Setup:
    model, t = recipe.model, recipe.trainer
    weight_bytes = {"float32": 4.0}.get(model.dtype, 2.0)
    if model.load_in_4bit:
        weight_bytes = 0.55  # nf4 + block scales
    elif model.load_in_8bit:
        weight_bytes = 1.0
    checkpointing = t.get("activation_checkpointing")
    if checkpointing is None:
        checkpointing = trainer_value(recipe, "gradient_checkpointing")
    common = {"num_gpus": num_gpus, "strategy": strategy, "lora_r": model.lora_r if model.use_peft else None,
              "lora_targets": model.lora_target_modules or "all-linear", "weight_bytes": weight_bytes,
              "optimizer_8bit": "8bit" in str(t.get("optim", "")),
              "micro_batch": trainer_value(recipe, "per_device_train_batch_size"),
              "gradient_checkpointing": bool(checkpointing), "gpu_memory_gib": gpu.memory_gib}
    if stage == "sft":
        return Setup(seq_len=trainer_value(recipe, "max_length") or 1024, **common)
    if stage == "distill" and not recipe.teacher.server_url:  # a served teacher runs on other GPUs
        common["teacher_params"] = model_shape(recipe.teacher.model_name_or_path, recipe_path).num_params
    per_device = common["micro_batch"]
    gen_global = t.get("generation_batch_size") or per_device * num_gpus * (
        t.get("steps_per_generation") or trainer_value(recipe, "gradient_accumulation_steps"))
    generation = trainer_value(recipe, "vllm_mode") if trainer_value(recipe, "use_vllm") else "hf"
    return Setup(seq_len=trainer_value(recipe, "max_completion_length") + (recipe.data.max_prompt_tokens or 512),
                 ref_model=stage == "grpo" and (trainer_value(recipe, "beta") or 0) > 0, generation=generation,
                 vllm_gpu_memory_utilization=trainer_value(recipe, "vllm_gpu_memory_utilization"),
                 vllm_sleep=bool(trainer_value(recipe, "vllm_enable_sleep_mode")),
                 vllm_tensor_parallel_size=trainer_value(recipe, "vllm_tensor_parallel_size") or 1,
                 gen_sequences=math.ceil(gen_global / num_gpus), **common)


def make_plan(recipe: Any, stage: str, gpu_name: str, num_gpus: int, strategy: str | None = None,
              recipe_path: str | None = None, price_per_gpu_hour: float | None = None,
              tokens_per_s: float | None = None, gen_tokens_per_s: float | None = None) -> dict[str, Any]:
    """Everything `r1lite plan` prints, as plain data."""
    if gpu_name not in GPUS:
        raise ConfigError(f"--gpu {gpu_name!r}; allowed values: {', '.join(GPUS)}")
    strategy = strategy or ("ddp" if num_gpus > 1 else "none")
    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy {strategy!r}; allowed values: {', '.join(STRATEGIES)}")
    gpu = GPUS[gpu_name]
    shape = model_shape(recipe.model.model_name_or_path, recipe_path)
    setup = setup_from_recipe(recipe, stage, gpu, num_gpus, strategy, recipe_path)
    memory = estimate_memory(shape, setup)
    rates = assumed_throughput(shape, setup, gpu)
    assumed = {"train": tokens_per_s is None, "generate": gen_tokens_per_s is None}
    rates = {"train": tokens_per_s or rates["train"], "generate": gen_tokens_per_s or rates["generate"]}
    work = workload(recipe, stage, num_gpus, dataset_rows(recipe.data))
    price = price_per_gpu_hour if price_per_gpu_hour is not None else gpu.price_per_hour
    gpu_hours = None
    if work.tokens_train is not None:
        seconds = work.tokens_train / rates["train"]  # GPU-seconds: tokens / per-GPU throughput
        seconds += work.tokens_generate / rates["generate"] if work.tokens_generate else 0.0
        gpu_hours = seconds / 3600
    return {
        "recipe": recipe_path, "stage": stage, "model": recipe.model.model_name_or_path,
        "model_type": shape.model_type, "gpu": gpu_name, "num_gpus": num_gpus, "strategy": strategy,
        "setup": dataclasses.asdict(setup),
        "memory_gib": {k: round(v / GIB, 2) for k, v in memory["terms"].items()},
        "peak_gib": round(memory["peak"] / GIB, 2), "capacity_gib": gpu.memory_gib,
        "fits": memory["fits"], "largest": memory["largest"],
        "params": memory["params"], "trainable_params": memory["trainable_params"],
        "master_weights": memory["master_weights"],
        "activations_gib": {"with_checkpointing": round(memory["activations_with_checkpointing"] / GIB, 2),
                            "without_checkpointing": round(memory["activations_without_checkpointing"] / GIB, 2)},
        "kv_cache_tokens": {"capacity": memory["kv_cache_capacity_tokens"],
                            "needed": memory["kv_cache_needed_tokens"]},
        "fix": None if memory["fits"] else cheapest_fix(shape, setup),
        "steps": work.steps, "tokens_generate": work.tokens_generate, "tokens_train": work.tokens_train,
        "workload_note": work.note,
        "tokens_per_s_per_gpu": {k: round(v) for k, v in rates.items()}, "throughput_assumed": assumed,
        "assumptions": {"mfu": MFU, "decode_bandwidth_efficiency": DECODE_EFFICIENCY,
                        "peak_bf16_tflops": gpu.bf16_tflops, "bandwidth_gbs": gpu.bandwidth_gbs,
                        "hf_generate_vs_vllm": HF_GENERATE_SLOWDOWN,
                        "lengths": "upper bound: every completion/sequence at its maximum length"},
        "gpu_hours": None if gpu_hours is None else round(gpu_hours, 1),
        "wall_hours": None if gpu_hours is None else round(gpu_hours / num_gpus, 1),
        "price_per_gpu_hour": price, "price_assumed": price_per_gpu_hour is None,
        "cost_usd": None if gpu_hours is None else round(gpu_hours * price, 2),
    }
