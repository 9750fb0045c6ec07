"""`r1lite check` under a few hundred mutated recipes and data files (issue 16): wrong types, out-of-range values,
missing and extra keys, bad overrides, broken YAML, truncated, binary and re-encoded data files. Every mutation below
is invalid by construction, and each must end in exactly one stderr line, exit code 2, no traceback, in under 2 s.
Run in process (main() with stderr captured) for speed, plus a few real subprocesses."""

import contextlib
import copy
import gzip
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml

from r1lite.cli import main
from r1lite.recipe.trl_schema import trainer_fields

REPO = Path(__file__).resolve().parents[1]
SEED = 16
CASES_PER_STAGE = {"grpo": 140, "sft": 100, "eval": 80, "generate": 80}

ROWS = [{"id": f"r{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i),
         "solution": f"{i} + {i} = {2 * i}. The answer is \\boxed{{{2 * i}}}."} for i in range(12)]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def base_recipes(tmp: Path) -> dict[str, dict]:
    data = str(write_rows(tmp / "train.jsonl", ROWS))
    bench = str(write_rows(tmp / "bench.jsonl", ROWS))
    trainer = {"learning_rate": 1e-5, "max_steps": 10, "save_steps": 5, "per_device_train_batch_size": 4,
               "logging_steps": 1, "seed": 0, "bf16": False, "output_dir": str(tmp / "never")}
    return {
        "grpo": {"model": {"model_name_or_path": "tiny:qwen2"},
                 "data": {"sources": [{"path": data}], "system_prompt": "r1", "prompt_template": "{problem}"},
                 "rewards": [{"name": "accuracy", "weight": 1.0}, {"name": "format", "weight": 0.1}],
                 "trainer": {**trainer, "num_generations": 4, "max_completion_length": 64, "temperature": 1.0,
                             "beta": 0.0, "loss_type": "dr_grpo"}},
        "sft": {"model": {"model_name_or_path": "tiny:qwen2"},
                "data": {"sources": [{"path": data}], "system_prompt": None},
                "trainer": {**trainer, "max_length": 256}},
        "eval": {"model": "tiny:qwen2", "benchmarks": ["mine"], "benchmark_args": {"mine": {"path": bench}},
                 "num_samples": 2, "temperature": 0.6, "max_new_tokens": 64, "output_dir": str(tmp / "never")},
        "generate": {"teacher": {"backend": "openai", "model": "deepseek-reasoner",
                                 "base_url": "http://127.0.0.1:9/v1", "api_key_env": "R1LITE_FUZZ_KEY"},
                     "data": {"sources": [{"path": data}], "system_prompt": None},
                     "sampling": {"n": 2, "max_new_tokens": 64},
                     "decontamination": {"enabled": False}, "output_dir": str(tmp / "never")},
    }


# -- mutations: each returns (raw recipe, command-line overrides), invalid by construction ----------------------------

JUNK_BY_TYPE = {"bool": ["maybe", 3, [True], {"a": 1}], "int": ["thirty", 2.5, [1], {"a": 1}, True, "1e3x"],
                "float": ["fast", [1.0], {"x": 1}, True, "one"], "str": [[1, 2], {"a": 1}, 3.5]}
OUT_OF_RANGE = {"learning_rate": [0, -1, -1e-5], "max_steps": [0, -2, -100], "save_steps": [0, -5],
                "logging_steps": [0, -1], "temperature": [0, -1, -0.5], "top_p": [0, 1.5, -0.1],
                "max_completion_length": [0, -8, 10 ** 9], "max_length": [0, -1, 10 ** 8],
                "per_device_train_batch_size": [0, -4], "gradient_accumulation_steps": [0],
                "num_train_epochs": [0, -1], "beta": [-0.1], "max_grad_norm": [-1], "weight_decay": [-0.01],
                "save_total_limit": [0, -1], "epsilon": [0, -0.2], "num_iterations": [0]}


def simple_trainer_fields(stage: str) -> list[tuple[str, str]]:
    """(name, base type) of the TRL fields whose annotation is one primitive, optionally | None."""
    out = []
    for name, spec in sorted(trainer_fields(stage).items()):
        parts = [p.strip() for p in spec.annotation.split("|") if p.strip() != "None"]
        if len(parts) == 1 and parts[0] in JUNK_BY_TYPE:
            out.append((name, parts[0]))
    return out


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from leaves(v, (*path, i))
    else:
        yield path, tree


def set_at(tree, path, value):
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def mutate_trainer_type(rng, raw, stage, tmp):
    name, base = rng.choice(simple_trainer_fields(stage))
    raw["trainer"][name] = rng.choice(JUNK_BY_TYPE[base])
    return raw, []


def mutate_trainer_range(rng, raw, stage, tmp):
    names = [n for n in OUT_OF_RANGE if n in trainer_fields(stage)]
    name = rng.choice(names)
    raw["trainer"][name] = rng.choice(OUT_OF_RANGE[name])
    return raw, []


def mutate_extra_key(rng, raw, stage, tmp):
    sections = [p for p, _ in leaves(raw) if len(p) >= 2 and isinstance(p[-1], str)]
    path = rng.choice(sections)
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    if stage == "eval" and path[0] in ("benchmark_args", "backend_args"):
        parent = raw  # free-form mappings: put the stray key on the recipe itself
    parent[rng.choice(["lr", "learnin_rate", "max_step", "sourcess", "tempreature", "foo", "model_name"])] = 1
    return raw, []


def mutate_wrong_type(rng, raw, stage, tmp):
    """A leaf of r1lite's own sections (not trainer:) replaced by a value of an incompatible type."""
    candidates = [(p, v) for p, v in leaves(raw) if p[0] != "trainer" and p[-1] not in ("api_key_env",)
                  and not (stage == "eval" and p[0] == "benchmark_args")]
    path, value = rng.choice(candidates)
    if isinstance(value, bool):
        junk = rng.choice(["perhaps", 7, [1]])
    elif isinstance(value, (int, float)):
        junk = rng.choice(["many", [1, 2], {"n": 1}])
    elif value is None:
        junk = {"nested": {"deep": [1]}}
    else:
        junk = rng.choice([{"a": 1}, [[1]]])
    set_at(raw, path, junk)
    return raw, []


def mutate_missing(rng, raw, stage, tmp):
    if stage in ("grpo", "sft", "generate"):
        raw["data"].pop("sources") if rng.random() < 0.5 else raw["data"].update(sources=[])
    else:
        raw["benchmarks"] = []
    return raw, []


def mutate_override(rng, raw, stage, tmp):
    options = {"grpo": [["--learning_rate", "fast"], ["--max_steps", "2.5"], ["--temperature", "-1"],
                        ["--nonexistent", "3"], ["--max_steps"], ["--save_steps", "0"], ["stray"],
                        ["--data.seed", "x"], ["--trainer.nope", "1"]],
               "sft": [["--max_length", "0"], ["--learning_rate", "-1"], ["--packing", "sometimes"],
                       ["--num_generations", "4"], ["--seed", "one"]],
               "eval": [["--num_samples", "0"], ["--temperature", "-1"], ["--backend", "tgi"],
                        ["--benchmarks", "gsm8kk"], ["--dtype", "float8"], ["--limit", "x"]],
               "generate": [["--teacher.concurrency", "0"], ["--sampling.top_p", "2"], ["--sampling.n", "x"],
                            ["--teacher.api_key_env", "sk-abcdefgh12345678"], ["--teacher.backend", "tgi"]]}
    return raw, list(rng.choice(options[stage]))


def mutate_yaml(rng, raw, stage, tmp):
    return {"__text__": rng.choice(["model: [unclosed\n", "trainer:\n\t- tab\n", "a: b: c\n", "- just\n- a list\n",
                                    "42\n", "{unbalanced: \n", "key: 'unterminated\n"])}, []


def _data_path(raw, stage):
    return Path(raw["benchmark_args"]["mine"]["path"] if stage == "eval" else raw["data"]["sources"][0]["path"])


def _redirect_data(raw, stage, path: Path):
    if stage == "eval":
        raw["benchmark_args"]["mine"]["path"] = str(path)
    else:
        raw["data"]["sources"][0]["path"] = str(path)


def mutate_data_file(rng, raw, stage, tmp):
    text = _data_path(raw, stage).read_text()
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["truncate", "binary", "utf16", "gzip", "drop_problem", "bad_problem", "scalar_line",
                       "bad_line", "empty", "array_of_scalars", "missing_file"])
    target = tmp / f"mutant-{rng.randrange(10 ** 9)}.jsonl"
    if kind == "truncate":  # cut inside a line's JSON, before its closing brace
        i = rng.randrange(len(lines))
        cut = rng.randrange(1, len(lines[i].rstrip("\n")) - 1)
        target.write_text("".join(lines[:i]) + lines[i][:cut])
    elif kind == "binary":
        target.write_bytes(bytes(rng.randrange(256) for _ in range(512)) + b"\0")
    elif kind == "utf16":
        target.write_bytes(text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32"])))
    elif kind == "gzip":
        target.write_bytes(gzip.compress(text.encode()))
    elif kind in ("drop_problem", "bad_problem"):
        rows = [json.loads(line) for line in lines]
        row = rows[rng.randrange(len(rows))]
        if kind == "drop_problem":
            del row["problem"]
        else:
            row["problem"] = rng.choice([None, 3, [], {}, "", "   "])
        write_rows(target, rows)
    elif kind in ("scalar_line", "bad_line"):
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["1\n", '"text"\n', "[1, 2]\n", "null\n"]) if kind == "scalar_line" else \
            rng.choice(["{oops\n", '{"problem": "x",}\n', "}{\n", '{"problem": "unterminated\n'])
        target.write_text("".join(lines))
    elif kind == "empty":
        target.write_text(rng.choice(["", "\n", "\n\n  \n"]))
    elif kind == "array_of_scalars":
        target = target.with_suffix(".json")
        target.write_text(rng.choice(["[]", "[1, 2, 3]", '["a", "b"]', "[null]"]))
    else:
        target = tmp / "does-not-exist.jsonl"
    _redirect_data(raw, stage, target)
    return raw, []


MUTATIONS = [mutate_trainer_type, mutate_trainer_range, mutate_extra_key, mutate_wrong_type, mutate_missing,
             mutate_override, mutate_yaml, mutate_data_file]


def applicable(stage):
    return [m for m in MUTATIONS if stage in ("grpo", "sft") or m not in (mutate_trainer_type, mutate_trainer_range)]


def write_recipe(tmp: Path, raw: dict, index: int) -> str:
    path = tmp / f"recipe-{index}.yaml"
    path.write_text(raw["__text__"] if "__text__" in raw else yaml.safe_dump(raw))
    return str(path)


def run_check(argv: list[str]) -> tuple[int, str, float]:
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue(), time.perf_counter() - start


def cases(tmp: Path):
    rng = random.Random(SEED)
    bases = base_recipes(tmp)
    index = 0
    for stage, count in CASES_PER_STAGE.items():
        for _ in range(count):
            mutation = rng.choice(applicable(stage))
            raw, overrides = mutation(rng, copy.deepcopy(bases[stage]), stage, tmp)
            index += 1
            yield stage, mutation.__name__, ["check", "--config", write_recipe(tmp, raw, index), "--stage", stage,
                                             *overrides]


def test_base_recipes_are_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("R1LITE_FUZZ_KEY", "x")
    for stage, raw in base_recipes(tmp_path).items():
        rc, err, _ = run_check(["check", "--config", write_recipe(tmp_path, raw, 0), "--stage", stage])
        assert rc == 0, err


def test_mutated_recipes_and_data_fail_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("R1LITE_FUZZ_KEY", "x")
    run_check(["check", "--config", write_recipe(tmp_path, base_recipes(tmp_path)["grpo"], 0)])  # warm imports
    seen, failures = set(), []
    for stage, mutation, argv in cases(tmp_path):
        seen.add((stage, mutation))
        try:
            rc, err, seconds = run_check(argv)
        except BaseException as e:  # noqa: BLE001 - a traceback is the bug being looked for
            failures.append(f"{stage}/{mutation} {argv[2:]}: raised {type(e).__name__}: {e}")
            continue
        lines = [line for line in err.splitlines() if line.strip()]
        if rc != 2 or len(lines) != 1 or "Traceback" in err or seconds > 2.0:
            failures.append(f"{stage}/{mutation} {Path(argv[2]).read_text()[:300]!r} {argv[5:]}: rc={rc} "
                            f"{seconds:.2f}s stderr={err[-500:]!r}")
    assert not failures, f"{len(failures)} of {sum(CASES_PER_STAGE.values())} cases:\n" + "\n".join(failures[:20])
    assert len(seen) >= 25  # every stage met most mutation kinds
    assert "sk-abcdefgh12345678" not in "".join(failures)


def test_a_few_real_processes(tmp_path):
    """The same through `python -m r1lite check`: stderr is one line, the exit code 2."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "R1LITE_FUZZ_KEY": "x"}
    first_of_kind = {}
    for stage, mutation, argv in cases(tmp_path):
        first_of_kind.setdefault(mutation, (stage, mutation, argv))
    picked = list(first_of_kind.values())
    assert len(picked) == len(MUTATIONS)
    for stage, mutation, argv in picked:
        proc = subprocess.run([sys.executable, "-m", "r1lite", *argv], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, (stage, mutation,
                                                                                                proc.stderr)
