"""Plain tables in three dialects: aligned console text, Markdown (pipe) and LaTeX (booktabs)."""

from __future__ import annotations

import html
from typing import Sequence

MISSING = "-"


def fmt(value, digits: int = 3) -> str:
    """A number as text; None (undefined, e.g. a class without ground truth) as ``-``."""
    if value is None:
        return MISSING
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}f}"


def fmt_ci(value, ci, digits: int = 3) -> str:
    """``0.912 [0.880, 0.941]``, or just the value when there is no CI."""
    if value is None or not ci:
        return fmt(value, digits)
    return f"{fmt(value, digits)} [{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def console_table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """Columns padded to their widest cell; the first ``text_columns`` left-aligned, numbers right."""
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(c.ljust(w) if i < text_columns else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    align = ["---"] * text_columns + ["---:"] * (len(headers) - text_columns)
    lines = [headers, align] + [list(r) for r in rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines) + "\n"


def markdown_escape(text: str) -> str:
    """Text safe in a Markdown table cell: no column breaks, no raw HTML, one line."""
    return (" ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "",
                text_columns: int = 1) -> str:
    """A booktabs ``table``; cells are used as given (escape text cells before)."""
    spec = "l" * text_columns + "r" * (len(headers) - text_columns)
    body = [" & ".join(row) + r" \\" for row in rows]
    parts = [r"\begin{table}[t]", r"\centering"]
    if caption:
        parts.append(rf"\caption{{{caption}}}")
    parts += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(headers) + r" \\", r"\midrule",
              *body, r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(parts) + "\n"


def html_escape(text: str) -> str:
    return html.escape(str(text), quote=True)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "",
               text_columns: int = 1) -> str:
    """A plain ``<table>``; cells are used as given (escape text cells before)."""

    def row(cells, tag):
        return "<tr>" + "".join(
            f'<{tag} class="{"text" if i < text_columns else "num"}">{c}</{tag}>' for i, c in enumerate(cells)
        ) + "</tr>"

    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{caption}</caption>")
    parts += ["<thead>", row(headers, "th"), "</thead>", "<tbody>", *(row(r, "td") for r in rows),
              "</tbody>", "</table>"]
    return "\n".join(parts) + "\n"
