"""Hugging Face Hub uploads: a trained model with its model card, a generated dataset with its dataset card.

Only what a user of the model or data needs goes up. A training folder also holds the run's own records
(completions.jsonl, metrics.jsonl, run.json, the resolved recipe, which may hold hub_token, and training_args.bin,
which pickles it): those stay local. r1lite pushes once, after the final save, so the tokenizer on the Hub is the
one saved in the folder; the repository is created before training so a missing token fails in seconds, not hours.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from r1lite.models.model_names import EMBEDDED, resolve

log = logging.getLogger("r1lite")

MODEL_IGNORE = ["completions*.jsonl", "metrics.jsonl", "run.json", "resolved_recipe.yaml", "training_args.bin",
                ".r1lite.lock", "checkpoint-*", "checkpoint-*/**", "runs/**", "_*"]


def hub_origin(name: str | None, depth: int = 0) -> str | None:
    """The Hub id a model started from: a Hub id itself, the source of an embedded model, and for a local folder
    the model its r1lite run started from (resolved_recipe.yaml) or an adapter's base. None when there is none
    (tiny:<arch>, a local file with no record)."""
    if not name or depth > 16:
        return None
    if name in EMBEDDED:
        return EMBEDDED[name][2]
    try:
        source = resolve(name)
    except ValueError:
        return None
    if source.kind == "hub":
        return name
    folder = Path(name)
    if source.kind != "folder":
        return None
    if (folder / "resolved_recipe.yaml").is_file():
        import yaml

        model = (yaml.safe_load((folder / "resolved_recipe.yaml").read_text()) or {}).get("model")
        return hub_origin(model.get("model_name_or_path") if isinstance(model, dict) else model, depth + 1)
    if (folder / "adapter_config.json").is_file():
        base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return hub_origin(base, depth + 1)
    return None


def create_model_repo(trainer_fields: dict[str, Any], output_dir: Path) -> str:
    """Create (or reuse) the model repository named by trainer.hub_model_id (default: the output folder's name),
    before training. Returns its repo id."""
    from huggingface_hub import HfApi

    from r1lite.recipe import ConfigError

    strategy = trainer_fields.get("hub_strategy")
    if strategy not in (None, "end"):
        raise ConfigError(f"trainer.hub_strategy: {strategy!r}; r1lite pushes the final model once, after training "
                          "(checkpoints hold the run's logs); allowed values: end")
    api = HfApi(token=trainer_fields.get("hub_token"))
    repo = api.create_repo(trainer_fields.get("hub_model_id") or output_dir.name,
                           private=trainer_fields.get("hub_private_repo"), exist_ok=True)
    return repo.repo_id


def write_model_card(trainer: Any, recipe: Any, repo_id: str, output_dir: Path) -> Path:
    """TRL's model card, with base_model the Hub model the run started from (TRL would take r1lite's local copy)."""
    from trl.trainer.utils import generate_model_card

    from r1lite.data import SYNTHETIC, is_local

    hub_sources = [s.path for s in recipe.data.sources if not s.path.startswith(SYNTHETIC) and not is_local(s.path)]
    paper = getattr(trainer, "_paper", {}) or {}
    card = generate_model_card(
        base_model=hub_origin(recipe.model.model_name_or_path), model_name=repo_id.split("/")[-1],
        hub_model_id=repo_id, dataset_name=hub_sources[0] if hub_sources else None, tags=["r1lite"],
        wandb_url=None, trackio_url=None, trainer_name=getattr(trainer, "_name", "Trainer"),
        trainer_citation=paper.get("citation"), template_file=getattr(trainer, "_template_file", None),
        paper_title=paper.get("title"), paper_id=paper.get("id"))
    path = output_dir / "README.md"
    card.save(str(path))
    return path


def push_model(trainer: Any, recipe: Any, repo_id: str, output_dir: Path, stage: str) -> None:
    """Upload the saved model, tokenizer and model card; never the run's records (MODEL_IGNORE)."""
    from huggingface_hub import HfApi

    write_model_card(trainer, recipe, repo_id, output_dir)
    api = HfApi(token=recipe.trainer.get("hub_token"))
    api.upload_folder(repo_id=repo_id, folder_path=str(output_dir), commit_message=f"r1lite {stage}: final model",
                      revision=recipe.trainer.get("hub_revision"), ignore_patterns=MODEL_IGNORE)
    log.info("pushed %s to https://huggingface.co/%s", output_dir, repo_id)


# ---------------------------------------------------------------------------------------------------------------------
# datasets (r1lite generate)


def dataset_card(stats: dict[str, Any], recipe: Any) -> str:
    """A dataset card saying how the traces were made: teacher, sampling, filters, accept rate, decontamination, cost."""
    import yaml

    t, s, d = recipe.teacher, recipe.sampling, recipe.decontamination
    decontam = stats.get("decontamination") or {}
    rate = stats.get("accepted_rate")
    benchmarks = ", ".join(decontam.get("benchmarks", {})) or "all"
    decontamination = (f"{d.ngram}-gram overlap against {benchmarks} benchmarks: {decontam.get('removed', 0)} problems "
                       "removed") if d.enabled else "off"
    header = {"tags": ["r1lite", "reasoning", "synthetic", "distillation"],
              "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]}
    lines = [
        "---", yaml.safe_dump(header, sort_keys=False).strip(), "---", "",
        f"# Reasoning traces from {recipe.model.model_name_or_path}", "",
        (f"Generated with r1lite's `generate`: {stats['accepted']} verified traces for "
         f"{stats.get('prompts_with_accepted', '?')} of {stats['prompts']} problems."), "",
        "| | |", "|---|---|",
        f"| teacher | `{recipe.model.model_name_or_path}` ({t.backend}) |",
        f"| source data | {', '.join(f'`{src.path}`' for src in recipe.data.sources)} |",
        f"| sampling | n={s.n}, temperature={s.temperature}, top_p={s.top_p}, max_new_tokens={s.max_new_tokens} |",
        f"| filters | {json.dumps(dataclasses.asdict(recipe.filters))} |",
        (f"| accept rate | {stats['accepted']} of {stats['requests']} samples"
         f" ({'-' if rate is None else f'{100 * rate:.1f}%'}) |"),
        f"| decontamination | {decontamination} |",
        (f"| cost | ${stats['cost_usd']:.2f} ({stats['prompt_tokens']} prompt + {stats['completion_tokens']} "
         f"completion tokens at ${stats['prices_per_million']['input']} / ${stats['prices_per_million']['output']}"
         " per million) |"),
        "",
        ("Each row: `messages` (the user turn as the teacher saw it, the verified assistant turn), `problem`, "
         "`answer`, `teacher`, `finish_reason`, token counts. Traces from a commercial API may carry its terms of use."),
    ]
    return "\n".join(lines) + "\n"


def push_dataset(data_files: str, repo_id: str, stats: dict[str, Any], recipe: Any) -> int:
    """Push the generated shards as a private Hub dataset, then its dataset card. Returns the row count."""
    import datasets
    from huggingface_hub import HfApi

    ds = datasets.load_dataset("json", data_files=data_files, split="train")
    ds.push_to_hub(repo_id, private=True)  # private: traces from a commercial API may carry terms of use
    HfApi().upload_file(path_or_fileobj=dataset_card(stats, recipe).encode(), path_in_repo="README.md",
                        repo_id=repo_id, repo_type="dataset", commit_message="r1lite generate: dataset card")
    return len(ds)
