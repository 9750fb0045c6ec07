"""Difficulty filtering: train GRPO only on prompts the starting policy solves sometimes, not always or never.

GRPO learns from groups whose rewards differ; a prompt the policy always (or never) solves gives a group of tied
rewards and zero advantage (TRL logs their share as `frac_reward_zero_std`). As DeepScaleR, Skywork-OR1 and Polaris
do before training: sample `num_samples` completions per training prompt from the starting policy with an eval
backend (hf, vllm, openai), grade them with the recipe's correctness reward, and keep the prompts whose pass rate
lies in the band.

Pass rates are appended, a chunk of prompts at a time, to a JSONL file keyed by the sampling settings and the
prompt: a killed pass resumes without re-sampling finished prompts, and a later run with the same settings (same
starting model, sampling, prompts) samples nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1lite.backends import BACKENDS, SamplingParams, check_backend_args, chunk_seed, make_backend, model_args
from r1lite.data import DataArgs, is_local, json_preview, local_path
from r1lite.grading import ScoringArgs
from r1lite.jsonl import append_jsonl, plain, read_rows
from r1lite.models import ModelArgs
from r1lite.recipe import ConfigError, check_positive, suggest
from r1lite.rewards import REWARDS, RewardSpec, make_reward

PASS_RATES = "pass_rates.jsonl"
SUMMARY = "difficulty_filter.json"
CHUNK = 32  # prompts sampled, graded and appended per step: the most a kill can lose

@dataclass
class DifficultyFilterArgs:
    """Before training, keep only prompts whose pass rate under the starting policy lies in `band` (difficulty.py)."""

    num_samples: int = 8  # completions sampled per training prompt
    band: list[float] = field(default_factory=lambda: [0.0, 1.0])  # [low, high]: keep low < pass rate < high
    inclusive: bool = False  # true: keep low <= pass rate <= high
    pass_reward: str | None = None  # a completion passes when this reward gives it full credit (1.0); default: the
    # recipe's correctness reward (the first of accuracy, countdown in its rewards), so pass rates follow training
    temperature: float | None = None  # default: trainer.temperature (sample as training will)
    top_p: float = 1.0
    max_new_tokens: int | None = None  # default: trainer.max_completion_length
    backend: str = "hf"  # hf | vllm | openai (the eval backends)
    backend_args: dict[str, Any] = field(default_factory=dict)  # e.g. base_url, model for a served policy
    batch_size: int = 64  # hf backend: sequences generated together
    pass_rates: str | None = None  # JSONL of pass rates, resumed and reused; default <output_dir>/pass_rates.jsonl
    seed: int = 0

    def validate(self, where: str = "difficulty_filter") -> None:
        for name in ("num_samples", "max_new_tokens", "batch_size", "top_p"):
            check_positive(f"{where}.{name}", getattr(self, name))
        if self.top_p > 1:
            raise ConfigError(f"{where}.top_p: {self.top_p} must be in (0, 1]")
        if len(self.band) != 2 or not 0.0 <= self.band[0] <= self.band[1] <= 1.0:
            raise ConfigError(f"{where}.band: {self.band} must be [low, high] with 0 <= low <= high <= 1")
        if not self.inclusive and self.band[0] == self.band[1]:
            raise ConfigError(f"{where}.band: {self.band} keeps nothing with exclusive bounds (set inclusive: true)")
        reachable = [k / self.num_samples for k in range(self.num_samples + 1)]
        if not any(in_band(p, self.band, self.inclusive) for p in reachable):
            raise ConfigError(f"{where}.band: {self.band} ({'inclusive' if self.inclusive else 'exclusive'}) can never "
                              f"keep a prompt: with num_samples {self.num_samples} a pass rate is one of "
                              f"{', '.join(f'{p:.3g}' for p in reachable)}; widen the band or raise num_samples")
        if self.temperature is not None and self.temperature < 0:
            raise ConfigError(f"{where}.temperature: must be >= 0, got {self.temperature}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"{where}.backend: {self.backend!r}{suggest(self.backend, BACKENDS)}; allowed values: "
                              f"{', '.join(BACKENDS)}")
        check_backend_args(self.backend, self.backend_args, f"{where}.backend_args", also=("model",))
        if self.pass_reward is not None and self.pass_reward not in REWARDS:
            raise ConfigError(f"{where}.pass_reward: {self.pass_reward!r} is not a reward"
                              f"{suggest(self.pass_reward, REWARDS)}; allowed values: {', '.join(sorted(REWARDS))}")



PASS_REWARDS = ("accuracy", "countdown")  # correctness rewards whose full credit means solved


def check_filter(cfg: DifficultyFilterArgs, rewards: Sequence[RewardSpec], data: DataArgs,
                 output_dir: str | None) -> None:
    """What the difficulty filter needs of the rest of the recipe, checked at load: its pass reward (by default the
    correctness reward the recipe trains on), and a pass-rates file that is r1lite's own (it is appended to: never
    a data file, never damaged)."""
    if cfg.pass_reward is None:
        trained = [r.name for r in rewards if r.name in PASS_REWARDS]
        if not trained:
            raise ConfigError(f"difficulty_filter.pass_reward: the recipe's rewards have no correctness reward "
                              f"({', '.join(PASS_REWARDS)}) to decide a pass; name one; allowed values: "
                              f"{', '.join(sorted(REWARDS))}")
        cfg.pass_reward = trained[0]
    path = Path(cfg.pass_rates) if cfg.pass_rates else Path(output_dir) / PASS_RATES if output_dir else None
    if path is None:
        return
    where = "difficulty_filter.pass_rates"
    for i, source in enumerate(data.sources):
        if is_local(source.path) and path.resolve() == local_path(source.path).resolve():
            raise ConfigError(f"{where}: {path} is data.sources[{i}], the training data; pass rates are appended to "
                              "this file: give it a file of its own")
    if path.is_dir():
        raise ConfigError(f"{where}: {path} is a folder; a JSONL file of pass rates is needed")
    if path.is_file():
        check_pass_rates_file(path, where)


def check_pass_rates_file(path: Path, where: str) -> None:
    """Every row of an existing pass-rates file is a record r1lite wrote (a line a kill cut short is skipped)."""
    with open(path, errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            try:
                row = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            if row is None:
                continue
            if not isinstance(row, dict):
                raise ConfigError(f"{where}: {path}:{number} is {json_preview(row)}, not a pass-rate record; this "
                                  "file is r1lite's own (it is appended to): give another path or delete it")
            bad = [k for k, kind in RECORD_FIELDS.items() if not isinstance(row.get(k), kind)]
            if bad:
                raise ConfigError(f"{where}: {path}:{number} is not a pass-rate record r1lite wrote (no valid "
                                  f"{', '.join(repr(k) for k in bad)}; fields present: {', '.join(row) or 'none'}); "
                                  "this file is r1lite's own (it is appended to): give another path or delete it")


RECORD_FIELDS = {"settings": str, "key": str, "pass_rate": (int, float)}


# (completions of one prompt, that prompt's dataset row) -> whether each completion passes
Grader = Callable[[list[str], dict[str, Any]], list[bool]]


def in_band(pass_rate: float, band: list[float], inclusive: bool) -> bool:
    """low < p < high (inclusive: low <= p <= high)."""
    low, high = band
    return low <= pass_rate <= high if inclusive else low < pass_rate < high


def model_identity(model: str) -> str:
    """The starting model as it is now: its name, plus its weight files' sizes and times when it is a local folder
    (a retrained `runs/x/sft` must not reuse the pass rates of the previous one)."""
    path = Path(model)
    if not path.is_dir():
        return model
    weights = sorted(p for p in path.glob("*.safetensors"))
    return model + "|" + ",".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights)


def settings_key(cfg: DifficultyFilterArgs, model: str, temperature: float, max_new_tokens: int,
                 pass_args: dict[str, Any] | None = None) -> str:
    """What makes a pass rate what it is, apart from the prompt: model, sampling, grading. `pass_args`: the pass
    reward's args in the recipe's rewards (accuracy's boxed_only grades differently); backend_args can name another
    policy (model) or serve it differently. Keys made before these two were part of it no longer match: such a
    file's prompts are sampled once more, nothing worse."""
    settings = {"model": model_identity(model), "num_samples": cfg.num_samples, "temperature": temperature,
                "top_p": cfg.top_p, "max_new_tokens": max_new_tokens, "seed": cfg.seed, "backend": cfg.backend,
                "backend_args": cfg.backend_args, "pass_reward": cfg.pass_reward, "pass_args": pass_args or {}}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pass_reward_args(cfg: DifficultyFilterArgs, rewards: Sequence[RewardSpec]) -> dict[str, Any]:
    """The args the recipe gives its pass reward (none when the reward is not in its rewards: the defaults)."""
    spec = next((r for r in rewards if r.name == cfg.pass_reward), None)
    return dict(spec.args) if spec else {}


def prompt_key(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([row["prompt"], row.get("answer")], default=str).encode()).hexdigest()[:16]


def read_pass_rates(path: Path, settings: str) -> dict[str, dict[str, Any]]:
    """prompt key -> its record, for records made with `settings`; a half-written last line (a kill) is ignored."""
    return {record["key"]: record for record in read_rows(path)
            if isinstance(record, dict) and record.get("settings") == settings and "pass_rate" in record}


def reward_grader(cfg: DifficultyFilterArgs, rewards: Sequence[RewardSpec], scoring: ScoringArgs,
                  max_completion_length: int) -> Grader:
    """A completion passes when the recipe's correctness reward (difficulty_filter.pass_reward) gives it full
    credit: the same code that scores it during training."""
    reward = make_reward(cfg.pass_reward, pass_reward_args(cfg, rewards),
                         timeout_s=scoring.timeout_s, num_workers=scoring.num_workers,
                         max_completion_length=max_completion_length)

    def grade(completions: list[str], row: dict[str, Any]) -> list[bool]:
        columns = {k: [v] * len(completions) for k, v in row.items() if k != "prompt"}
        return [s is not None and s >= 1.0 for s in reward(completions=completions, **columns)]

    return grade


def measure_pass_rates(rows: list[dict[str, Any]], cfg: DifficultyFilterArgs, backend: Any, grade: Grader,
                       path: Path, settings: str, temperature: float, max_new_tokens: int,
                       log: Callable[[str], None] = print) -> list[float]:
    """Each row's pass rate over cfg.num_samples completions, sampling only the rows `path` does not hold yet."""
    done = read_pass_rates(path, settings)
    keys = [prompt_key(row) for row in rows]
    chunks = [list(range(start, min(start + CHUNK, len(rows)))) for start in range(0, len(rows), CHUNK)]
    todo = [(i, chunk) for i, chunk in enumerate(chunks) if any(keys[j] not in done for j in chunk)]
    if len(todo) < len(chunks):
        log(f"difficulty_filter: {len(rows) - sum(len(c) for _, c in todo)} of {len(rows)} prompts already in {path}")
    for n, (index, chunk) in enumerate(todo, 1):
        missing = [j for j in chunk if keys[j] not in done]
        # seeded per chunk of the whole list, so a resumed pass samples what an uninterrupted one would
        params = SamplingParams(n=cfg.num_samples, temperature=temperature, top_p=cfg.top_p,
                                max_new_tokens=max_new_tokens, seed=chunk_seed(cfg.seed, None, index))
        completions = backend.generate([rows[j]["prompt"] for j in missing], params)
        records = []
        for j, samples in zip(missing, completions):
            passed = grade([c.text for c in samples], rows[j])
            records.append({"settings": settings, "key": keys[j], "id": rows[j].get("id"),
                            "passes": sum(passed), "samples": len(passed), "pass_rate": sum(passed) / len(passed)})
        append_jsonl(path, records)
        done.update((r["key"], r) for r in records)
        log(f"difficulty_filter: chunk {n}/{len(todo)} sampled ({len(missing)} prompts x {cfg.num_samples})")
    return [done[k]["pass_rate"] for k in keys]


def make_filter_backend(cfg: DifficultyFilterArgs, model: ModelArgs) -> Any:
    """The starting policy, from the recipe's `model:` section as training loads it; backend_args has the last word
    (e.g. the served name of the policy for an openai backend)."""
    args = {**model_args(cfg.backend, model), **cfg.backend_args}
    if cfg.backend == "hf":
        args.setdefault("batch_size", cfg.batch_size)
    return make_backend(cfg.backend, **args)


def summarize(pass_rates: list[float], cfg: DifficultyFilterArgs, wall_s: float) -> dict[str, Any]:
    """Prompts per pass rate (each marked kept or not), and the totals: what the report shows."""
    counts = Counter(round(p, 6) for p in pass_rates)
    histogram = [{"pass_rate": p, "prompts": counts[p], "kept": in_band(p, cfg.band, cfg.inclusive)}
                 for p in sorted(counts)]
    return {"candidates": len(pass_rates), "kept": sum(h["prompts"] for h in histogram if h["kept"]),
            "band": cfg.band, "inclusive": cfg.inclusive, "num_samples": cfg.num_samples,
            "mean_pass_rate": sum(pass_rates) / len(pass_rates) if pass_rates else float("nan"),
            "histogram": histogram, "wall_s": round(wall_s, 1)}


def _histogram_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{h['pass_rate']:.2f}: {h['prompts']}{'' if h['kept'] else ' (dropped)'}"
                     for h in summary["histogram"])


def filter_prompts(prompts: Any, cfg: DifficultyFilterArgs, model: ModelArgs, rewards: Sequence[RewardSpec],
                   scoring: ScoringArgs, sampling: dict[str, Any], output_dir: Path, backend: Any = None,
                   grade: Grader | None = None) -> Any:
    """The rows of `prompts` (a Dataset with a chat `prompt` column) whose pass rate lies in the band; writes the
    pass rates (difficulty_filter.pass_rates, default <output_dir>/pass_rates.jsonl) and a summary
    (<output_dir>/difficulty_filter.json). `cfg` is the recipe's difficulty_filter section; `model`, `rewards` and
    `scoring` its sections of those names; `sampling` the trainer's temperature and max_completion_length (the
    defaults of the filter's own). `backend` and `grade` replace the recipe's (tests). With several processes, rank
    0 samples first and the others then find every pass rate in its file."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        first = nullcontext()
    else:
        from accelerate import PartialState

        first = PartialState().main_process_first()
    with first:
        return _filter_prompts(prompts, cfg, model, rewards, scoring, sampling, output_dir, backend, grade)


def _filter_prompts(prompts: Any, cfg: DifficultyFilterArgs, model_section: ModelArgs, rewards: Sequence[RewardSpec],
                    scoring: ScoringArgs, sampling: dict[str, Any], output_dir: Path, backend: Any,
                    grade: Grader | None) -> Any:
    started = time.time()
    model = model_section.model_name_or_path
    if model_section.model_revision not in (None, "main"):  # another revision is another policy
        model += f"@{model_section.model_revision}"
    temperature = cfg.temperature if cfg.temperature is not None else sampling["temperature"]
    max_new_tokens = cfg.max_new_tokens or sampling["max_completion_length"]
    path = Path(cfg.pass_rates) if cfg.pass_rates else output_dir / PASS_RATES
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = settings_key(cfg, model, temperature, max_new_tokens, pass_reward_args(cfg, rewards))
    rows = prompts.to_list()
    done = read_pass_rates(path, settings)
    if backend is None and any(prompt_key(row) not in done for row in rows):
        backend = make_filter_backend(cfg, model_section)
    grade = grade or reward_grader(cfg, rewards, scoring, sampling["max_completion_length"])
    rates = measure_pass_rates(rows, cfg, backend, grade, path, settings, temperature, max_new_tokens)
    summary = summarize(rates, cfg, time.time() - started)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / SUMMARY).write_text(json.dumps(plain(summary), indent=2, allow_nan=False))
    print(f"difficulty_filter: pass rate -> prompts: {_histogram_text(summary)}")
    kept = [i for i, p in enumerate(rates) if in_band(p, cfg.band, cfg.inclusive)]
    if not kept:
        raise ConfigError(f"difficulty_filter.band: no training prompt has a pass rate in {cfg.band} "
                          f"({'inclusive' if cfg.inclusive else 'exclusive'}); pass rates measured: "
                          f"{_histogram_text(summary)}")
    print(f"difficulty_filter: kept {len(kept)} of {len(rows)} prompts ({time.time() - started:.0f} s)")
    return prompts.select(kept)
