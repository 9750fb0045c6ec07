"""Your own TRL GRPOTrainer script with r1lite's rewards: they are plain TRL reward functions.

    python examples/trl_with_r1lite_rewards.py [MODEL] [--max_steps N]

MODEL is a Hub id (e.g. HuggingFaceTB/SmolLM2-135M-Instruct) or anything r1lite names (smollm2-135m, tiny:qwen2);
the default, tiny:qwen2, is a random 2-layer model that runs in seconds, to check the wiring.
"""

import argparse

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from r1lite.models import materialize
from r1lite.rewards import Accuracy, Format

parser = argparse.ArgumentParser()
parser.add_argument("model", nargs="?", default="tiny:qwen2")
parser.add_argument("--max_steps", type=int, default=1)
parser.add_argument("--output_dir", default="runs/trl-with-r1lite-rewards")
args = parser.parse_args()

# TRL's conversational format; `answer` reaches the accuracy reward as a keyword argument
dataset = Dataset.from_list([
    {"prompt": [{"role": "user", "content": f"What is {a} + {b}? Put the answer in \\boxed{{}}."}], "answer": str(a + b)}
    for a, b in [(2, 3), (7, 8), (12, 30), (41, 1)]
])
trainer = GRPOTrainer(
    model=materialize(args.model),  # a Hub id stays a Hub id; smollm2-135m / tiny:<arch> become a local folder
    reward_funcs=[Accuracy(timeout_s=5.0), Format(answer="boxed")],
    args=GRPOConfig(output_dir=args.output_dir, max_steps=args.max_steps, per_device_train_batch_size=4,
                    num_generations=2, max_completion_length=16, reward_weights=[1.0, 0.1], logging_steps=1,
                    report_to="none", bf16=False, use_cpu=True, activation_checkpointing=False),
    train_dataset=dataset,
)
trainer.train()
logged = next(row for row in reversed(trainer.state.log_history) if "rewards/accuracy/mean" in row)
print("rewards logged:", sorted(k for k in logged if k.startswith("rewards/")))
