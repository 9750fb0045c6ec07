"""r1lite: DeepSeek-R1-style reasoning training (GRPO, distillation SFT, evaluation) for small open models."""

__version__ = "0.1.0"
