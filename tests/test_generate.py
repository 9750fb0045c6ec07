"""`r1lite generate` against a real chat-completions server on 127.0.0.1 answering from a script, with injected
429 / 500 / slow replies; kill-and-resume; rejection sampling on a scripted set; each filter on small cases."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import json_server

from r1lite.backends import SamplingParams
from r1lite.backends.openai import APIError, OpenAIBackend
from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.generate import filters
from r1lite.generate.generate import GenerateRecipe, cost_usd
from r1lite.generate.generate import cli as generate_cli
from r1lite.generate.generate import run as run_generate
from r1lite.recipe.config import ConfigError, load_recipe

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV, KEY = "R1LITE_TEST_API_KEY", "sk-r1lite-test-7f3a9c2e5b1d4e6a"
PROBLEMS = [(f"What is {a} + {b}?", a + b) for a, b in [(3, 4), (12, 30), (7, 8), (21, 5), (9, 9), (40, 2)]]
PLANTED = "If $3x + 2(1 + x) = 17$, what is the value of $6x + 5$?"  # MATH-500 test/prealgebra/977

# sample j of every prompt: 0 correct (DeepSeek style: separate reasoning channel), 1 wrong, 2 truncated,
# 3 correct with the think block inline; prompts 2-5 spoil sample 3 in one way each
SPOILED = {2: "repetition", 3: "duplicate", 4: "think", 5: "language"}
EXPECTED_KEPT = {(f"p{i}", 0) for i in range(6)} | {("p0", 3), ("p1", 3)}


def script(problem: str, sample: int) -> tuple[str, str | None, str]:
    """(content, reasoning_content, finish_reason) the teacher gives."""
    i = next(k for k, (p, _) in enumerate(PROBLEMS) if p == problem)
    gold = PROBLEMS[i][1]
    first = (f"\\boxed{{{gold}}} is the answer.", f"I add the two numbers and get {gold}.", "stop")
    if sample == 0:
        return first
    if sample == 1:
        return f"<think>\nAdding gives {gold + 1}.\n</think>\n\nThe answer is \\boxed{{{gold + 1}}}.", None, "stop"
    if sample == 2:
        return "", "Let me think about this for a very long", "length"
    spoiled = SPOILED.get(i)
    if spoiled == "repetition":
        return f"<think>\n{'wait let me add these two numbers again and check it ' * 30}\n</think>\n\\boxed{{{gold}}}", \
            None, "stop"
    if spoiled == "duplicate":
        return first
    if spoiled == "think":
        return f"The sum is \\boxed{{{gold}}}.", None, "stop"
    if spoiled == "language":
        return f"\\boxed{{{gold}}}", f"我们把两个数相加。The sum is {gold}.", "stop"
    return f"<think>\nCounting up from the first number gives {gold}.\n</think>\n\n\\boxed{{{gold}}}", None, "stop"


class Teacher:
    """An OpenAI chat-completions server on 127.0.0.1: scripted replies, injected faults, a log of every request."""

    def __init__(self, faults: dict | None = None, delay: float = 0.0):
        self.faults = {k: list(v) for k, v in (faults or {}).items()}  # (problem, sample) -> ["429", "500", ...]
        self.delay = delay
        self.log: list[dict] = []  # one per request: problem, sample, status, t, tokens
        self.lock = threading.Lock()
        self.server = contextlib.ExitStack()
        self.url = self.server.enter_context(json_server(self.handle))

    def handle(self, body: dict, request) -> tuple[int, dict, dict]:
        problem, sample = body["messages"][-1]["content"], body["seed"]
        auth = request.headers.get("Authorization")
        with self.lock:
            queue = self.faults.get((problem, sample)) or []
            fault = queue.pop(0) if queue else None
        entry = {"problem": problem, "sample": sample, "t": time.monotonic(), "prompt_tokens": 0,
                 "completion_tokens": 0, "status": "slow" if fault == "slow" else None}
        with self.lock:
            self.log.append(entry)  # at arrival: a reply still sleeping is already counted
        time.sleep(self.delay)
        if auth != f"Bearer {KEY}" or fault == "401":
            status, reply, headers = 401, {"error": f"bad credentials: {auth}"}, {}  # a server echoing the key
        elif fault == "429":
            status, reply, headers = 429, {"error": "rate limited"}, {"Retry-After": "1"}
        elif fault == "400":
            status, reply, headers = 400, {"error": "prompt too long"}, {}
        elif fault == "500":
            status, reply, headers = 500, {"error": f"upstream failed for {auth}"}, {}
        else:
            if fault == "slow":
                time.sleep(1.5)  # longer than the client's timeout: this reply is never received
            content, reasoning, finish = script(problem, sample)
            prompt_tokens = 7 + len(problem.split())
            completion_tokens = len(content.split()) + len((reasoning or "").split())
            status, headers = ("slow" if fault == "slow" else 200), {}
            reply = {"id": "chatcmpl-x", "object": "chat.completion", "model": body["model"],
                     "choices": [{"index": 0, "finish_reason": finish,
                                  "message": {"role": "assistant", "content": content,
                                              "reasoning_content": reasoning}}],
                     "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                               "total_tokens": prompt_tokens + completion_tokens}}
            if status == 200:
                entry.update(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        entry["status"] = status
        return (200 if status == "slow" else status), reply, headers  # the client gives up on a slow reply

    def ok(self) -> list[dict]:
        return [e for e in self.log if e["status"] == 200]

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _problems_file(tmp_path: Path, planted: bool = False) -> Path:
    rows = [{"id": f"p{i}", "problem": p, "answer": str(a)} for i, (p, a) in enumerate(PROBLEMS)]
    if planted:
        rows.append({"id": "planted", "problem": PLANTED, "answer": "11"})
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _raw_recipe(tmp_path: Path, teacher: Teacher, **teacher_args) -> dict:
    return {"teacher": {"backend": "openai", "model": "deepseek-reasoner", "base_url": teacher.url,
                        "api_key_env": KEY_ENV, "concurrency": 1, "timeout_s": 5, **teacher_args},
            "data": {"sources": [{"path": str(_problems_file(tmp_path, planted=True))}], "system_prompt": None,
                     "shuffle": False},
            "sampling": {"n": 4, "max_new_tokens": 64},
            "decontamination": {"data_dir": str(DATA), "benchmarks": ["math500", "gsm8k"]},
            "scoring": {"num_workers": 1},
            "output_dir": str(tmp_path / "out")}


def _recipe(tmp_path: Path, teacher: Teacher, **teacher_args) -> GenerateRecipe:
    return load_recipe(GenerateRecipe, raw=_raw_recipe(tmp_path, teacher, **teacher_args))


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for shard in sorted((out / "data").glob("*.jsonl")) for line in shard.open()]


def _expected_cost(entries: list[dict], recipe: GenerateRecipe) -> float:
    return cost_usd(sum(e["prompt_tokens"] for e in entries), sum(e["completion_tokens"] for e in entries),
                    recipe.teacher)


def test_scripted_run_with_faults(tmp_path, key, caplog, capsys):
    p0, p1, p2 = (PROBLEMS[i][0] for i in range(3))
    teacher = Teacher(faults={(p0, 0): ["429"], (p1, 1): ["500", "500"], (p2, 0): ["slow"]})
    recipe = _recipe(tmp_path, teacher, concurrency=4)
    backend = OpenAIBackend(teacher.url, "deepseek-reasoner", api_key_env=KEY_ENV, max_concurrency=4, timeout_s=0.5,
                            max_retries=4, backoff_s=0.01)
    try:
        with caplog.at_level("INFO"):
            out = run_generate(recipe, backend)
    finally:
        teacher.close()

    # retries happened, Retry-After was honoured, and every sample was finally answered once
    attempts = {k: [e for e in teacher.log if (e["problem"], e["sample"]) == k] for k in [(p0, 0), (p1, 1), (p2, 0)]}
    assert [e["status"] for e in attempts[(p0, 0)]] == [429, 200]
    assert attempts[(p0, 0)][1]["t"] - attempts[(p0, 0)][0]["t"] >= 1.0
    assert [e["status"] for e in attempts[(p1, 1)]] == [500, 500, 200]
    assert [e["status"] for e in attempts[(p2, 0)]] == ["slow", 200]
    assert backend.stats["retries"] == 4
    assert len(teacher.ok()) == 24 and len({(e["problem"], e["sample"]) for e in teacher.ok()}) == 24
    assert PLANTED not in {e["problem"] for e in teacher.log}  # decontaminated before anything was requested

    # rejection sampling kept exactly the correct, clean samples, in R1 chat format
    rows = _rows(out)
    assert {(r["id"], r["sample"]) for r in rows} == EXPECTED_KEPT
    for r in rows:
        user, assistant = r["messages"]
        assert user == {"role": "user", "content": r["problem"]} and assistant["role"] == "assistant"
        assert assistant["content"].startswith("<think>\n") and f"\\boxed{{{r['answer']}}}" in assistant["content"]
    first = next(r for r in rows if (r["id"], r["sample"]) == ("p0", 0))["messages"][1]["content"]
    assert first == "<think>\nI add the two numbers and get 7.\n</think>\n\n\\boxed{7} is the answer."
    import datasets

    loaded = datasets.load_dataset("json", data_files=str(out / "data" / "*.jsonl"), split="train")
    assert len(loaded) == 8 and "messages" in loaded.column_names

    # stats: counts per filter, accepted rate, tokens and dollars exactly as the server billed them
    stats = json.loads((out / "stats.json").read_text())
    assert stats["requests"] == 24 and stats["accepted"] == 8 and stats["accepted_rate"] == pytest.approx(1 / 3)
    assert stats["by_source"]["problems"]["accepted_rate"] == pytest.approx(1 / 3)
    assert stats["removed"] == {"error": 0, "truncated": 6, "think": 1, "language": 1, "repetition": 1,
                                "incorrect": 6, "unverifiable": 0, "duplicate": 1, "selection": 0}
    billed_in = sum(e["prompt_tokens"] for e in teacher.ok())
    billed_out = sum(e["completion_tokens"] for e in teacher.ok())
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (billed_in, billed_out)
    assert stats["cost_usd"] == (billed_in * 0.55 + billed_out * 2.19) / 1e6
    assert stats["decontamination"]["removed_rows"] == [
        {"id": "planted", "source": "problems", "matches": [{"benchmark": "math500", "id": "test/prealgebra/977.json"}]}]
    assert stats["last_session_http"]["retries"] == 4 and stats["complete"] and stats["stopped"] is None

    # the key is nowhere: not in any output file, log record or printed line (the 500 bodies echoed it)
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(), path
    captured = capsys.readouterr()
    assert KEY not in caplog.text + captured.out + captured.err
    assert "status 500" in caplog.text and "429" in caplog.text


def test_key_never_in_errors_or_repr(tmp_path, key, monkeypatch):
    teacher = Teacher(faults={("hi", 0): ["401"]})
    backend = OpenAIBackend(teacher.url, "m", api_key_env=KEY_ENV, max_retries=0)
    try:
        with pytest.raises(APIError) as raised:
            backend.generate(["hi"], SamplingParams(n=1))
    finally:
        teacher.close()
    assert "401" in str(raised.value) and "***" in str(raised.value) and KEY not in str(raised.value)
    assert KEY not in repr(backend) and KEY not in json.dumps(vars(backend), default=str)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match=KEY_ENV):
        OpenAIBackend(teacher.url, "m", api_key_env=KEY_ENV)


def test_exhausted_retries_raise(key):
    teacher = Teacher(faults={("hi", 0): ["500"] * 3})
    backend = OpenAIBackend(teacher.url, "m", api_key_env=KEY_ENV, max_retries=2, backoff_s=0.01)
    try:
        with pytest.raises(APIError, match="giving up after 3 attempts"):
            backend.generate(["hi"], SamplingParams(n=1))
    finally:
        teacher.close()
    assert [e["status"] for e in teacher.log] == [500, 500, 500]


def test_rejected_request(key):
    """A 400 before anything succeeded means the request itself is wrong (stop); later, only that sample is lost."""
    teacher = Teacher(faults={("hi", 0): ["400"], ("long", 0): ["400"]})
    backend = OpenAIBackend(teacher.url, "m", api_key_env=KEY_ENV, max_concurrency=1)
    try:
        with pytest.raises(APIError, match="rejected the first requests"):
            backend.generate(["hi"], SamplingParams(n=1))
        outs = backend.generate(["What is 3 + 4?", "long"], SamplingParams(n=1))
    finally:
        teacher.close()
    assert outs[0][0].text == "\\boxed{7} is the answer." and outs[0][0].reasoning.endswith("get 7.")
    assert outs[1][0].finish_reason == "error" and outs[1][0].text == ""


class CrashAfter:
    """A teacher whose run dies right after `k` prompts were handed over (as a kill between two prompts would)."""

    def __init__(self, inner, k: int):
        self.inner, self.k = inner, k

    def generate_iter(self, prompts, params):
        for count, item in enumerate(self.inner.generate_iter(prompts, params), 1):
            yield item
            if count == self.k:
                raise KeyboardInterrupt


def test_crash_and_resume_requests_nothing_twice(tmp_path, key):
    teacher = Teacher()
    recipe = _recipe(tmp_path, teacher)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_generate(recipe, CrashAfter(OpenAIBackend(teacher.url, "deepseek-reasoner", api_key_env=KEY_ENV,
                                                          max_concurrency=1), k=3))
        out = Path(recipe.output_dir)
        stats = json.loads((out / "stats.json").read_text())  # written on the way down
        assert stats["prompts_done"] == 3 and not stats["complete"] and len(teacher.ok()) == 12
        run_generate(recipe)
    finally:
        teacher.close()
    asked = [(e["problem"], e["sample"]) for e in teacher.log]
    assert len(asked) == 24 and len(set(asked)) == 24  # every sample requested exactly once over both runs
    assert {(r["id"], r["sample"]) for r in _rows(out)} == EXPECTED_KEPT and len(_rows(out)) == 8
    entries = [json.loads(line) for line in (out / "ledger.jsonl").open()]
    assert sorted(e["id"] for e in entries) == [f"p{i}" for i in range(6)]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["complete"] and stats["cost_usd"] == _expected_cost(entries, recipe)


def test_killed_process_resumes(tmp_path, key):
    """SIGKILL a real `r1lite generate` mid-run; the rerun never re-requests a committed prompt and loses nothing."""
    teacher = Teacher(delay=0.3)
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump(_raw_recipe(tmp_path, teacher, concurrency=2)))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "r1lite", "generate", "--config", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            ledger = out / "ledger.jsonl"
            if ledger.exists() and ledger.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        output = proc.communicate(timeout=30)[0]
        killed_at = time.monotonic()
        committed = {json.loads(line)["id"] for line in (out / "ledger.jsonl").open()}
        assert 2 <= len(committed) < 6, output
        assert generate_cli(["--config", str(config)]) == 0
    finally:
        teacher.close()
        if proc.poll() is None:
            proc.kill()
    assert KEY not in output
    problems = {f"p{i}": p for i, (p, _) in enumerate(PROBLEMS)}
    late = {e["problem"] for e in teacher.log if e["t"] > killed_at}
    assert not late & {problems[i] for i in committed}  # committed prompts were not requested again
    rows = _rows(out)
    assert {(r["id"], r["sample"]) for r in rows} == EXPECTED_KEPT and len(rows) == 8  # nothing lost or doubled
    assert sorted(json.loads(line)["id"] for line in (out / "ledger.jsonl").open()) == sorted(problems)


def test_max_cost_stops_cleanly_then_resumes(tmp_path, key):
    teacher = Teacher()
    try:
        recipe = _recipe(tmp_path, teacher, max_cost_usd=1e-9)  # reached by the first prompt
        run_generate(recipe)
        stats = json.loads((Path(recipe.output_dir) / "stats.json").read_text())
        assert stats["stopped"].startswith("max_cost_usd reached") and stats["prompts_done"] == 1
        assert len(teacher.log) == 4 and len(_rows(Path(recipe.output_dir))) == 2
        run_generate(_recipe(tmp_path, teacher))  # the budget raised: carries on where it stopped
    finally:
        teacher.close()
    stats = json.loads((Path(recipe.output_dir) / "stats.json").read_text())
    assert stats["complete"] and stats["stopped"] is None and len(teacher.log) == 24
    assert stats["cost_usd"] == cost_usd(sum(e["prompt_tokens"] for e in teacher.log),
                                         sum(e["completion_tokens"] for e in teacher.log), recipe.teacher)


def test_other_recipe_in_output_dir_refused(tmp_path, key):
    teacher = Teacher()
    try:
        run_generate(_recipe(tmp_path, teacher, max_cost_usd=1e-9))
        raw = _raw_recipe(tmp_path, teacher)
        raw["sampling"]["n"] = 2
        with pytest.raises(ConfigError, match="sampling differ"):
            run_generate(load_recipe(GenerateRecipe, raw=raw))
        raw["overwrite_output_dir"] = True
        run_generate(load_recipe(GenerateRecipe, raw=raw))
    finally:
        teacher.close()
    assert len(_rows(tmp_path / "out")) == 6  # sample 0 of each prompt; the first run's rows are gone


def test_recipes_validate(monkeypatch):
    monkeypatch.chdir(ROOT)  # recipes name paths relative to the repository root
    for path in ["recipes/smollm2-135m/generate/arithmetic_local.yaml", "recipes/deepseek-r1/generate/openr1_math.yaml"]:
        recipe = load_recipe(GenerateRecipe, path)
        assert recipe.decontamination.enabled and recipe.data.sources
    with pytest.raises(ConfigError, match="base_url: required"):
        load_recipe(GenerateRecipe, raw={"data": {"sources": [{"path": "synthetic:arithmetic"}]},
                                         "decontamination": {"enabled": False}})
    with pytest.raises(ConfigError) as raised:
        load_recipe(GenerateRecipe, "recipes/deepseek-r1/generate/openr1_math.yaml", {"api_key_env": KEY})
    assert "api_key_env" in str(raised.value) and KEY not in str(raised.value)
    with pytest.raises(ConfigError, match="allowed values: 'all', 'shortest'"):
        load_recipe(GenerateRecipe, "recipes/deepseek-r1/generate/openr1_math.yaml", {"keep": "longest"})


# ---------------------------------------------------------------------------------------------------------------------
# filters


@pytest.mark.parametrize("text, problem", [
    ("<think>\nadd them\n</think>\n\\boxed{4}", None),
    ("\\boxed{4}", "missing"),
    ("<think>a</think><think>b</think> 4", "unbalanced"),
    ("<think>\nadd them, never closed \\boxed{4}", "unbalanced"),
    ("So: <think>a</think> 4", "misplaced"),
    ("</think>a<think> 4", "misplaced"),
    ("<think>  </think> 4", "empty reasoning"),
    ("<think>reasoning</think>  ", "no answer"),
])
def test_think_problem(text, problem):
    assert filters.think_problem(text) == problem


def test_truncated_language_repetition():
    assert filters.is_truncated("length") and not filters.is_truncated("stop")
    assert not filters.is_language_mixed("Let α = 2π; then café costs €3. Ünïcödé Latin is fine.")
    assert filters.is_language_mixed("First add the numbers. 然后我们检查答案。 So it is 7.")
    assert filters.foreign_script_ratio("Итак, x = 3") > 0.5
    prose = "We add three and four to get seven, then check by subtracting four from seven which gives three."
    loop = "Wait, let me recompute the sum of these numbers. " * 20
    assert filters.repeated_ngram_ratio(prose) == 0.0 and not filters.is_repetitive(prose)
    assert filters.repeated_ngram_ratio(loop) > 0.8 and filters.is_repetitive(prose + loop)


def test_duplicates_and_selection():
    a = ("<think>\nI add 3 and 4. Starting from 3 and counting up four steps gives 4, 5, 6 and then 7, so the sum is "
         "7. To check, 7 minus 4 is 3, which is where I started, and 4 plus 3 is also 7 because addition commutes. "
         "Both checks agree with the first computation.\n</think>\nThe answer is \\boxed{7}.")
    near = a.replace("Both checks agree", "Both of these checks agree")  # word 5-shingle Jaccard 0.84
    other = "<think>\nSeven, since four more than three is seven by the number line.\n</think> \\boxed{7}"
    assert filters.near_duplicates([a, a.upper().replace(" ", "  "), near, other], threshold=0.8) == \
        [False, True, True, False]
    assert filters.near_duplicates([a, near], threshold=0.95) == [False, False]
    lengths = [30, 10, 20, 10]
    assert filters.select(lengths, "all") == [0, 1, 2, 3]
    assert filters.select(lengths, "all", max_per_prompt=2) == [0, 1]
    assert filters.select(lengths, "shortest") == [1]
    assert filters.select(lengths, "shortest", max_per_prompt=3) == [1, 2, 3]
    assert filters.select([], "shortest") == []


@pytest.mark.slow
def test_local_teacher_end_to_end_then_sft(tmp_path, monkeypatch):
    """SmolLM2-135M as a local teacher on 20 synthetic arithmetic prompts -> verified traces -> SFT of a tiny student."""
    from r1lite.grading.grading import grade
    from r1lite.train.sft import SFTRecipe
    from r1lite.train.sft import run as run_sft

    monkeypatch.chdir(ROOT)
    recipe = load_recipe(GenerateRecipe, "recipes/smollm2-135m/generate/arithmetic_local.yaml",
                         {"output_dir": str(tmp_path / "gen")})
    out = run_generate(recipe)
    stats = json.loads((out / "stats.json").read_text())
    rows = _rows(out)
    assert stats["complete"] and stats["prompts"] == 20 and stats["requests"] == 80 and stats["cost_usd"] == 0
    assert len(rows) == stats["accepted"] > 0
    for r in rows:
        assert filters.think_problem(r["messages"][1]["content"]) is None
        assert grade(r["messages"][1]["content"], r["answer"]).correct
    before = (out / "ledger.jsonl").read_text()
    run_generate(recipe)  # finished: nothing is generated again
    assert (out / "ledger.jsonl").read_text() == before and len(_rows(out)) == len(rows)

    sft = load_recipe(SFTRecipe, raw={
        "model": {"model_name_or_path": "tiny:qwen2"},
        "data": {"sources": [{"path": str(out / "data")}], "system_prompt": None},
        "trainer": {"output_dir": str(tmp_path / "sft"), "max_steps": 2, "per_device_train_batch_size": 4,
                    "max_length": 128, "save_strategy": "no", "seed": 0}})
    assert (run_sft(sft) / "config.json").exists()


def test_countdown_rows_use_the_countdown_checker():
    from r1lite.generate.filters import verify
    from r1lite.grading.bounded_pool import ScoringArgs

    row = {"problem": "Using the numbers [3, 5, 2], create an equation that equals 13.", "answer": "3 * 5 - 2",
           "nums": [3, 5, 2], "target": 13}
    texts = ["<think>\n5*2=10, +3\n</think>\n\\boxed{5 * 2 + 3}", "<think>\nx\n</think>\n\\boxed{3 * 5 - 2}",
             "<think>\nx\n</think>\n\\boxed{5 + 5 + 3}"]
    assert verify(row, texts, ScoringArgs()) == [True, True, False]  # any valid equation, not only the gold one


def test_teacher_model_lives_in_the_model_section(tmp_path, key):
    """The teacher is named in `model:` as for every stage; `teacher.model` / `teacher.dtype` are still read, and a run
    folder recorded with them resumes under the new spelling."""
    teacher = Teacher()
    try:
        old = _raw_recipe(tmp_path, teacher, max_cost_usd=1e-9, dtype="float32")
        with pytest.warns(DeprecationWarning, match="teacher.model"):
            recipe = load_recipe(GenerateRecipe, raw=old)
        assert (recipe.model.model_name_or_path, recipe.model.dtype) == ("deepseek-reasoner", "float32")
        run_generate(recipe)
        # the folder records the recipe as loaded (model: section); rewrite it as an older r1lite recorded it
        recorded = yaml.safe_load((tmp_path / "out" / "resolved_recipe.yaml").read_text())
        recorded["teacher"]["model"] = recorded.pop("model")["model_name_or_path"]
        (tmp_path / "out" / "resolved_recipe.yaml").write_text(yaml.safe_dump(recorded))
        new = _raw_recipe(tmp_path, teacher)
        del new["teacher"]["model"]
        new["model"] = {"model_name_or_path": "deepseek-reasoner"}
        run_generate(load_recipe(GenerateRecipe, raw=new))  # same teacher: resumes
        assert len(_rows(tmp_path / "out")) > 0
        new["model"]["model_name_or_path"] = "deepseek-chat"
        with pytest.raises(ConfigError, match="model.model_name_or_path differ"):
            run_generate(load_recipe(GenerateRecipe, raw=new))
    finally:
        teacher.close()


def test_local_teacher_loads_the_whole_model_section(tmp_path, model_loads, fake_vllm):
    """A local teacher is loaded from `model:` as training loads it: revision and trust_remote_code reach
    transformers (hf) and vLLM's LLM (they were dropped: only the name and dtype were passed)."""
    from r1lite.generate.generate import make_teacher

    section = {"model_name_or_path": "tiny:qwen2", "model_revision": "v1.0", "trust_remote_code": True,
               "attn_implementation": "eager"}  # a tag on a local folder: transformers ignores it
    raw = {"model": section, "teacher": {"backend": "hf", "batch_size": 2},
           "data": {"sources": [{"path": "synthetic:arithmetic", "task_args": {"n": 4}}]},
           "decontamination": {"enabled": False}, "output_dir": str(tmp_path / "out")}
    teacher = make_teacher(load_recipe(GenerateRecipe, raw=raw))
    assert teacher.model.config._attn_implementation == "eager"
    assert (model_loads[-1]["revision"], model_loads[-1]["trust_remote_code"]) == ("v1.0", True)
    make_teacher(load_recipe(GenerateRecipe, raw={**raw, "teacher": {"backend": "vllm"}}))
    assert (fake_vllm["llm"]["revision"], fake_vllm["llm"]["trust_remote_code"]) == ("v1.0", True)


@pytest.mark.parametrize("row, expected", [
    ({"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]},
     "no problem column (columns: messages)"),
    ({"prompt": [{"role": "user", "content": "What is 2 + 2?"}], "answer": "4"},
     "column `prompt` holds a list of dict, not a problem as text"),
    ({"problem": "What is 2 + 2?", "completion": "4"}, "no answer column to verify"),
])
def test_sources_without_problem_rows_are_refused_at_load(tmp_path, row, expected):
    """generate builds the teacher's chat from a problem and verifies against its answer: a chat dataset would pass
    the data checks and then fail on the first row (KeyError 'problem')."""
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    raw = {"teacher": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1"},
           "data": {"sources": [{"path": str(path)}]}, "decontamination": {"enabled": False}}
    with pytest.raises(ConfigError) as raised:
        load_recipe(GenerateRecipe, raw=raw)
    message = str(raised.value)
    assert message.startswith(f"data.sources[0]: {path}: {expected}")
    assert "accepted generate formats: `problem` (or question, prompt, query, instruction): text, with an `answer`" \
        in message


def test_overwrite_output_dir_starts_a_finished_run_over(tmp_path, key):
    teacher = Teacher()
    try:
        raw = _raw_recipe(tmp_path, teacher)
        run_generate(load_recipe(GenerateRecipe, raw=raw))
        asked, rows = len(teacher.log), _rows(tmp_path / "out")
        run_generate(load_recipe(GenerateRecipe, raw=raw))
        assert len(teacher.log) == asked  # the same recipe resumes: nothing left to ask
        run_generate(load_recipe(GenerateRecipe, raw={**raw, "overwrite_output_dir": True}))
    finally:
        teacher.close()
    assert len(teacher.log) == 2 * asked  # every prompt asked again
    assert _rows(tmp_path / "out") == rows  # the same rows, once: started over, not appended
