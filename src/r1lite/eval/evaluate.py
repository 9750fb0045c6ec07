"""`r1lite eval`: math benchmarks with DeepSeek-R1's protocol, resumable, with budget curves and reports.

    r1lite eval --model smollm2-135m --benchmarks gsm8k,math500 --limit 20 --num_samples 2
    r1lite eval --config recipes/.../eval/x.yaml [--field value ...]
    r1lite eval compare runs/evalA runs/evalB

recipe -> benchmark rows (benchmarks.py) -> backend.generate (backends/, budget_forcing.py) -> grade (checkers.grade_rows:
the graders of the GRPO rewards) -> samples.jsonl, appended as it goes -> stats.py -> results.json, results.md,
PNG plots (eval_report.py).

Resuming: every sample is a record keyed by (benchmark, problem id, thinking budget, sample index), appended chunk
by chunk. A restart with the same output folder generates only chunks with missing samples, whole, replacing what
they held (chunks are cut per benchmark and seeded by their place in it, so the result equals an uninterrupted run,
with a grown --limit or benchmark list too); a restart with different settings is refused.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from r1lite.backends import (
    BACKENDS,
    SamplingParams,
    SamplingWatch,
    check_backend_args,
    chunk_seed,
    make_backend,
    model_args,
)
from r1lite.data import (
    BENCHMARKS,
    KINDS,
    Benchmark,
    benchmark_file,
    build_messages,
    get_benchmark,
    iter_local_rows,
    load_benchmark,
)
from r1lite.eval import eval_report
from r1lite.eval.budget_forcing import generate_with_budget
from r1lite.eval.eval_report import read_records, record_key
from r1lite.eval.safety import JUDGE_TRANSPORT, JudgeArgs, judge_records, make_judge_backend
from r1lite.grading import ScoringArgs, as_number, grade_rows, normalize
from r1lite.jsonl import append_jsonl, read_rows, write_atomic
from r1lite.models import ModelArgs, check_dtype, check_model_name, check_model_path
from r1lite.recipe import ConfigError, check_output_path, check_positive, load_cli_recipe
from r1lite.runs import open_run, settings_output_dir, setup_env

log = logging.getLogger(__name__)

SAMPLES = "samples.jsonl"
CHUNK = 64  # problems generated, graded and appended per step: the most a kill can lose


@dataclass
class EvalRecipe:
    # training's model: section: model_name_or_path (Hub id, folder, .gguf, smollm2-135m, tiny:<arch>, or a training
    # output folder), dtype, model_revision, trust_remote_code, attn_implementation (backends.model_args: what the
    # backend loads); `model: NAME` and `--model NAME` still work
    model: ModelArgs = field(default_factory=ModelArgs)
    benchmarks: list[str] = field(default_factory=lambda: ["math500"])
    benchmark_args: dict[str, Any] = field(default_factory=dict)  # name -> Benchmark fields (path, problem_field...)
    data_dir: str | None = None  # a folder of local JSONL files; null: the bundled copies, else the Hub
    limit: int | None = None  # first N problems of each benchmark
    num_samples: int = 1  # k samples per problem; pass@1 is averaged over them (R1: k=64 on AIME)
    temperature: float = 0.6  # R1's evaluation sampling
    top_p: float = 0.95
    max_new_tokens: int = 1024  # GPU recipes: 32768
    seed: int = 0
    system_prompt: str | None = None
    thinking_budgets: list[int] = field(default_factory=list)  # s1 budget forcing, e.g. [512, 1024, 2048]
    answer_tokens: int = 32  # tokens allowed for the forced answer after the budget
    backend: str = "hf"  # hf | vllm | openai
    backend_args: dict[str, Any] = field(default_factory=dict)  # base_url, api_key_env, max_concurrency, ...
    batch_size: int = 32
    scoring: ScoringArgs = field(default_factory=ScoringArgs)  # training's scoring: section
    judge: JudgeArgs = field(default_factory=JudgeArgs)  # safety benchmarks (harmbench): who judges (safety.py)
    output_dir: str | None = None
    overwrite_output_dir: bool = False  # start output_dir's samples over, even a same-recipe run's (no resuming)
    # deprecated spellings, still read: old key -> section.field
    ALIASES: ClassVar[dict[str, str]] = {"model": "model.model_name_or_path", "dtype": "model.dtype",
                                         "scoring_timeout_s": "scoring.timeout_s", "judge": "judge.base_url"}

    def validate(self) -> None:
        for name in self.benchmarks:
            if name not in BENCHMARKS and "path" not in self.benchmark_args.get(name, {}):
                raise ConfigError(f"benchmarks: {name!r} is unknown; allowed values: {', '.join(BENCHMARKS)} "
                                  "(or give benchmark_args.<name>.path)")
        if not self.benchmarks:
            raise ConfigError(f"benchmarks: at least one is needed; allowed values: {', '.join(BENCHMARKS)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: {self.backend!r}; allowed values: {', '.join(BACKENDS)}")
        for name in ("num_samples", "max_new_tokens", "batch_size", "answer_tokens", "limit"):
            check_positive(name, getattr(self, name))
        self.scoring.validate()
        self.judge.validate()
        for name, args in self.benchmark_args.items():
            if args.get("kind", "math") not in KINDS:
                raise ConfigError(f"benchmark_args.{name}.kind: {args['kind']!r}; allowed values: {', '.join(KINDS)}")
        if self.thinking_budgets and safety_benchmarks(self):
            raise ConfigError(f"thinking_budgets: apply to math benchmarks; {', '.join(safety_benchmarks(self))} "
                              "are safety benchmarks (evaluate them in a run of their own)")
        if any(b <= 0 for b in self.thinking_budgets):
            raise ConfigError(f"thinking_budgets: must be positive token counts, got {self.thinking_budgets}")
        if not 0 <= self.temperature:
            raise ConfigError(f"temperature: must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p: {self.top_p} must be in (0, 1]")
        allowed = [f.name for f in fields(Benchmark) if f.name != "name"]
        for name, args in self.benchmark_args.items():
            for key in args:
                if key not in allowed:
                    raise ConfigError(f"benchmark_args.{name}.{key}: unknown field; allowed values: "
                                      f"{', '.join(allowed)}")
            check_positive(f"benchmark_args.{name}.max_new_tokens", args.get("max_new_tokens"))
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not self.output_dir:
            raise ConfigError("output_dir: required with several processes (every rank writes its shard there)")
        if self.data_dir and not Path(self.data_dir).is_dir():
            raise ConfigError(f"data_dir: {self.data_dir} is not a folder")
        if self.thinking_budgets and self.backend == "openai":
            raise ConfigError("thinking_budgets: budget forcing continues raw text; allowed backends: hf, vllm")
        check_dtype(self.model.dtype, "model.dtype")
        check_backend_args(self.backend, self.backend_args)
        check_output_path(self.output_dir, "output_dir")
        check_model_name(self.model.model_name_or_path, "model.model_name_or_path", served=self.backend == "openai")
        if self.backend in ("hf", "vllm"):
            check_model_path(self.model.model_name_or_path, "model.model_name_or_path")
        for name in self.benchmarks:
            check_local_benchmark(self, name)


Recipe = EvalRecipe  # the stage contract (cli.COMMANDS): Recipe, run, cli


def safety_benchmarks(recipe: EvalRecipe) -> list[str]:
    """The recipe's benchmarks whose samples are judged (safety.py) rather than graded."""
    return [n for n in recipe.benchmarks if (n in BENCHMARKS or "path" in recipe.benchmark_args.get(n, {}))
            and get_benchmark(n, **recipe.benchmark_args.get(n, {})).kind == "safety"]


def check_local_benchmark(recipe: EvalRecipe, name: str) -> None:
    """Read a benchmark that lives in a local file now (cheap), so a bad file fails before any model loads and
    before the output folder exists."""
    bench = get_benchmark(name, **recipe.benchmark_args.get(name, {}))
    if bench.path and bench.path.startswith("synthetic:"):
        return
    where = f"benchmark_args.{name}.path" if bench.path else "data_dir"
    local = benchmark_file(bench, recipe.data_dir)
    if local is None:
        return  # from the Hub
    if not local.is_file():
        raise ConfigError(f"{where}: benchmark {name}: {local} does not exist")
    try:
        for _ in iter_local_rows(local):
            pass
        load_benchmark(bench, recipe.data_dir)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


# ---------------------------------------------------------------------------------------------------------------------
# records


# what makes a sample what it is: a resumed run must match it (limit and the benchmark list may grow)
SETTINGS = ("model.model_name_or_path", "model.model_revision", "model.dtype", "temperature", "top_p",
            "max_new_tokens", "seed", "system_prompt", "answer_tokens", "backend", "backend_args", "benchmark_args",
            "data_dir", "batch_size", "num_samples",  # num_samples: each chunk samples n at once (another n, other samples)
            "scoring")  # scoring.timeout_s: a grade that times out is wrong
# what names a run's default folder (runs.settings_output_dir): the settings plus what it covers
RUN_SETTINGS = (*SETTINGS, "benchmarks", "limit", "thinking_budgets")
# backend_args that change how requests are sent, not what comes back
TRANSPORT_ARGS = ("api_key_env", "max_concurrency", "timeout_s", "max_retries", "backoff_s", "backoff_max_s")


def open_output_dir(recipe: EvalRecipe, out: Path, write: bool = True) -> bool:
    """Whether the samples in `out` are this recipe's to reuse, by runs.open_run: samples made with other settings
    are refused, naming the fields that changed; overwrite_output_dir starts them over in any case. Either way the
    folder is locked for this run first; with write=False nothing is written in it (a run that then fails leaves no
    folder: runs.release_output_dirs)."""
    judged = ("judge",) if safety_benchmarks(recipe) else ()  # a math-only run does not depend on the judge
    reusable = open_run(out, recipe, SETTINGS + judged,
                        ignored=[*(f"backend_args.{k}" for k in TRANSPORT_ARGS), "scoring.num_workers",
                                 "scoring.invalid_scores", *(f"judge.{k}" for k in JUDGE_TRANSPORT)],
                        outputs=["samples*.jsonl"], write=write)
    if write and not reusable:
        for path in out.glob("samples*.jsonl"):
            path.unlink()
    return reusable


# ---------------------------------------------------------------------------------------------------------------------
# running


def grade_records(rows: list[dict[str, Any]], completions: list[Any], budget: int | None, timeout_s: float,
                  num_workers: int | None = None) -> list[dict[str, Any]]:
    """One record per (row, sample) from the backend's completions, graded like the trainer's rewards by
    checkers.grade_rows (math: the accuracy reward's grader; countdown rows, with nums and target: its checker)."""
    flat = [(row, j, c) for row, samples in zip(rows, completions) for j, c in enumerate(samples)]
    grades = grade_rows([row for row, _, _ in flat], [c.text for _, _, c in flat], timeout_s, num_workers)
    records = []
    for (row, j, c), g in zip(flat, grades):
        key = None
        if g.answer is not None:
            number = as_number(g.answer)
            key = str(number) if number is not None else normalize(g.answer)
        records.append({
            "benchmark": row["benchmark"], "id": row["id"], "budget": budget, "sample": j,
            "prompt": row["prompt"], "response": c.text, "answer": g.answer, "answer_key": key,
            "gold": row["answer"], "correct": bool(g.correct), "gold_ok": g.correct is not None,
            "correct_boxed": bool(g.correct_boxed), "correct_anywhere": bool(g.correct_anywhere),
            "formatted": g.boxed, "tokens": c.completion_tokens, "finish_reason": c.finish_reason,
            "truncated": c.finish_reason == "length", "timed_out": g.timed_out,
            **{k: row[k] for k in ("subject", "level") if k in row},
        })
    return records


def make_eval_backend(recipe: EvalRecipe) -> Any:
    args = {**model_args(recipe.backend, recipe.model), **recipe.backend_args}  # backend_args has the last word
    if recipe.backend == "hf":
        args.setdefault("batch_size", recipe.batch_size)
    try:
        return make_backend(recipe.backend, **args)
    except ValueError as e:  # e.g. the key variable is not set
        raise ConfigError(f"backend_args: {e}") from None


def answer_tokens(recipe: EvalRecipe, name: str) -> int:
    """The token limit of one benchmark's answers: the eval's max_new_tokens, or the benchmark's own cap when lower
    (a chunk holds one benchmark's rows)."""
    cap = get_benchmark(name, **recipe.benchmark_args.get(name, {})).max_new_tokens
    return min(recipe.max_new_tokens, cap) if cap else recipe.max_new_tokens


def load_rows(recipe: EvalRecipe) -> list[dict[str, Any]]:
    rows = []
    for name in recipe.benchmarks:
        try:
            rows += load_benchmark(get_benchmark(name, **recipe.benchmark_args.get(name, {})), recipe.data_dir,
                                   recipe.limit)
        except Exception as e:  # noqa: BLE001 - local files were checked at load time: this is the Hub (offline,
            # no such dataset): one line, not a chain of tracebacks
            first = (str(e).strip().splitlines() or [""])[0]
            raise ConfigError(f"benchmarks: {name}: {type(e).__name__}: {first[:200]}") from None
    return rows


def run(recipe: EvalRecipe, backend: Any = None) -> Path:
    """Evaluate as the recipe says; returns the output folder (results.json, results.md, samples.jsonl, plots).

    Rows are cut into fixed chunks of the full benchmark list; a chunk with any missing sample is generated whole
    with its own seed and only the missing records are appended, so a resumed run equals an uninterrupted one."""
    from tqdm.auto import tqdm

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    out = Path(recipe.output_dir) if recipe.output_dir else settings_output_dir("eval", recipe, RUN_SETTINGS)
    if rank == 0:
        print(f"eval: output folder {out}", flush=True)
    reusable = open_output_dir(recipe, out, write=False)  # other settings are refused before anything loads
    rows = load_rows(recipe)
    budgets: list[int | None] = [None, *recipe.thinking_budgets]

    def keys(chunk: list[dict[str, Any]], budget: int | None) -> set[tuple[str, str, int, int]]:
        return {(r["benchmark"], str(r["id"]), budget or 0, j) for r in chunk for j in range(recipe.num_samples)}

    wanted = set().union(*(keys(rows, b) for b in budgets))
    done = {record_key(r) for r in read_records(out)} & wanted if reusable else set()
    by_benchmark: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_benchmark.setdefault(row["benchmark"], []).append(row)
    # cut per benchmark, so a longer --limit or another benchmark leaves every chunk's rows (and seed) as they were
    every = [(b, f"{name}/{i}", part[start:start + CHUNK]) for b in budgets for name, part in by_benchmark.items()
             for i, start in enumerate(range(0, len(part), CHUNK))]
    # a chunk with missing samples is generated whole (a batch samples differently with other rows in it): what it
    # held (a shorter --limit's rows, a killed run's) is replaced, as a fresh run would have made it
    stale = done & set().union(*(keys(chunk, b) for b, _, chunk in every if not keys(chunk, b) <= done))
    chunks = every[rank::world]  # data parallel: a shard per rank
    todo = [(b, i, chunk) for b, i, chunk in chunks if not keys(chunk, b) <= done]
    total = sum(len(chunk) for _, _, chunk in chunks) * recipe.num_samples
    remaining = sum(len(chunk) for _, _, chunk in todo) * recipe.num_samples
    started = time.time()
    safety = set(safety_benchmarks(recipe))
    judge = None
    if todo:
        backend = backend or make_eval_backend(recipe)  # a failure here leaves no output folder behind
        judge = make_judge_backend(recipe.judge) if safety else None
    if rank == 0:
        open_output_dir(recipe, out)
        if stale:
            drop_records(out, stale)
    if world > 1:
        _barrier()
    path = out / (SAMPLES if world == 1 else f"samples.rank{rank}.jsonl")
    watch = SamplingWatch(SamplingParams(n=recipe.num_samples, temperature=recipe.temperature),
                          min_prompts=min(3, max(2, len(rows))))
    with tqdm(total=total, initial=total - remaining, desc=f"eval {recipe.model.model_name_or_path}", unit="sample",
              disable=rank != 0) as bar:  # closed (its line ended) before an error is printed
        for budget, index, chunk in todo:
            params = SamplingParams(n=recipe.num_samples, temperature=recipe.temperature, top_p=recipe.top_p,
                                    max_new_tokens=answer_tokens(recipe, chunk[0]["benchmark"]),
                                    seed=chunk_seed(recipe.seed, budget, index))
            prompts = [build_messages(row["prompt"], recipe.system_prompt) for row in chunk]
            completions = (backend.generate(prompts, params) if budget is None else
                           generate_with_budget(backend, prompts, params, budget, recipe.answer_tokens))
            if budget is None and (warning := watch.add(completions)):
                log.warning(warning)
            graded = [(row, c) for row, c in zip(chunk, completions) if row["benchmark"] not in safety]
            judged = [(row, c) for row, c in zip(chunk, completions) if row["benchmark"] in safety]
            append_jsonl(path, grade_records([r for r, _ in graded], [c for _, c in graded], budget,
                                             recipe.scoring.timeout_s, recipe.scoring.num_workers)
                         + judge_records([r for r, _ in judged], [c for _, c in judged], budget, recipe.judge, judge))
            bar.update(len(chunk) * recipe.num_samples)
    if world > 1:
        _barrier()
        if rank != 0:
            return out
    current = [r for r in read_records(out) if record_key(r) in wanted]  # not what other settings left behind
    results = eval_report.build_results(recipe, current, wall_s=time.time() - started)
    eval_report.write(out, results)
    print(eval_report.markdown_table(results))
    print(f"results: {out / 'results.json'}")
    return out


def drop_records(out: Path, keys: set[tuple[str, str, int, int]]) -> None:
    """Remove the records with these keys from every samples file of `out` (each file replaced atomically)."""
    for path in sorted(out.glob("samples*.jsonl")):
        rows = read_rows(path)
        kept = [r for r in rows if record_key(r) not in keys]
        if len(kept) != len(rows):
            write_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


def _barrier() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


# ---------------------------------------------------------------------------------------------------------------------
# command line


USAGE = ("usage: r1lite eval --model MODEL [--benchmarks gsm8k,math500] [--field value ...] | --config RECIPE.yaml; "
         "r1lite eval --help lists the fields; r1lite eval compare RUN_A RUN_B")
COMPARE_USAGE = """usage: r1lite eval compare RUN_A RUN_B

Compare two finished eval folders (each with results.json): per benchmark, pass@1 of each run and, on the problems
both ran, the difference B - A with a paired 95% interval and whether it is significant."""


def cli(argv: list[str]) -> int:
    if not argv:  # a full MATH-500 run on the default model is never what a bare command meant
        raise ConfigError(USAGE)
    if argv and argv[0] == "compare":
        if "-h" in argv or "--help" in argv:
            print(COMPARE_USAGE)
            return 0
        if len(argv) != 3:
            raise ConfigError("usage: r1lite eval compare RUN_A RUN_B")
        for folder in argv[1:]:
            if not (Path(folder) / "results.json").is_file():
                raise ConfigError(f"eval compare: {folder} is not a finished eval folder (no results.json); "
                                  "usage: r1lite eval compare RUN_A RUN_B")
        print(eval_report.compare(Path(argv[1]), Path(argv[2])))
        return 0
    setup_env()
    run(load_cli_recipe(EvalRecipe, argv))
    return 0
