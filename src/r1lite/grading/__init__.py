"""Is this answer right? One grader for rewards, eval, generate's filters and the difficulty filter."""

from r1lite.grading.answer_extraction import boxed_values, completion_text, extract_answer
from r1lite.grading.answer_forms import as_number, normalize
from r1lite.grading.bounded_pool import ScoringArgs, grade_batch
from r1lite.grading.checkers import TASK_FIELDS, check_answers, grade_countdown, grade_rows

__all__ = [
    "ScoringArgs",
    "TASK_FIELDS",
    "as_number",
    "boxed_values",
    "check_answers",
    "completion_text",
    "extract_answer",
    "grade_batch",
    "grade_countdown",
    "grade_rows",
    "normalize",
]
