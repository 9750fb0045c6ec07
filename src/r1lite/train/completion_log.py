"""The completions a distillation student samples, as the trainer generates them: each one appended to
completions.jsonl (completions.rank<N>.jsonl per process) with the step it was sampled at, graded against the prompt
row's answer when it has one, and the graded share logged as the `accuracy` metric (metrics.jsonl).

    distill.build_trainer -> record_completions(trainer, ...) -> runtime.train_and_save: train() -> each generation
    batch passes through it on its way to the loss
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from r1lite.grading import grade_batch
from r1lite.jsonl import append_jsonl


def record_completions(trainer: Any, output_dir: Path, timeout_s: float, num_workers: int | None) -> None:
    """Every completion the student samples goes to completions.jsonl (completions.rank<N>.jsonl per process) with
    the step it was sampled at and, where the prompt row has an answer, its grade (bounded by timeout_s);
    the graded share is logged as the `accuracy` metric: the student's own on-policy accuracy."""
    generate = trainer._generate_and_score_completions
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    path = output_dir / ("completions.jsonl" if world == 1 else f"completions.rank{rank}.jsonl")

    def generate_and_record(inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = generate(inputs)
        if not trainer.model.training:
            return output
        texts = trainer.processing_class.batch_decode(output["completion_ids"], skip_special_tokens=True)
        answers = [row.get("answer") for row in inputs]
        grades = grade_batch(texts, [None if a is None else str(a) for a in answers], timeout_s, num_workers,
                             anywhere=False)
        correct = [g.correct for g in grades]
        graded = [float(c) for c in correct if c is not None]
        if graded:
            trainer._metrics["train"]["accuracy"].append(sum(graded) / len(graded))
        step = trainer.state.global_step
        append_jsonl(path, [{"step": step, "prompt": _last_turn(row["prompt"]), "completion": text,
                             "answer": answer, "correct": ok}
                            for row, text, answer, ok in zip(inputs, texts, answers, correct)])
        return output

    trainer._generate_and_score_completions = generate_and_record


def _last_turn(prompt: Any) -> str:
    return prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)
