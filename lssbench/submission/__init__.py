"""Submissions: the format, safe opening, parsing, validation, writing and a template."""

from lssbench.submission.template import write_template
from lssbench.submission.write import FLOAT_FORMAT, write_submission

__all__ = ["FLOAT_FORMAT", "write_submission", "write_template"]
