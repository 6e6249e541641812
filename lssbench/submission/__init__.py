"""Submissions: the format, safe opening, parsing, validation, writing and a template.

See docs/submission.md for the format and every check.
"""

from lssbench.submission.archive import DEFAULT_LIMITS, Limits, open_submission
from lssbench.submission.parse import ProblemLog
from lssbench.submission.template import write_template
from lssbench.submission.validate import (
    PROBABILITY_TOLERANCE,
    Reference,
    Submission,
    ValidationReport,
    load_submission,
    validate_submission,
)
from lssbench.submission.write import FLOAT_FORMAT, write_submission

__all__ = [
    "DEFAULT_LIMITS",
    "FLOAT_FORMAT",
    "PROBABILITY_TOLERANCE",
    "Limits",
    "ProblemLog",
    "Reference",
    "Submission",
    "ValidationReport",
    "load_submission",
    "open_submission",
    "validate_submission",
    "write_submission",
    "write_template",
]
