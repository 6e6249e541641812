"""Human-readable views of results and leaderboards (console, Markdown, LaTeX, HTML)."""

from lssbench.report.board import board_console, board_html, board_latex, board_markdown
from lssbench.report.results import format_results, tasks_line

__all__ = ["board_console", "board_html", "board_latex", "board_markdown", "format_results", "tasks_line"]
