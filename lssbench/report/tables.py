"""Plain tables in four dialects -- aligned console text, Markdown (pipe), LaTeX (booktabs), HTML --
and the one escaping function of each dialect (every writer uses these)."""

from __future__ import annotations

import html
import re
from typing import Sequence

from lssbench.report.text import clean_text

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


_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]#|~])")
# GitHub's autolinks: "scheme://", "www." and e-mail addresses (the last survives backslash escapes,
# so a word joiner, invisible when rendered, follows the "@")
_LINE_START = re.compile(r"^(\d*)([-+.)])")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<![a-z0-9])(www)(\.)|(?<=[a-z0-9._+-])(@)(?=[a-z0-9])")


def markdown_escape(text: str) -> str:
    """Text safe in a Markdown table cell or list item: clean (see :func:`clean_text`), one line,
    no column breaks, no raw HTML, and no inline syntax -- emphasis, code, links, images and
    bare-URL autolinks all show as typed."""
    text = " ".join(clean_text(text).split())
    text = _MARKDOWN_SYNTAX.sub(r"\\\1", text.replace("&", "&amp;")).replace("<", "&lt;").replace(">", "&gt;")
    text = _LINE_START.sub(lambda m: f"{m.group(1) or ''}\\{m.group(2)}", text)  # no list markers
    return _AUTOLINK.sub(lambda m: "\\:" if m.group(1) else "@&#8288;" if m.group(4) else m.group(2) + "\\.", text)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Clean text (see :func:`clean_text`) on one line, with LaTeX's special characters escaped."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in " ".join(clean_text(text).split()))


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
    """Clean text (see :func:`clean_text`; tabs and newlines kept, HTML folds them) with HTML's
    special characters escaped."""
    return html.escape(clean_text(text, keep="\n\t"), quote=True)


def console_escape(text: str) -> str:
    """Clean text (see :func:`clean_text`): nothing that a terminal would act on."""
    return clean_text(text)


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
