"""Rewards and answer grading on tables of cases; bounded scoring on pathological input, off the main thread."""

import threading
import time

import pytest

from r1lite import rewards
from r1lite.grading.answer_extraction import extract_answer
from r1lite.grading.answer_forms import normalize
from r1lite.grading.bounded_pool import Scorer
from r1lite.grading.checkers import check_countdown
from r1lite.grading.grading import grade
from r1lite.rewards import REWARDS, make_reward


@pytest.mark.parametrize("text, expected", [
    ("<think>maybe \\boxed{5}</think> so \\boxed{4}.", "4"),           # after </think> only
    ("\\boxed{7} and then \\boxed{8}", "8"),                            # the last boxed wins
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),                          # nested braces
    ("The final answer is $12$. Done.", "$12$"),
    ("Answer: 3", "3"),
    ("so the total is 5.\n#### 1,200", "1,200"),
    ("<answer> 42 </answer>", "42"),
    ("<think>only reasoning, 5</think>", None),
    ("no answer at all", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("completion, gold, correct", [
    ("\\boxed{4}", "4", True),
    ("\\boxed{4.0}", "4", True),
    ("\\boxed{\\dfrac{14}{3}}", "\\frac{14}{3}", True),
    ("\\boxed{0.5}", "\\frac{1}{2}", True),
    ("\\boxed{1,000}", "1000", True),                    # thousands separator
    ("The answer is 18 dollars.", "18", True),           # units
    ("\\boxed{10\\text{ cm}}", "10", True),
    ("\\boxed{25\\%}", "25", True),                      # percent
    ("\\boxed{90^\\circ}", "90", True),                  # degrees
    ("\\boxed{x = 5}", "5", True),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", True),          # symbolic, through math-verify
    ("\\boxed{(3,\\pi/2)}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("#### 72", "72", True),
    ("<answer>-3</answer>", "-3", True),
    ("\\boxed{5}", "4", False),
    ("<think>\\boxed{4}</think> \\boxed{5}", "4", False),  # the thinking does not count
    ("I think it is 4", "4", False),                       # no stated answer
    ("", "4", False),
])
def test_grade_table(completion, gold, correct):
    assert grade(completion, gold).correct is correct


def test_grade_flags_format_and_answer_anywhere():
    g = grade("the result is 12 apples", "12")
    assert (g.correct, g.boxed, g.correct_anywhere) == (False, False, True)
    g = grade("\\boxed{12}", "12")
    assert (g.correct, g.boxed, g.correct_boxed) == (True, True, True)


def test_normalize():
    assert normalize("$\\left( 1, 2 \\right)$") == "(1,2)"
    assert normalize("1,234,567") == "1234567"


@pytest.fixture(scope="module")
def accuracy():
    return make_reward("accuracy", timeout_s=5.0, num_workers=2)


def test_accuracy_reward_chat_and_string_completions(accuracy):
    chat = [[{"role": "assistant", "content": "<think>2+2</think> \\boxed{4}"}], [{"role": "assistant", "content": "5"}]]
    assert accuracy(completions=chat, answer=["4", "4"]) == [1.0, 0.0]
    assert accuracy(completions=["\\boxed{4}", "\\boxed{4}"], answer=["4", ""]) == [1.0, None]  # gold unparseable
    # a reference solution column works as gold too (its last boxed answer)
    assert accuracy(completions=["\\boxed{6}"], solution=["so 2 \\cdot 3 = \\boxed{6}."]) == [1.0]
    assert accuracy.__name__ == "accuracy"


def test_accuracy_boxed_only_pays_only_answers_in_the_box():
    boxed_only = make_reward("accuracy", {"boxed_only": True}, timeout_s=5.0, num_workers=2)
    completions = ["23 + 37 = 60. The answer is: 60", "The answer is \\boxed{60}.", "The answer is \\boxed{61}."]
    assert boxed_only(completions=completions, answer=["60"] * 3) == [0.0, 1.0, 0.0]


def test_format_reward_plain_and_prefilled_think():
    fmt = make_reward("format")
    texts = ["<think>\nstep\n</think>\nThe answer is \\boxed{4}.", "<think>step</think> no box",
             "no think \\boxed{4}", "<think>a</think><think>b</think>\\boxed{1}", "<think></think>\\boxed{4}",
             " <think>leading space ok</think> \\boxed{4}"]
    assert fmt(completions=texts) == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    # R1-Distill templates end the prompt with <think>: the completion starts inside the reasoning
    prefilled = make_reward("format", think_prefilled=True)
    assert prefilled(completions=["step 1 ...\n</think>\n\\boxed{4}", "<think>x</think>\\boxed{4}",
                                  "\\boxed{4}"]) == [1.0, 1.0, 0.0]
    assert make_reward("format", {"answer": "tag"})(completions=["<think>r</think> <answer>4</answer>",
                                                                  "<think>r</think> \\boxed{4}"]) == [1.0, 0.0]


def test_tag_count_and_reasoning_steps():
    tags = make_reward("tag_count", {"answer_tag": True})
    assert tags(completions=["<think>a</think><answer>1</answer>", "<think>a", "</think></think>"]) == [1.0, 0.25, 0.0]
    steps = make_reward("reasoning_steps")
    assert steps(completions=["Step 1: a\nStep 2: b\nStep 3: c", "First, a. Next, b.", "just 4"]) == [1.0, 2 / 3, 0.0]


def test_cosine_lengths_in_tokens_without_wraparound():
    cosine = make_reward("cosine", {"max_len": 100}, timeout_s=5.0, num_workers=1)
    correct, wrong = "\\boxed{7}", "\\boxed{8}"
    ids = [[1] * 10, [1] * 100, [1] * 10, [1] * 100, [1] * 250]
    scores = cosine(completions=[correct, correct, wrong, wrong, correct], answer=["7"] * 5, completion_ids=ids)
    assert scores[0] == pytest.approx(0.988, abs=1e-3) and scores[1] == pytest.approx(0.5)
    assert scores[2] == pytest.approx(-0.988, abs=1e-3) and scores[3] == pytest.approx(-0.5)
    assert scores[4] == pytest.approx(0.5)  # past max_len stays at the end value (open-r1 wrapped around)
    assert cosine(completions=[correct], answer=[""], completion_ids=[[1]]) == [None]


def test_length_reward_is_per_prompt_group():
    length = make_reward("length", timeout_s=5.0, num_workers=1)
    comps = ["\\boxed{7}", "\\boxed{7}", "\\boxed{8}", "\\boxed{3}"]
    scores = length(completions=comps, answer=["7", "7", "7", "3"], prompts=["p", "p", "p", "q"],
                    completion_ids=[[1] * 10, [1] * 30, [1] * 20, [1] * 5])
    assert scores == [0.5, -0.5, 0.0, 0.0]  # shortest correct +0.5, longest correct -0.5, wrong mid 0, lone group 0


def test_repetition_and_soft_overlong_use_token_ids():
    rep = make_reward("repetition", {"ngram_size": 2})
    assert rep(completions=["a", "b"], completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]]) == [0.0, -0.75]
    assert rep(completions=["the cat sat on the mat"])[0] == 0.0
    over = make_reward("soft_overlong", {"soft_punish_cache": 20}, max_completion_length=100)
    assert over(completions=["x"] * 3, completion_ids=[[1] * 80, [1] * 90, [1] * 120]) == [0.0, -0.5, -1.0]


@pytest.mark.parametrize("equation, ok", [
    ("(3 + 5) * 2", True), ("2 * (5 + 3) = 16", True), ("3 * 5 + 2", False), ("8 * 2", False),
    ("(3 + 5) * 2 + 0", False), ("__import__('os')", False), ("3 ** 5 ** 2", False), ("(5 - 3) / 0", False),
])
def test_countdown_checker(equation, ok):
    assert check_countdown(equation, [3, 5, 2], 16) is ok


def test_countdown_reward():
    cd = make_reward("countdown")
    comps = ["<think>try</think><answer>(3 + 5) * 2</answer>", "<think>x</think>\\boxed{3 + 5 + 2}", "nothing"]
    assert cd(completions=comps, nums=[[3, 5, 2]] * 3, target=[16] * 3) == [1.0, 0.1, 0.0]


def test_every_registered_reward_survives_garbage():
    garbage = ["", "\\boxed{", "}}}{{{\\boxed{\\frac{", "<think>" * 500, "\x00\xff" * 100, None]
    for name in REWARDS:
        func = make_reward(name, timeout_s=2.0, num_workers=1, max_completion_length=64)
        scores = func(completions=garbage, answer=["4"] * len(garbage), nums=[[1, 2]] * len(garbage),
                      target=[3] * len(garbage), completion_ids=[[1, 2]] * len(garbage), prompts=["p"] * len(garbage))
        assert len(scores) == len(garbage), name
        assert all(s is None or isinstance(s, float) for s in scores), name


PATHOLOGICAL = "\\boxed{(1+\\sqrt{2})^{30000}}"  # sympy takes ~20 s on this one


def test_pathological_completion_is_scored_within_the_timeout():
    scorer = Scorer(timeout_s=1.0, num_workers=2)
    start = time.monotonic()
    grades = scorer.grade_batch([PATHOLOGICAL, "\\boxed{\\frac{2}{3}}", "\\boxed{5}"], ["\\frac{1}{3}", "\\frac{2}{3}", "5"])
    elapsed = time.monotonic() - start
    assert grades[0].timed_out and grades[0].correct is False
    assert [g.correct for g in grades[1:]] == [True, True]
    assert elapsed < 10  # bounded (1 s deadline + worker start-up), never the minutes sympy would take
    # the killed worker was replaced: the scorer keeps working
    assert scorer.grade_batch(["\\boxed{\\sqrt{8}}"], ["2\\sqrt{2}"])[0].correct is True
    scorer.close()


def test_scoring_works_off_the_main_thread():
    # math-verify's own SIGALRM timeout fails here; the process-pool deadline does not
    scorer = Scorer(timeout_s=1.0, num_workers=1)
    out = {}
    thread = threading.Thread(target=lambda: out.update(g=scorer.grade_batch([PATHOLOGICAL, "\\boxed{\\pi}"],
                                                                              ["2", "\\pi"])))
    thread.start()
    thread.join(timeout=30)
    assert [g.correct for g in out["g"]] == [False, True] and out["g"][0].timed_out
    scorer.close()


def test_scorer_caches_and_dedups():
    scorer = Scorer(timeout_s=5.0, num_workers=1)
    scorer.grade_batch(["\\boxed{\\sqrt{8}}"] * 4, ["2\\sqrt{2}"] * 4)
    assert scorer.stats["remote"] == 1  # four identical completions, one math-verify call
    scorer.grade_batch(["\\boxed{\\sqrt{8}}"], ["2\\sqrt{2}"])
    assert scorer.stats["cached"] == 1
    scorer.close()


def test_explosive_answers_are_wrong_at_once():
    start = time.monotonic()
    for answer in ("9^{9^{9^{9}}}", "2^2^2^2", "1" * 100, "10000!"):
        assert grade("\\boxed{" + answer + "}", "\\frac{1}{3}").correct is False
    assert grade("\\boxed{" + "9" * 5000 + "}", "4").correct is False  # no float overflow on huge literals
    assert time.monotonic() - start < 2


def test_rewards_skip_the_answer_anywhere_check():
    scorer = Scorer(timeout_s=5.0, num_workers=1)
    g = scorer.grade_batch(["so it is 12"], ["12"], anywhere=False)[0]
    assert g.correct is False and g.correct_anywhere is None
    assert scorer.grade_batch(["so it is 12"], ["12"])[0].correct_anywhere is True  # cached per mode
    scorer.close()


def test_registry_is_a_plain_dict_of_factories():
    assert isinstance(REWARDS, dict) and set(REWARDS) >= {"accuracy", "format", "tag_count", "reasoning_steps",
                                                          "length", "cosine", "repetition", "soft_overlong",
                                                          "countdown"}
    assert rewards.reward_args("cosine")[0] == "max_len"


@pytest.mark.parametrize("answer, gold, same", [
    ("1000001", "1000000", False), ("123456790", "123456789", False),  # no relative tolerance on integers
    ("0.33", "\\frac{1}{3}", False), ("0.333333", "\\frac{1}{3}", True),  # exact gold: 6 places or exact
    ("2.50", "2.5", True), ("\\frac{2}{4}", "0.5", True),
])
def test_numbers_compare_exactly(answer, gold, same):
    from r1lite.grading.answer_forms import numbers_equal

    assert numbers_equal(answer, gold) is same


def test_an_unfinished_think_block_has_no_answer():
    assert extract_answer("<think>so the answer is 7") is None  # cut off mid-reasoning
    assert extract_answer("reasoning</think> \\boxed{7}") == "7"  # template-prefilled <think>


def test_a_scorer_without_workers_is_refused_not_left_waiting():
    """A negative worker count starts no worker: a batch needing one would wait forever (Accuracy(num_workers=-1)
    in a user's own GRPOTrainer script never passes through a recipe's checks)."""
    with pytest.raises(ValueError, match="num_workers must be positive"):
        Scorer(5.0, -1)
    assert Scorer(5.0, 0).num_workers >= 1  # 0 / None: every core
