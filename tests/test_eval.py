"""`r1lite eval`: metrics against brute force, grading table, budget forcing, kill-and-resume, end to end."""

import itertools
import json
import math

import pytest

from r1lite.backends import Completion, SamplingParams
from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.eval import evaluate, stats
from r1lite.eval.budget_forcing import ANSWER_PREFIX, generate_with_budget
from r1lite.eval.eval_report import problems_of, read_records
from r1lite.eval.evaluate import EvalRecipe, grade_records
from r1lite.eval.evaluate import run as run_eval
from r1lite.recipe.config import ConfigError, load_recipe


@pytest.mark.parametrize("n, c, k", [(5, 2, 1), (5, 2, 3), (6, 0, 2), (6, 6, 4), (8, 3, 5), (4, 1, 4)])
def test_pass_at_k_matches_brute_force(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert stats.pass_at_k(n, c, k) == pytest.approx(brute)


def test_majority_ties_go_to_the_first_seen_answer():
    assert stats.majority(["3", "4", "4", "3"]) == "3"
    assert stats.majority(["4", "3", "3", "4", None, None, None]) == "4"  # no answer never wins
    assert stats.majority([None, None]) is None
    problem = {"correct": [False, True, True, False], "answers": ["3", "4", "4", "3"]}
    assert stats._majority_correct(problem) is False  # the tie went to "3", which is wrong


def test_intervals():
    p, low, high = stats.wilson(0, 10)
    assert p == 0 and low == 0 and 0.2 < high < 0.35
    mean, low, high = stats.mean_ci([0.5, 0.5, 1.0, 0.0])
    assert low < mean < high
    diff, low, high = stats.paired_diff_ci([0, 0, 0, 0, 1] * 8, [1, 1, 0, 1, 1] * 8)
    assert diff == pytest.approx(0.6) and low > 0


def test_scoring_a_table_of_responses():
    rows = [{"benchmark": "t", "id": str(i), "prompt": "q", "answer": gold}
            for i, gold in enumerate(["18", "\\frac{1}{2}", "72", "5"])]
    responses = [["<think>16-3-4=9, 9*2=18</think> The answer is \\boxed{18}.", "so 18"],
                 ["\\boxed{0.5}", "\\boxed{\\frac{2}{4}}"],
                 ["#### 72", "<think>\\boxed{72}</think> \\boxed{70}"],
                 ["", "answer: 5"]]
    completions = [[Completion(text=t, completion_tokens=len(t.split())) for t in pair] for pair in responses]
    records = grade_records(rows, completions, None, timeout_s=5.0)
    assert [r["correct"] for r in records] == [True, False, True, True, True, False, False, True]
    assert [r["correct_boxed"] for r in records] == [True, False, True, True, False, False, False, False]
    assert records[1]["correct_anywhere"] is True  # "so 18": right number, no stated answer
    summary = stats.summarize(list(problems_of(records)[("t", 0)].values()))
    assert summary["pass@1"] == pytest.approx(5 / 8) and summary["pass@2"] == pytest.approx(1.0)
    # 0.5 and \frac{2}{4} vote together; 72 vs 70 is a tie won by sample 0; a missing answer never votes
    assert summary["maj@2"] == pytest.approx(1.0)


class ScriptedBackend:
    """Thinks for `think` tokens (words), then answers; counts what it was asked to generate."""

    def __init__(self, think: int = 10):
        self.think, self.calls = think, []

    def render(self, prompt):
        return prompt if isinstance(prompt, str) else "USER: " + prompt[-1]["content"] + "\nASSISTANT: "

    def generate(self, prompts, params: SamplingParams):
        self.calls.append((prompts, params))
        out = []
        for p in prompts:
            if isinstance(p, str) and p.endswith(ANSWER_PREFIX):
                out.append([Completion("42}.", completion_tokens=2, finish_reason="stop")] * params.n)
                continue
            words = ["<think>"] + ["hmm"] * self.think + ["</think>", "\\boxed{42}"]
            cut = words[:params.max_new_tokens]
            finish = "stop" if len(cut) == len(words) else "length"
            out.append([Completion(" ".join(cut), completion_tokens=len(cut), finish_reason=finish)] * params.n)
        return out


def test_budget_forcing_truncates_and_appends():
    backend = ScriptedBackend(think=10)
    prompts = [[{"role": "user", "content": "q"}]]
    forced = generate_with_budget(backend, prompts, SamplingParams(n=2, max_new_tokens=100), budget=5,
                                  answer_tokens=8)
    text = forced[0][0].text
    assert text == "<think> hmm hmm hmm hmm\n</think>\n\n" + ANSWER_PREFIX + "42}."
    assert forced[0][0].completion_tokens == 5 + 2 and forced[0][0].finish_reason == "forced"
    continuation, params = backend.calls[1]
    assert continuation[0].startswith("USER: q\nASSISTANT: <think>") and params.max_new_tokens == 8
    # within the budget nothing is forced
    relaxed = generate_with_budget(backend, prompts, SamplingParams(n=1), budget=50)
    assert relaxed[0][0].text.endswith("\\boxed{42}") and relaxed[0][0].finish_reason == "stop"


def _recipe(tmp_path, **kw):
    raw = {"model": "tiny:qwen2", "benchmarks": ["gsm8k"], "data_dir": str(DATA), "limit": 6, "num_samples": 2,
           "temperature": 0.0, "max_new_tokens": 8, "output_dir": str(tmp_path / "eval"), "batch_size": 8, **kw}
    return load_recipe(EvalRecipe, raw=raw)


class Counting:
    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.fail_after, self.prompts = inner, fail_after, []

    def render(self, p):
        return self.inner.render(p)

    def generate(self, prompts, params):
        if self.fail_after is not None and len(self.prompts) >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.prompts += [p[-1]["content"] if isinstance(p, list) else p for p in prompts]
        return self.inner.generate(prompts, params)


def test_kill_and_resume_redoes_no_sample(tmp_path, monkeypatch):
    from r1lite.backends.hf import HFBackend

    monkeypatch.setattr(evaluate, "CHUNK", 2)
    hf = HFBackend("tiny:qwen2", batch_size=8)
    sampled = {"temperature": 0.8}  # sampling on: the resumed run must still match the uninterrupted one
    reference = run_eval(_recipe(tmp_path / "ref", **sampled), backend=hf)
    killed = Counting(hf, fail_after=4)  # dies while generating the third chunk of two problems
    with pytest.raises(KeyboardInterrupt):
        run_eval(_recipe(tmp_path, **sampled), backend=killed)
    assert len(read_records(tmp_path / "eval")) == 4 * 2
    with open(tmp_path / "eval" / "samples.jsonl", "a") as fh:
        fh.write('{"benchmark": "gsm8k", "id": "torn')  # a kill in the middle of a line
    resumed = Counting(hf)
    out = run_eval(_recipe(tmp_path, **sampled), backend=resumed)
    assert len(resumed.prompts) == 2  # only the two unfinished problems were generated
    assert set(resumed.prompts).isdisjoint(killed.prompts)
    records = read_records(out)
    assert len(records) == 12 and len({(r["id"], r["sample"]) for r in records}) == 12
    ours, ref = (json.loads((d / "results.json").read_text())["scores"] for d in (out, reference))
    assert ours == ref
    by_key = {(r["id"], r["sample"]): r["response"] for r in read_records(reference)}
    assert all(by_key[r["id"], r["sample"]] == r["response"] for r in records)  # the same samples, not just scores
    # a smaller rerun in the same folder reports only what it asked for
    small = run_eval(_recipe(tmp_path, limit=3, **sampled), backend=resumed)
    assert json.loads((small / "results.json").read_text())["scores"]["gsm8k"]["num_problems"] == 3
    assert len(resumed.prompts) == 2
    # other settings in the same folder are refused, not mixed in (num_samples too: n samples are drawn together)
    with pytest.raises(ConfigError, match="other settings"):
        run_eval(_recipe(tmp_path, temperature=0.7), backend=hf)
    with pytest.raises(ConfigError, match="num_samples: 2 -> 1"):
        run_eval(_recipe(tmp_path, num_samples=1, **sampled), backend=hf)
    with pytest.raises(ConfigError, match="benchmark_args.gsm8k.lim: unknown field"):
        _recipe(tmp_path, benchmark_args={"gsm8k": {"lim": 3}})


def test_end_to_end_every_benchmark_with_budgets(tmp_path):
    out = run_eval(_recipe(tmp_path, benchmarks=["math500", "aime24", "aime25", "amc23", "gsm8k"], limit=5,
                           thinking_budgets=[4], answer_tokens=4))
    results = json.loads((out / "results.json").read_text())
    assert set(results["scores"]) == {"math500", "aime24", "aime25", "amc23", "gsm8k"}
    assert all(s["num_problems"] == 5 and s["num_samples"] == 2 for s in results["scores"].values())
    assert set(results["scores"]["math500"]["by_level"]) <= {"1", "2", "3", "4", "5"}
    assert results["budget_curves"]["gsm8k"][0]["budget"] == 4
    assert results["versions"]["trl"] and results["config"]["seed"] == 0
    for name in ("results.md", "accuracy.png", "budget.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "samples.jsonl").read_text().splitlines()) == 5 * 5 * 2 * 2


def test_compare_reports_a_paired_difference(tmp_path):
    from r1lite.eval.eval_report import compare

    a = run_eval(_recipe(tmp_path / "a", limit=4))
    b = run_eval(_recipe(tmp_path / "b", limit=4, max_new_tokens=4))
    table = compare(a, b)
    assert "| gsm8k |" in table and "shared problems" in table and "| 4 |" in table


def test_eval_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="allowed values: math500"):
        _recipe(tmp_path, benchmarks=["math5000"])
    with pytest.raises(ConfigError, match="num_samples"):
        _recipe(tmp_path, num_samples=0)
    with pytest.raises(ConfigError, match="unknown field"):
        _recipe(tmp_path, num_sample=2)


def test_smollm2_answers_gsm8k_through_the_chat_template(tmp_path):
    out = run_eval(_recipe(tmp_path, model="smollm2-135m", limit=10, num_samples=1, max_new_tokens=48,
                           batch_size=10))
    records = read_records(out)
    assert len(records) == 10 and all(r["response"].strip() for r in records)
    assert all(r["tokens"] > 0 and r["gold_ok"] for r in records)
    # the instruct model writes English, not the random token soup of a tiny model
    assert sum(r["response"].count(" ") for r in records) > 10 * 10


def test_vllm_backend_maps_params_and_outputs(fake_vllm):
    """vLLM is GPU-only and not installed here: check the mapping against a stand-in with vLLM's interface."""
    from r1lite.backends import make_backend

    seen = fake_vllm
    backend = make_backend("vllm", model="tiny:qwen2", tensor_parallel_size=2)
    outs = backend.generate([[{"role": "user", "content": "2+2?"}], "raw text"], SamplingParams(n=3, max_new_tokens=9))
    assert seen["llm"]["tensor_parallel_size"] == 2 and seen["llm"]["dtype"] == "auto"
    assert seen["sampling"].max_tokens == 9 and seen["sampling"].n == 3 and seen["sampling"].temperature == 0.6
    assert "2+2?" in seen["prompts"][0] and seen["prompts"][1] == "raw text"
    assert len(outs) == 2 and len(outs[0]) == 3
    assert outs[0][0].completion_tokens == 3 and outs[0][0].finish_reason == "length" and outs[0][0].prompt_tokens == 5


SECTION = {"model_name_or_path": "tiny:qwen2", "model_revision": "v1.0", "trust_remote_code": True,
           "attn_implementation": "eager", "dtype": "float32"}  # a tag on a local folder: transformers ignores it


def test_eval_loads_the_whole_model_section(tmp_path, model_loads, fake_vllm):
    """model.model_revision, trust_remote_code and attn_implementation reach transformers (hf) and vLLM's LLM, as
    they reach training's load_model; the openai backend gets the served model's name and nothing else."""
    from r1lite.backends import model_args

    backend = evaluate.make_eval_backend(_recipe(tmp_path, model=SECTION))
    assert backend.model.config._attn_implementation == "eager"
    assert {k: model_loads[-1][k] for k in ("revision", "trust_remote_code", "attn_implementation")} == {
        "revision": "v1.0", "trust_remote_code": True, "attn_implementation": "eager"}
    evaluate.make_eval_backend(_recipe(tmp_path, model=SECTION, backend="vllm"))
    llm = fake_vllm["llm"]
    assert (llm["revision"], llm["tokenizer_revision"], llm["trust_remote_code"], llm["dtype"]) == (
        "v1.0", "v1.0", True, "float32")
    assert model_args("openai", _recipe(tmp_path, model=SECTION).model) == {"model": "tiny:qwen2"}


def test_paired_interval_is_honest_on_tiny_or_uniform_samples():
    assert all(math.isnan(x) for x in stats.paired_diff_ci([0], [1]))  # one problem: no interval
    diff, low, high = stats.paired_diff_ci([0, 0, 0], [1, 1, 1])
    assert diff == 1.0 and low < 0.5 < high <= 1.0  # every problem moved, yet three problems prove little


def test_countdown_benchmark_rows_are_graded_by_the_countdown_checker():
    """An equation that equals the target without using the given numbers is wrong (the math grader alone would
    credit `5+5` against a gold `2*3+4`, both 10)."""
    from r1lite.backends import Completion
    from r1lite.data.benchmarks import get_benchmark, load_benchmark
    from r1lite.eval.evaluate import grade_records

    bench = get_benchmark("countdown", path="synthetic:countdown", task_args={"n": 4, "num_count": 3})
    rows = load_benchmark(bench)
    assert all("nums" in row and "target" in row for row in rows)
    row = {**rows[0], "nums": [2, 3, 4], "target": 10, "answer": "2*3+4"}
    texts = ["<think>4 + 2*3 = 10</think><answer>4 + 2*3</answer>", "<answer>5+5</answer>",
             "The answer is \\boxed{(2+3)*4}"]
    records = grade_records([row], [[Completion(t) for t in texts]], None, timeout_s=5.0)
    assert [r["correct"] for r in records] == [True, False, False]
    assert records[0]["answer"] == "4 + 2*3" and records[0]["formatted"] is False


def test_overwrite_output_dir_redoes_every_sample(tmp_path):
    """overwrite_output_dir starts the samples over, as in every stage, even when the settings match (they would
    resume)."""
    run_eval(_recipe(tmp_path, limit=3), backend=ScriptedBackend())
    same = ScriptedBackend()
    run_eval(_recipe(tmp_path, limit=3), backend=same)
    assert same.calls == []
    over = ScriptedBackend()
    out = run_eval(_recipe(tmp_path, limit=3, overwrite_output_dir=True), backend=over)
    assert sum(len(prompts) for prompts, _ in over.calls) == 3
    assert len(read_records(out)) == 3 * 2  # started over, not appended to
