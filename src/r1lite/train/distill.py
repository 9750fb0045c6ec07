"""`r1lite distill`: on-policy distillation (GKD, Agarwal et al. 2024) on TRL's DistillationTrainer: the student
samples its own completions and learns the teacher's next-token distribution on every token of them.

Read top to bottom: TeacherArgs and DistillRecipe (its sections and validate()), the tokenizer check, the vocabulary
alignment, build_trainer, run, cli.

    cli(argv): runtime.load_training_recipe(DistillRecipe) (YAML + overrides -> validate(): the teacher's tokenizer
      read from its files and compared with the student's, before any weights load) -> run(recipe):
      runtime.start_training (output folder, resume policy, run record)
      -> build_trainer: both tokenizers loaded and compared -> prompts (data.py, as GRPO's)
         -> trl.DistillationConfig(recipe.trainer) -> student (models.load_model, LoRA by the trainer) and teacher
         (models.load_inference_model: anything r1lite loads, adapter folders merged) -> vocabularies aligned when
         only padded rows differ -> DistillationTrainer; with teacher.server_url instead, TRL's experimental
         ServerDistillationTrainer asks a vLLM server for the teacher's log-probs
         -> completion_log: every sampled completion graded (scoring:) into completions.jsonl, `accuracy` metric
      -> runtime.train_and_save: train() (resuming when asked) -> save -> [push]

beta (0 forward KL, 0.5 JSD, 1 reverse KL, TRL's default), temperature, max_completion_length, use_vllm (the
student's sampling) and report_to are TRL fields of the trainer: section, passed through unchanged.
Teacher and student must share a tokenizer; for two tokenizers use TRL's GOLD (trl.experimental.gold).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite import data, models
from r1lite.data import DataArgs, check_data, check_formats
from r1lite.grading import ScoringArgs
from r1lite.models import ModelArgs, check_dtype, check_model, check_model_name, check_model_path, resolve
from r1lite.recipe import ConfigError, check_positive, trainer_section, trainer_value
from r1lite.train import checkpoints, completion_log, runtime

log = logging.getLogger("r1lite")

# trainer: fields TRL uses to load a teacher itself; r1lite loads it (GGUF, adapter folders, ...) from teacher:
TEACHER_FIELDS = {"teacher_model_name_or_path": "teacher.model_name_or_path",
                  "teacher_model_revision": "teacher.model_revision",
                  "teacher_model_init_kwargs": "teacher.dtype / teacher.attn_implementation",
                  "teacher_model_server_url": "teacher.server_url"}
SERVER_FIELDS = ("loss_top_k", "loss_add_tail", "reverse_kl_top_1_mode")  # ServerDistillationConfig's own
GOLD = "TRL's GOLD trainer (trl.experimental.gold.GOLDTrainer) distils across tokenizers"


@dataclass
class TeacherArgs:
    """The model whose next-token distributions the student learns: loaded locally, or served by vLLM."""

    model_name_or_path: str | None = None  # a Hub id, a local folder (an earlier stage's output; a LoRA adapter
    # folder loads merged into its base), a .gguf file, an embedded name (smollm2-135m) or tiny:<arch>
    model_revision: str = "main"
    dtype: str | None = "auto"  # "auto": bf16 on a GPU, fp32 on CPU
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    server_url: str | None = None  # a vLLM server serving the teacher (TRL's experimental server distillation:
    # top-k log-probs over HTTP, needs vLLM installed); model_name_or_path then only names it for the tokenizer check

    def validate(self, where: str = "teacher") -> None:
        if self.server_url:
            if importlib.util.find_spec("vllm") is None:
                raise ConfigError(f"{where}.server_url: a served teacher goes through TRL's server distillation, "
                                  "whose client needs vLLM, which is not installed (pip install vllm); or load the "
                                  f"teacher here with {where}.model_name_or_path and no server_url")
        else:
            check_model_name(self.model_name_or_path, f"{where}.model_name_or_path")
        if self.model_name_or_path:
            check_model_path(self.model_name_or_path, f"{where}.model_name_or_path")
        check_dtype(self.dtype, f"{where}.dtype")


@dataclass
class DistillRecipe:
    model: ModelArgs = field(default_factory=ModelArgs)  # the student
    teacher: TeacherArgs = field(default_factory=TeacherArgs)  # the model to distil from (required)
    data: DataArgs = field(default_factory=DataArgs)  # prompts, as GRPO's (an answer column lets scoring grade)
    scoring: ScoringArgs = field(default_factory=ScoringArgs)  # grades the student's samples in completions.jsonl
    trainer: dict[str, Any] = trainer_section("distill")  # noqa: RUF009 - a dataclasses.field
    overwrite_output_dir: bool = False

    def validate(self) -> None:
        check_model(self.model)
        self.teacher.validate()
        check_formats(self.data, "distill")
        check_data(self.data, need_answer=False)
        self.scoring.validate()
        for name in ("max_completion_length", "per_device_train_batch_size", "gradient_accumulation_steps"):
            check_positive(f"trainer.{name}", trainer_value(self, name))
        beta = trainer_value(self, "beta")
        if not 0 <= beta <= 1:
            raise ConfigError(f"trainer.beta: {beta} is not a divergence; allowed values: 0 (forward KL) to 1 "
                              "(reverse KL), 0.5 is the JSD")
        for name, where in TEACHER_FIELDS.items():
            if name in self.trainer:
                raise ConfigError(f"trainer.{name}: r1lite loads the teacher itself; set {where} instead")
        if not self.teacher.server_url:
            for name in SERVER_FIELDS:
                if name in self.trainer:
                    raise ConfigError(f"trainer.{name}: only for a served teacher (teacher.server_url)")
        if self.teacher.model_name_or_path:
            check_same_tokenizer(tokenizer_vocab(self.model.model_name_or_path),
                                 tokenizer_vocab(self.teacher.model_name_or_path),
                                 self.model.model_name_or_path, self.teacher.model_name_or_path)
        checkpoints.check_resume(self.trainer)


Recipe = DistillRecipe  # the stage contract (cli.COMMANDS): Recipe, run, cli


# ---------------------------------------------------------------------------------------------------------------------
# one tokenizer for both


def tokenizer_vocab(name: str) -> dict[str, int] | None:
    """token -> id of a model's tokenizer, read from its tokenizer.json without loading anything (r1lite's training
    outputs, adapter folders included, hold one); None when that can't be done offline and cheaply (a Hub id, a GGUF
    not converted yet, tiny:<arch>, which all share one)."""
    try:
        source = resolve(name)
    except ValueError:
        return None
    folder = Path(source.path)
    if source.kind == "gguf":
        folder = models.cache_dir() / "models" / Path(source.gguf_file).stem  # models.materialize's conversion
    elif source.kind != "folder":
        return None
    try:
        spec = json.loads((folder / "tokenizer.json").read_text())
    except (OSError, ValueError):
        return None
    vocab = spec.get("model", {}).get("vocab") or {}
    if isinstance(vocab, list):  # Unigram: [piece, score] in id order
        vocab = {piece: i for i, (piece, _) in enumerate(vocab)}
    return {**vocab, **{t["content"]: t["id"] for t in spec.get("added_tokens", [])}}


def check_same_tokenizer(student: dict[str, int] | None, teacher: dict[str, int] | None, student_name: str,
                         teacher_name: str) -> None:
    """The loss compares the two next-token distributions id by id: the same id must be the same token in both."""
    if student is None or teacher is None or student == teacher:
        return
    teacher_by_id, student_by_id = {i: t for t, i in teacher.items()}, {i: t for t, i in student.items()}
    differ = sorted(i for i in set(teacher_by_id) | set(student_by_id) if teacher_by_id.get(i) != student_by_id.get(i))
    example = differ[0]
    raise ConfigError(f"teacher.model_name_or_path: {teacher_name} and the student {student_name} have different "
                      f"tokenizers ({len(differ)} ids differ; id {example} is {student_by_id.get(example)!r} for the "
                      f"student, {teacher_by_id.get(example)!r} for the teacher); on-policy distillation compares "
                      f"the two distributions id by id; {GOLD}")


# ---------------------------------------------------------------------------------------------------------------------
# padded vocabularies: same tokenizer, different numbers of embedding rows (Qwen2.5-1.5B 151,936 vs 7B 152,064)

MASKED_LOGIT = -1e4  # exp() underflows to 0, yet every divergence term stays finite (-inf gives 0 x inf = nan)


def align_vocabulary(teacher: Any, student_rows: int, real_rows: int) -> None:
    """Give the frozen teacher an LM head with the student's row count: the tokenizer's `real_rows` rows are the
    teacher's own, the rest (padding no tokenizer id reaches) score MASKED_LOGIT, so they get no probability."""
    import torch

    weight, bias = full_head(teacher.get_output_embeddings())
    aligned = torch.nn.Linear(weight.shape[1], student_rows, bias=True, dtype=weight.dtype, device=weight.device)
    with torch.no_grad():
        aligned.weight.zero_()
        aligned.weight[:real_rows] = weight[:real_rows]
        aligned.bias.fill_(MASKED_LOGIT)
        aligned.bias[:real_rows] = 0.0 if bias is None else bias[:real_rows]
    aligned.requires_grad_(False)
    config = teacher.config.get_text_config()
    config.tie_word_embeddings = teacher.config.tie_word_embeddings = False  # the new head is its own
    teacher.set_output_embeddings(aligned)
    config.vocab_size = student_rows  # what TRL compares


def full_head(head: Any) -> tuple[Any, Any]:
    """An LM head's weight and bias as full tensors: gathered when DeepSpeed ZeRO-3 partitioned them at load."""
    params = [p for p in (head.weight, head.bias) if p is not None]
    if not hasattr(head.weight, "ds_id"):
        return head.weight.detach(), None if head.bias is None else head.bias.detach()
    import deepspeed

    with deepspeed.zero.GatheredParameters(params):
        return tuple(None if p is None else p.detach().clone() for p in (head.weight, head.bias))


def mask_padding(head: Any, rows: int, real_rows: int) -> None:
    """The student's padding rows score MASKED_LOGIT in this process, through a bias that is never saved (a
    non-persistent buffer): it samples only real tokens, and the loss sees its distribution over them. Its
    padding rows get no gradient, so the saved model keeps them as they were."""
    import torch

    if head.bias is not None:
        raise ConfigError("model: the student's LM head has a bias; distilling across padded vocabularies needs a "
                          "bias-free head (Qwen, Llama, ...): use a teacher with the student's vocab_size")
    mask = torch.zeros(rows, dtype=head.weight.dtype, device=head.weight.device)
    mask[real_rows:] = MASKED_LOGIT
    del head.bias
    head.register_buffer("bias", mask, persistent=False)


def fit_vocabularies(student: Any, teacher: Any, tokenizer: Any, generation_kwargs: dict[str, Any] | None,
                     use_vllm: bool) -> dict[str, Any] | None:
    """Same tokenizer, different embedding row counts (padding past the tokenizer, as Qwen2.5-1.5B's 151,936 vs
    7B's 152,064): TRL's loss reads both LM heads' weights and wants one row count. Rather than resize the student
    (it is saved and pushed), the teacher's head takes the student's shape, and both mask the rows past the
    tokenizer, so the divergence is exactly the one between the two distributions over the real vocabulary.
    Returns the trainer's generation_kwargs (vLLM samples from its own weight copy: it is told the real ids)."""
    student_rows = student.config.get_text_config().vocab_size  # (weights may be ZeRO-3 partitions)
    teacher_rows = teacher.config.get_text_config().vocab_size
    real_rows = len(tokenizer)
    if student_rows == teacher_rows:
        return generation_kwargs
    if real_rows > min(student_rows, teacher_rows):
        raise ConfigError(f"teacher: the tokenizer has {real_rows} tokens, more than the model's {student_rows} "
                          f"(student) or {teacher_rows} (teacher) embedding rows")
    log.info("student has %d vocabulary rows, teacher %d: distilling over the tokenizer's %d real tokens",
             student_rows, teacher_rows, real_rows)
    align_vocabulary(teacher, student_rows, real_rows)
    if student_rows == real_rows:
        return generation_kwargs
    mask_padding(student.get_output_embeddings(), student_rows, real_rows)
    return {**(generation_kwargs or {}), "allowed_token_ids": list(range(real_rows))} if use_vllm else \
        generation_kwargs


# ---------------------------------------------------------------------------------------------------------------------
# the trainer


def build_trainer(recipe: DistillRecipe, output_dir: Path) -> Any:
    """The DistillationTrainer (or, for a served teacher, ServerDistillationTrainer) of a recipe, ready to train."""
    import torch
    from trl import DistillationConfig, DistillationTrainer, get_peft_config

    on_gpu = torch.cuda.is_available() and not recipe.trainer.get("use_cpu")
    models.check_model_loading(recipe.model, recipe.trainer, on_gpu=on_gpu)
    student, teacher = recipe.model, recipe.teacher
    tokenizer = models.load_tokenizer(student.model_name_or_path, student.model_revision, student.trust_remote_code)
    if teacher.model_name_or_path:  # tokenizers first: a mismatch fails before any weights load
        teacher_tokenizer = models.load_tokenizer(teacher.model_name_or_path, teacher.model_revision,
                                                  teacher.trust_remote_code)
        check_same_tokenizer(tokenizer.get_vocab(), teacher_tokenizer.get_vocab(), student.model_name_or_path,
                             teacher.model_name_or_path)
    prompts = data.to_prompts(data.load_problems(recipe.data), recipe.data, tokenizer)
    kwargs = runtime.trainer_kwargs(recipe, output_dir)
    kwargs.pop("model_init_kwargs", None)  # applied by models.load_model
    # the config before the models: under ZeRO-3 it makes from_pretrained load them partitioned
    if teacher.server_url:
        from trl.experimental.server_distillation import ServerDistillationConfig, ServerDistillationTrainer

        args = trainer_config(ServerDistillationConfig, kwargs, teacher_model_server_url=teacher.server_url)
    else:
        args = trainer_config(DistillationConfig, kwargs)
    model = models.load_model(student, init_kwargs=recipe.trainer.get("model_init_kwargs"))
    common = {"model": model, "args": args, "train_dataset": prompts, "processing_class": tokenizer,
              "peft_config": get_peft_config(student), "callbacks": [runtime.metrics_callback(output_dir)]}
    if teacher.server_url:
        trainer = ServerDistillationTrainer(**common)
    else:
        teacher_model = models.load_inference_model(teacher.model_name_or_path, teacher.dtype,
                                                    trust_remote_code=teacher.trust_remote_code,
                                                    revision=teacher.model_revision,
                                                    attn_implementation=teacher.attn_implementation)
        args.generation_kwargs = fit_vocabularies(model, teacher_model, tokenizer, args.generation_kwargs,
                                                  args.use_vllm)
        trainer = DistillationTrainer(teacher_model=teacher_model, **common)
    completion_log.record_completions(trainer, output_dir, recipe.scoring.timeout_s, recipe.scoring.num_workers)
    return trainer


def trainer_config(cls: type, kwargs: dict[str, Any], **extra: Any) -> Any:
    """TRL's config class built from the trainer: section; its own __post_init__ checks reported as ours."""
    try:
        return cls(**kwargs, **extra)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trainer: {e}") from e


def run(recipe: DistillRecipe) -> Path:
    """Distil the teacher into the student as the recipe says; returns the output folder (model or adapter, logs,
    checkpoints)."""
    output_dir, resume, repo_id = runtime.start_training("distill", recipe)
    trainer = build_trainer(recipe, output_dir)
    return runtime.train_and_save("distill", trainer, recipe, output_dir, resume, repo_id)


def cli(argv: list[str]) -> int:
    """`r1lite distill [--config R] [--field value ...]`."""
    recipe = runtime.load_training_recipe(DistillRecipe, argv)
    runtime.say_finished("distill", run(recipe))
    return 0
