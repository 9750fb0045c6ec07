"""The training stages: `r1lite grpo` (grpo) and `r1lite sft` (sft) on TRL's trainers; GRPO's difficulty filter
(difficulty); checkpoints and resume (checkpoints); what a trainer stage does around its trainer (runtime)."""

from r1lite.train.difficulty import SUMMARY

__all__ = ["SUMMARY"]
