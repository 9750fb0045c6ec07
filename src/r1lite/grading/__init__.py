"""Is this answer right? One grader for rewards, eval, generate's filters and the difficulty filter.

    grade_batch(completions, golds)   math answers, each graded in a deadline-bounded worker pool (bounded_pool)
    grade_rows(rows, texts)           any task's rows (math, countdown: checkers), for eval and generate

Inside: where the answer is (answer_extraction), what it says (answer_forms), math equivalence (grading)."""

from r1lite.grading.answer_extraction import boxed_values, completion_text, extract_answer, final_segment
from r1lite.grading.answer_forms import as_number, normalize
from r1lite.grading.bounded_pool import ScoringArgs, Worker, grade_batch, messages, recv_within, worker_pipes
from r1lite.grading.checkers import TASK_FIELDS, check_answers, grade_countdown, grade_rows

__all__ = ["TASK_FIELDS", "ScoringArgs", "Worker", "as_number", "boxed_values", "check_answers", "completion_text",
           "extract_answer", "final_segment", "grade_batch", "grade_countdown", "grade_rows", "messages",
           "normalize", "recv_within", "worker_pipes"]
