"""Human-readable views of results and leaderboards (console, Markdown, LaTeX, HTML).

Names are imported lazily, so that :mod:`lssbench.report.text` (used by the CLI for every
line it prints) costs nothing at start-up.
"""

from __future__ import annotations

import importlib

_LAZY = {"board_console": "lssbench.report.board", "board_html": "lssbench.report.board",
         "board_latex": "lssbench.report.board", "board_markdown": "lssbench.report.board",
         "format_results": "lssbench.report.results", "tasks_line": "lssbench.report.results",
         "clean_text": "lssbench.report.text"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
