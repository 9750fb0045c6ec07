"""`r1lite generate`: teacher reasoning traces, verified by rejection sampling, filtered, decontaminated, costed.

    prompts (data.sources, deduplicated, benchmark n-grams removed before anything is paid for)
      -> teacher (model: names it, teacher: says how to reach it: an OpenAI-compatible API, or a local hf / vllm
         model), n samples each
      -> filters.judge: filters (truncated, <think> block, language mixing, repetition) -> verified against the gold
         answer (checkers.check_answers: math or countdown, as the rewards) -> duplicates -> keep policy
      -> record: the accepted SFT rows and a ledger entry, committed to the output folder (trace_store.Store)
      -> output_dir/data/train-*.jsonl   rows {"messages": [user, assistant "<think>…</think>\\n\\nanswer"], id, ...}
         output_dir/stats.json           requests, accepted rate per source, tokens, cost, removed per filter
         output_dir/ledger.jsonl         one line per finished prompt (fsync'd): the resume point

Load the result with `datasets.load_dataset("json", data_files="<output_dir>/data/*.jsonl")` or point an SFT
recipe's data source at `<output_dir>/data`. Rerunning the same command resumes: prompts in the ledger are never
requested again. `teacher.max_cost_usd` stops feeding new prompts once the running cost reaches it; requests already
in flight finish and are kept. `data.max_prompt_tokens` is not applied here (an API teacher has no local tokenizer).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from r1lite.backends import Completion, PromptFeed, SamplingParams, SamplingWatch, make_backend, model_args
from r1lite.data import DataArgs, build_messages, check_data, check_formats, load_problems
from r1lite.generate import decontaminate, filters
from r1lite.generate.decontaminate import DecontaminationArgs
from r1lite.generate.filters import FilterArgs
from r1lite.generate.trace_store import DATA, STATS, Store, has_work, open_output_dir, row_key, write_json
from r1lite.grading import ScoringArgs
from r1lite.models import ModelArgs, check_dtype, check_model_name, check_model_path
from r1lite.recipe import (
    ConfigError,
    check_env_name,
    check_output_path,
    check_positive,
    load_recipe,
    parse_overrides,
    split_config,
)
from r1lite.runs import setup_env

log = logging.getLogger(__name__)

DEEPSEEK_R1_PRICES = (0.55, 2.19)  # USD per million input / output tokens (cache miss)
STATS_EVERY_S = 60.0
TALLY = ("prompt_tokens", "completion_tokens", "accepted", "samples")  # ledger fields summed over a run


# ---------------------------------------------------------------------------------------------------------------------
# the recipe


@dataclass
class TeacherArgs:
    """How the teacher is reached; which model it is lives in the `model:` section, as for every stage."""

    backend: Literal["hf", "vllm", "openai"] = "openai"
    base_url: str | None = None  # openai only, e.g. https://api.deepseek.com or http://127.0.0.1:8000/v1
    api_key_env: str | None = "OPENAI_API_KEY"  # the NAME of the variable holding the key (null: no auth)
    concurrency: int = 8  # openai: requests in flight
    timeout_s: float = 600.0  # openai: per request (reasoning replies are slow)
    max_retries: int = 6  # openai: on 429 / 5xx / timeouts, with exponential backoff and jitter
    extra_body: dict[str, Any] = field(default_factory=dict)  # openai: more request fields, e.g. chat_template_kwargs
    batch_size: int = 8  # hf / vllm: prompts per generate() call, each committed to the ledger when it returns
    # hf / vllm: the assistant turn starts inside "<think>\n" (unless the chat template opens it, as R1-Distill's
    # does), for a model that never opens the block itself
    prefill_think: bool = False
    price_input_per_m: float = DEEPSEEK_R1_PRICES[0]  # USD per million prompt tokens (0 for a local model)
    price_output_per_m: float = DEEPSEEK_R1_PRICES[1]  # USD per million completion tokens (reasoning included)
    max_cost_usd: float | None = None  # stop requesting new prompts once the run has cost this much


@dataclass
class GenSamplingArgs:
    n: int = 4  # samples per prompt
    temperature: float = 0.6  # DeepSeek's recommendation for R1
    top_p: float = 0.95
    max_new_tokens: int = 8192
    seed: int = 0


@dataclass
class GenerateRecipe:
    # the teacher model, as training's model: section: the API's model name, or anything r1lite loads (hf / vllm)
    model: ModelArgs = field(default_factory=lambda: ModelArgs(model_name_or_path="deepseek-reasoner"))
    teacher: TeacherArgs = field(default_factory=TeacherArgs)
    data: DataArgs = field(default_factory=DataArgs)
    sampling: GenSamplingArgs = field(default_factory=GenSamplingArgs)
    filters: FilterArgs = field(default_factory=FilterArgs)
    decontamination: DecontaminationArgs = field(default_factory=DecontaminationArgs)
    scoring: ScoringArgs = field(default_factory=ScoringArgs)
    output_dir: str = "runs/generate"
    shard_rows: int = 10_000  # rows per JSONL shard
    push_to_hub: str | None = None  # a Hub dataset repo id to push the finished folder to (private)
    overwrite_output_dir: bool = False  # start output_dir's traces over, even a same-recipe run's (no resuming)
    # earlier spellings, still read: old key -> section.field
    ALIASES: ClassVar[dict[str, str]] = {"teacher.model": "model.model_name_or_path", "teacher.dtype": "model.dtype"}

    def validate(self) -> None:
        t, s, f, d = self.teacher, self.sampling, self.filters, self.decontamination
        if t.backend == "openai" and t.prefill_think:
            raise ConfigError("teacher.prefill_think: only for a local teacher (backend hf or vllm)")
        if t.backend == "openai" and not t.base_url:
            raise ConfigError("teacher.base_url: required for the openai backend (e.g. https://api.deepseek.com)")
        check_env_name(t.api_key_env, "teacher.api_key_env")
        check_dtype(self.model.dtype, "model.dtype")
        for where, value in [("teacher.concurrency", t.concurrency), ("teacher.timeout_s", t.timeout_s),
                             ("teacher.batch_size", t.batch_size), ("teacher.max_cost_usd", t.max_cost_usd),
                             ("sampling.n", s.n), ("sampling.max_new_tokens", s.max_new_tokens),
                             ("filters.repetition_ngram", f.repetition_ngram),
                             ("filters.max_per_prompt", f.max_per_prompt),
                             ("shard_rows", self.shard_rows)]:
            check_positive(where, value)
        self.scoring.validate()
        for where, value in [("teacher.max_retries", t.max_retries), ("teacher.price_input_per_m",
                             t.price_input_per_m), ("teacher.price_output_per_m", t.price_output_per_m),
                             ("sampling.temperature", s.temperature)]:
            if value < 0:
                raise ConfigError(f"{where}: must be >= 0, got {value}")
        for where, value in [("sampling.top_p", s.top_p), ("filters.max_foreign_ratio", f.max_foreign_ratio),
                             ("filters.max_repeated_ratio", f.max_repeated_ratio),
                             ("filters.near_dup_threshold", f.near_dup_threshold)]:
            if not 0 <= value <= 1:
                raise ConfigError(f"{where}: must be between 0 and 1, got {value}")
        d.validate()
        check_model_name(self.model.model_name_or_path, "model.model_name_or_path", served=t.backend == "openai")
        if t.backend in ("hf", "vllm"):
            check_model_path(self.model.model_name_or_path, "model.model_name_or_path")
        check_output_path(self.output_dir, "output_dir")
        check_formats(self.data, "generate")  # first: a chat (messages, chat prompt) is named with what is accepted
        check_data(self.data, need_answer=True)


Recipe = GenerateRecipe  # the stage contract (cli.COMMANDS): Recipe, run, cli


# ---------------------------------------------------------------------------------------------------------------------
# prompts


def load_prompts(recipe: GenerateRecipe) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows to generate for (each with `messages`), and what was dropped: duplicate problems and benchmark
    matches (before any request is paid for)."""
    rows, seen, duplicates = [], set(), 0
    for row in load_problems(recipe.data).to_list():
        text = filters.normalized_hash(row["problem"])
        if text in seen:  # a weighted mixture can repeat rows; one prompt is enough
            duplicates += 1
            continue
        seen.add(text)
        rows.append({**row, "messages": build_messages(row["problem"], recipe.data.system_prompt,
                                                       recipe.data.prompt_template)})
    dropped: dict[str, Any] = {"duplicate_prompts": duplicates}
    d = recipe.decontamination
    if d.enabled:
        index = decontaminate.build_index(d.data_dir, d.benchmarks or None, d.ngram)
        rows, removed = decontaminate.decontaminate(rows, index, "problem")
        dropped["decontamination"] = decontaminate.report(len(rows), removed, index)
        dropped["decontamination"]["removed_rows"] = [
            {"id": r["id"], "source": r["source"], "matches": r["contaminated_by"]} for r in removed]
    return rows, dropped


# ---------------------------------------------------------------------------------------------------------------------
# one prompt: what the teacher is sent; its samples -> judged (filters.judge) -> accepted SFT rows + a ledger entry


def teacher_prompt(messages: list[dict[str, str]], backend: Any, prefill_think: bool) -> Any:
    """What the teacher is sent: the chat, or (prefill_think) its rendered text continued inside a think block."""
    if not prefill_think:
        return messages
    text = backend.render(messages)
    return text if text.rstrip().endswith(filters.THINK_OPEN) else f"{text}{filters.THINK_OPEN}\n"


def assistant_text(completion: Completion, prefill_think: bool = False) -> str:
    """The assistant turn for SFT: a separate reasoning channel (or a prefilled opening) becomes the think block."""
    if completion.reasoning is not None:
        return f"<think>\n{completion.reasoning.strip()}\n</think>\n\n{completion.text.strip()}"
    text = completion.text.strip()
    if prefill_think and not text.startswith(filters.THINK_OPEN):
        return f"{filters.THINK_OPEN}\n{text}"
    return text


def record(row: dict[str, Any], completions: list[Completion], recipe: GenerateRecipe
           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One finished prompt: its accepted output rows and its ledger entry."""
    t = recipe.teacher
    texts = [assistant_text(c, t.prefill_think) for c in completions]
    reasons = filters.judge(row, completions, texts, recipe.filters, recipe.scoring)
    kept = [k for k, r in enumerate(reasons) if r is None]
    entry = {"key": row_key(row), "id": row["id"], "source": row["source"], "samples": len(completions),
             "accepted": len(kept), "prompt_tokens": sum(c.prompt_tokens for c in completions),
             "completion_tokens": sum(c.completion_tokens for c in completions),
             "accepted_completion_tokens": sum(completions[k].completion_tokens for k in kept),
             "rejected": dict(Counter(r for r in reasons if r is not None)), "time": time.time()}
    return [output_row(row, completions[k], texts[k], k, recipe.model.model_name_or_path) for k in kept], entry


def output_row(row: dict[str, Any], completion: Completion, text: str, sample: int, teacher: str) -> dict[str, Any]:
    """One SFT row: the user turn as the teacher saw it (no system prompt) and the verified assistant turn."""
    user = next(m["content"] for m in reversed(row["messages"]) if m["role"] == "user")
    return {"id": row["id"], "sample": sample, "source": row["source"], "problem": row["problem"],
            "answer": None if row.get("answer") is None else str(row["answer"]),
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": text}],
            "teacher": teacher, "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}


# ---------------------------------------------------------------------------------------------------------------------
# the run


def make_teacher(recipe: GenerateRecipe) -> Any:
    t = recipe.teacher
    args = model_args(t.backend, recipe.model)
    if t.backend == "openai":
        args.update(base_url=t.base_url, api_key_env=t.api_key_env, max_concurrency=t.concurrency,
                    timeout_s=t.timeout_s, max_retries=t.max_retries, extra_body=t.extra_body)
    elif t.backend == "hf":
        args["batch_size"] = t.batch_size * recipe.sampling.n  # every sample of a batch's prompts in one generate()
    try:
        return make_backend(t.backend, **args)
    except ValueError as e:  # e.g. the key variable is not set
        raise ConfigError(f"teacher: {e}") from None


def stream(backend: Any, prompts: Iterable[Any], params: SamplingParams,
           batch_size: int) -> Iterator[tuple[int, list[Completion]]]:
    """(prompt index, samples) as prompts finish: per prompt from a backend with generate_iter (API), else per
    generate() call of batch_size prompts (local models)."""
    if hasattr(backend, "generate_iter"):
        yield from backend.generate_iter(prompts, params)
        return
    it, start = iter(prompts), 0
    while batch := list(itertools.islice(it, batch_size)):
        yield from enumerate(backend.generate(batch, params), start)
        start += len(batch)


def cost_usd(prompt_tokens: int, completion_tokens: int, teacher: TeacherArgs) -> float:
    return (prompt_tokens * teacher.price_input_per_m + completion_tokens * teacher.price_output_per_m) / 1e6


def summarize(entries: list[dict[str, Any]], recipe: GenerateRecipe, total_prompts: int,
              dropped: dict[str, Any]) -> dict[str, Any]:
    """stats.json, from the ledger (so it covers every session of a resumed run)."""
    t = recipe.teacher
    total = Counter()
    removed: Counter[str] = Counter({r: 0 for r in filters.REASONS})
    by_source: dict[str, Counter] = {}
    for e in entries:
        total.update({k: e[k] for k in (*TALLY, "accepted_completion_tokens")})
        total["prompts_with_accepted"] += e["accepted"] > 0
        removed.update(e["rejected"])
        src = by_source.setdefault(e["source"], Counter())
        src.update({"prompts": 1, "samples": e["samples"], "accepted": e["accepted"]})
    samples = total["samples"]
    return {
        "teacher": recipe.model.model_name_or_path,
        "prompts": total_prompts, "prompts_done": len(entries), "complete": len(entries) == total_prompts,
        "requests": samples,  # samples asked of the teacher (HTTP retries not counted)
        "accepted": total["accepted"], "accepted_rate": total["accepted"] / samples if samples else None,
        "prompts_with_accepted": total["prompts_with_accepted"],
        "by_source": {s: {**c, "accepted_rate": c["accepted"] / c["samples"] if c["samples"] else None}
                      for s, c in sorted(by_source.items())},
        "prompt_tokens": total["prompt_tokens"], "completion_tokens": total["completion_tokens"],
        "mean_prompt_tokens": total["prompt_tokens"] / samples if samples else None,
        "mean_completion_tokens": total["completion_tokens"] / samples if samples else None,
        "mean_accepted_completion_tokens": (total["accepted_completion_tokens"] / total["accepted"]
                                            if total["accepted"] else None),
        "cost_usd": cost_usd(total["prompt_tokens"], total["completion_tokens"], t),
        "prices_per_million": {"input": t.price_input_per_m, "output": t.price_output_per_m},
        "removed": dict(removed),
        **dropped,
    }


def run(recipe: GenerateRecipe, backend: Any = None) -> Path:
    """Run (or resume) the pipeline; returns the output folder."""
    from tqdm.auto import tqdm

    out = open_output_dir(recipe, write=False)  # refuse another recipe's folder before anything loads
    if backend is None and recipe.teacher.backend == "openai":
        backend = make_teacher(recipe)  # connects to nothing yet; a missing key fails before the data loads
    rows, dropped = load_prompts(recipe)
    if backend is None and has_work(out, rows, recipe):
        backend = make_teacher(recipe)  # a failure here (no model) leaves no output folder behind
    open_output_dir(recipe)
    store = Store(out, recipe.shard_rows)
    todo = [r for r in rows if row_key(r) not in store.done]
    log.info("%d prompts, %d done before, %d to go", len(rows), len(rows) - len(todo), len(todo))
    t = recipe.teacher
    tally = Counter({k: sum(e[k] for e in store.entries) for k in TALLY})  # every session's, from the ledger
    stopped: list[str] = []

    def stop_at_max_cost(feed: PromptFeed) -> None:
        """No new request once the run has cost max_cost_usd; those in flight finish and are kept."""
        spent = cost_usd(tally["prompt_tokens"], tally["completion_tokens"], t)
        if t.max_cost_usd is not None and spent >= t.max_cost_usd and not feed.stopped:
            feed.stop()
            stopped.append(f"max_cost_usd reached: ${spent:.4f} >= ${t.max_cost_usd}")

    params = SamplingParams(n=recipe.sampling.n, temperature=recipe.sampling.temperature, top_p=recipe.sampling.top_p,
                            max_new_tokens=recipe.sampling.max_new_tokens, seed=recipe.sampling.seed)
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), desc="generate", unit="prompt", mininterval=1.0)

    def write_stats() -> None:
        stats = summarize(store.entries, recipe, len(rows), dropped)
        stats["stopped"] = stopped[0] if stopped else None
        if backend is not None and hasattr(backend, "stats"):
            stats["last_session_http"] = dict(backend.stats)  # HTTP attempts, retries, statuses of this session
        write_json(out / STATS, stats)

    last_stats = time.monotonic()
    watch = SamplingWatch(params)
    try:
        if todo:  # a finished run reloads no model and opens no connection
            backend = backend or make_teacher(recipe)
        feed = PromptFeed([teacher_prompt(row["messages"], backend, t.prefill_think) for row in todo])
        if todo:
            stop_at_max_cost(feed)  # a resumed run may have spent its budget already
        for i, completions in stream(backend, feed, params, t.batch_size) if todo else ():
            if warning := watch.add([completions]):
                log.warning(warning)
            rows_out, entry = record(todo[i], completions, recipe)
            store.commit(rows_out, entry)
            tally.update({k: entry[k] for k in TALLY})
            stop_at_max_cost(feed)
            bar.update(1)
            spent = cost_usd(tally["prompt_tokens"], tally["completion_tokens"], t)
            bar.set_postfix_str(f"${spent:.4f} accepted {tally['accepted']}/{tally['samples']}", refresh=False)
            if time.monotonic() - last_stats > STATS_EVERY_S:  # a long API run shows its numbers on the way
                write_stats()
                last_stats = time.monotonic()
    finally:
        bar.close()
        write_stats()
    if stopped:
        log.warning("%s; rerun with a higher teacher.max_cost_usd to continue", stopped[0])
    elif recipe.push_to_hub:
        push(out, recipe)
    return out


def push(out: Path, recipe: GenerateRecipe) -> None:
    """Push the shards as a private Hub dataset with a dataset card (teacher, filters, accept rate, decontamination,
    cost; hub.dataset_card)."""
    from r1lite.models import push_dataset

    stats = json.loads((out / STATS).read_text())
    rows = push_dataset(str(out / DATA / "*.jsonl"), recipe.push_to_hub, stats, recipe)
    log.info("pushed %d rows to https://huggingface.co/datasets/%s", rows, recipe.push_to_hub)


def cli(argv: list[str]) -> int:
    """`r1lite generate --config recipe.yaml [--field value ...]`."""
    path, rest = split_config(argv)
    if path is None:
        raise ConfigError("usage: r1lite generate --config recipe.yaml [--field value ...]")
    recipe = load_recipe(GenerateRecipe, path, parse_overrides(rest))
    setup_env()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    out = run(recipe)
    stats = json.loads((out / STATS).read_text())
    rate = stats["accepted_rate"]
    print(f"generate: {stats['accepted']} accepted of {stats['requests']} samples "
          f"({'-' if rate is None else f'{rate:.1%}'}), {stats['prompts_done']}/{stats['prompts']} prompts, "
          f"${stats['cost_usd']:.4f}{'; stopped: ' + stats['stopped'] if stats['stopped'] else ''} -> {out}")
    return 0
