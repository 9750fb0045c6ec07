"""The training stages: `r1lite grpo` (grpo), `r1lite sft` (sft) and `r1lite distill` (distill) on TRL's
trainers; GRPO's difficulty filter (difficulty); checkpoints and resume (checkpoints); what a trainer stage does
around its trainer (runtime)."""

from r1lite.train.difficulty import SUMMARY

__all__ = ["SUMMARY"]
