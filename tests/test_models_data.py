"""Model sources, the embedded SmolLM2-135M, data loading and mixing, synthetic tasks."""

from pathlib import Path

import pytest
import torch

from r1lite.data import data, tasks
from r1lite.data.benchmarks import BUNDLED_DIR as DATA  # the benchmarks and training slices shipped in the package
from r1lite.data.data import DataArgs, DataSource
from r1lite.models import model_names, models
from r1lite.recipe.config import ConfigError


def test_resolve_every_kind_of_name(tmp_path):
    assert model_names.resolve("tiny:qwen2").kind == "tiny"
    assert model_names.resolve("Qwen/Qwen2.5-0.5B-Instruct").kind == "hub"
    assert model_names.resolve(str(tmp_path)).kind == "folder"
    embedded = model_names.resolve("smollm2-135m")
    assert embedded.kind == "gguf" and (Path(embedded.path) / embedded.gguf_file).is_file()
    with pytest.raises(ValueError, match="allowed values: tiny:qwen2"):
        model_names.resolve("tiny:gpt5")
    with pytest.raises(ValueError, match="no such folder"):
        model_names.resolve("./does/not/exist")


def test_architecture_known_offline():
    assert model_names.arch_of("Qwen/Qwen2.5-Math-7B") == "qwen2"
    assert model_names.arch_of("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B") == "qwen2"
    assert model_names.arch_of("smollm2-135m") == "llama"
    assert {"q_proj", "down_proj"} <= model_names.module_names(models.materialize("tiny:llama"))


def test_tiny_model_round_trips_text():
    tok = models.load_tokenizer("tiny:qwen2")
    text = "<think>\n2 + 3 = 5.\n</think>\nThe answer is \\boxed{5}."
    assert tok.decode(tok(text)["input_ids"]) == text  # one character = one token, nothing lost
    model = models.load_inference_model("tiny:qwen2")
    assert model.dtype == torch.float32 and model.config.vocab_size == len(tok)


def test_smollm2_loads_and_answers_through_chat_template():
    tok = models.load_tokenizer("smollm2-135m")
    model = models.load_inference_model("smollm2-135m")
    assert model.dtype == torch.float32  # fp32 on CPU
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    assert "<|im_start|>assistant" in tok.decode(prompt["input_ids"][0])
    out = model.generate(**prompt, max_new_tokens=24, do_sample=False)
    answer = tok.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "5" in answer, answer  # the real model, greedy: it knows 2 + 3


def test_local_jsonl_and_column_mapping(tmp_path):
    rows = tmp_path / "q.jsonl"
    rows.write_text('{"question": "1+1?", "final": "2"}\n{"question": "2+2?", "final": "4"}\n')
    ds = data.load_problems(DataArgs(sources=[DataSource(path=str(rows), columns={"final": "answer"})],
                                     shuffle=False))
    assert ds["problem"] == ["1+1?", "2+2?"] and ds["answer"] == ["2", "4"]


def test_solution_column_used_as_gold_keeps_only_the_final_answer(tmp_path):
    rows = tmp_path / "s.jsonl"
    rows.write_text('{"problem": "p", "solution": "so it is $\\\\boxed{\\\\frac{1}{2}}$."}\n')
    ds = data.load_problems(DataArgs(sources=[DataSource(path=str(rows))]))
    assert ds["answer"] == ["\\frac{1}{2}"]


def test_mixture_by_weight_is_seeded():
    args = DataArgs(sources=[DataSource(path=str(DATA / "gsm8k_train_256.jsonl.gz"), weight=3),
                             DataSource(path="synthetic:arithmetic", weight=1, task_args={"n": 50})],
                    num_samples=40, seed=7)
    first, again = data.load_problems(args), data.load_problems(args)
    assert first["id"] == again["id"]
    gsm = sum(s == "GSM8K" for s in first["source"])
    assert gsm == 30 and len(first) == 40


def test_prompts_are_chats_and_long_ones_are_filtered():
    args = DataArgs(sources=[DataSource(path=str(DATA / "gsm8k_train_256.jsonl.gz"), num_samples=30)],
                    system_prompt="short", max_prompt_tokens=330)
    tok = models.load_tokenizer("tiny:qwen2")  # one token per character: 330 tokens is a short prompt
    ds = data.to_prompts(data.load_problems(args), args, tok)
    assert 0 < len(ds) < 30
    assert ds[0]["prompt"][0]["role"] == "system" and ds[0]["prompt"][1]["role"] == "user"
    with pytest.raises(ConfigError, match="every prompt is longer"):
        data.to_prompts(data.load_problems(args), DataArgs(sources=args.sources, max_prompt_tokens=5), tok)


def test_synthetic_tasks_are_seeded_and_splits_disjoint():
    train = tasks.arithmetic(200, difficulty=2, ops=["add", "mul"], seed=0, split="train")
    test = tasks.arithmetic(100, difficulty=2, ops=["add", "mul"], seed=0, split="test")
    assert train == tasks.arithmetic(200, difficulty=2, ops=["add", "mul"], seed=0, split="train")
    assert not {r["problem"] for r in train} & {r["problem"] for r in test}
    assert all(r["solution"].startswith("<think>") and f"\\boxed{{{r['answer']}}}" in r["solution"] for r in train)
    with pytest.raises(ValueError, match="allowed values: 1, 2, 3, 4, 5"):
        tasks.arithmetic(5, difficulty=9)


def test_products_worked_by_place_value_when_asked():
    """reasoning steps: each part of the first factor times the second, then their sum, every line true."""
    import re
    from collections import Counter

    args = {"ops": ["mul"], "operands": [11, 99], "second_operands": [2, 9], "seed": 0}
    steps = tasks.arithmetic(200, reasoning="steps", **args)
    short = tasks.arithmetic(200, **args)
    mixed = tasks.arithmetic(200, reasoning="mixed", **args)
    assert [r["problem"] for r in steps] == [r["problem"] for r in short]  # the reasoning changes only the trace
    assert mixed == tasks.arithmetic(200, reasoning="mixed", **args)
    assert [r["problem"] for r in mixed] == [r["problem"] for r in short]
    for row in steps:
        a, b = map(int, re.findall(r"\d+", row["problem"]))
        assert 11 <= a <= 99 and 2 <= b <= 9 and row["answer"] == str(a * b)
        think = row["solution"].split("</think>")[0].removeprefix("<think>\n").splitlines()
        if a % 10:
            assert think == [f"{a - a % 10} \\times {b} = {(a - a % 10) * b}.", f"{a % 10} \\times {b} = {a % 10 * b}.",
                             f"{(a - a % 10) * b} + {a % 10 * b} = {a * b}."]
        else:
            assert think == [f"{a} \\times {b} = {a * b}."]  # nothing to split
    assert all(r["solution"].count("=") == 1 for r in short)
    lines = Counter(r["solution"].count("=") for r in mixed if re.search(r"[1-9] \\times", r["problem"]))
    assert 60 <= lines[3] <= 120 and lines[1] + lines[3] == sum(lines.values())  # a coin per problem
    assert tasks.place_value_steps(307, 4) == ["300 \\times 4 = 1200.", "7 \\times 4 = 28.", "1200 + 28 = 1228."]
    assert {r["problem"] for r in tasks.arithmetic(100, split="test", **args)}.isdisjoint(r["problem"] for r in short)
    with pytest.raises(ValueError, match="reasoning 'long'; allowed values: short, steps, mixed"):
        tasks.arithmetic(5, reasoning="long", **args)
    with pytest.raises(ValueError, match="needs ops \\[mul\\]"):
        tasks.arithmetic(5, ops=["add", "mul"], reasoning="steps")
    with pytest.raises(ValueError, match="second_operands 9: expected \\[lo, hi\\]"):
        tasks.arithmetic(5, ops=["mul"], second_operands=9)


def test_word_problems_ask_for_the_operation_their_verb_names():
    import re
    from collections import Counter

    train = tasks.word_problems(200, operands=[1, 40], seed=0, split="train")
    test = tasks.word_problems(100, operands=[1, 40], seed=0, split="test")
    assert train == tasks.word_problems(200, operands=[1, 40], seed=0, split="train")
    assert train != tasks.word_problems(200, operands=[1, 40], seed=1, split="train")
    assert not {r["problem"] for r in train} & {r["problem"] for r in test}

    def verb_of(row):  # the story's verb phrase, with its number put back as {b}
        action = row["problem"].split(". ")[1].split(" ", 1)[1]
        return re.sub(r"\d+", "{b}", action, count=1)

    for row in train + test:
        a, b = map(int, re.findall(r"\d+", row["problem"]))
        op = row["task"].removeprefix("word_problems/")
        assert verb_of(row) in tasks.WORD_VERBS[op]  # the verb names the operation
        value = a + b if op == "add" else a - b
        assert row["answer"] == str(value) and value >= 0 and 1 <= min(a, b) <= max(a, b) <= 40
        sign = "+" if op == "add" else "-"
        assert row["solution"] == f"<think>\n{a} {sign} {b} = {value}.\n</think>\nThe answer is \\boxed{{{value}}}."
    assert 80 <= Counter(r["task"] for r in train)["word_problems/add"] <= 120  # the ops take turns
    assert {verb_of(r) for r in train} == set(tasks.WORD_VERBS["add"] + tasks.WORD_VERBS["sub"])
    # `verbs`: only the first ones of each operation (the demo's cold start), the rest held back
    few = tasks.word_problems(200, verbs=3, seed=0)
    assert {verb_of(r) for r in few} == set(tasks.WORD_VERBS["add"][:3] + tasks.WORD_VERBS["sub"][:3])
    assert {r["task"] for r in tasks.word_problems(20, ops=["sub"])} == {"word_problems/sub"}
    with pytest.raises(ValueError, match="allowed values: add, sub"):
        tasks.word_problems(5, ops=["mul"])
    with pytest.raises(ValueError, match=r"operands \[5, 1\]: expected \[lo, hi\]"):
        tasks.word_problems(5, operands=[5, 1])
    with pytest.raises(ValueError, match=r"verbs 9: expected 1..8"):
        tasks.word_problems(5, verbs=9)
    # a recipe's wrong types name the field instead of failing inside a comparison
    with pytest.raises(ValueError, match=r"verbs '4': expected 1..8"):
        tasks.word_problems(5, verbs="4")
    for bad in (40, ["1", "40"], [1, 2, 3]):
        with pytest.raises(ValueError, match="operands .*: expected \\[lo, hi\\]"):
            tasks.word_problems(5, operands=bad)
        with pytest.raises(ValueError, match="operands .*: expected \\[lo, hi\\]"):
            tasks.arithmetic(5, operands=bad)


def test_countdown_targets_are_reachable():
    import ast
    from fractions import Fraction

    for row in tasks.countdown(20, num_count=4, seed=1):
        expr = row["answer"]
        used = sorted(int(n.value) for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Constant))
        assert used == sorted(row["nums"])
        assert Fraction(eval(expr)).limit_denominator() == row["target"]  # our own generated expression


def test_where_keeps_matching_rows_and_names_bad_columns():
    from r1lite.data.data import DataArgs, DataSource, load_problems
    from r1lite.data.dataset_formats import check_source

    source = DataSource(path="bundled:math_train_256", where={"level": [3, "4"]})
    ds = load_problems(DataArgs(sources=[source], shuffle=False))
    assert set(ds["level"]) == {3, 4} and len(ds) == 86 + 69  # levels 3 and 4 of the 256 rows
    with pytest.raises(ConfigError, match="where: column 'difficulty' is not in"):
        check_source(DataSource(path="bundled:math_train_256", where={"difficulty": 3}), "data.sources[0]")
