"""Figures as inline SVG strings (matplotlib, Agg/SVG backend, imported only when drawing).

Every function takes plain numbers (no files, no results parsing) and returns an ``<svg>``
element ready to paste into HTML: no XML prolog, no external reference, text kept as text
(``svg.fonttype = none``, so names are searchable and stay text), math parsing off (a ``$``
in a team name is a dollar sign), ids salted per figure so several figures share a page,
and no date in the metadata, so the same numbers give the same bytes.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from typing import Mapping, Sequence

import numpy as np

from lssbench.domain import GRADE_NAMES, SEGMENTATION_CLASSES

#: Colours of lines and markers, in order (matplotlib's colour-blind-safe "tableau" set).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
REFERENCE_COLOUR = "#888888"
_WIDTH_IN = 6.4  # figures are scaled to their column by CSS; this sets the text-to-plot ratio


@contextmanager
def _figure(name: str, width: float = _WIDTH_IN, height: float = 4.0, **subplots):
    """A figure drawn with fixed, page-friendly settings; yields ``(fig, axes)``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    style = {"svg.fonttype": "none", "svg.hashsalt": f"lssbench-{name}", "text.parse_math": False,
             "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
             "axes.grid": True, "grid.color": "#e4e4e4", "grid.linewidth": 0.6, "axes.axisbelow": True,
             "figure.dpi": 100, "savefig.bbox": "tight", "image.interpolation": "nearest"}
    with matplotlib.rc_context(style):
        fig, axes = plt.subplots(figsize=(width, height), **subplots)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def to_svg(fig, name: str) -> str:
    """The figure as one ``<svg>`` element (prolog, DOCTYPE and comments removed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text, flags=re.S)
    # responsive: CSS sets the width, the viewBox keeps the aspect ratio
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', text, count=1)
    # ids unique on a page holding several figures: every id and reference gets the figure's name
    text = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)
    return text.replace("<svg", f'<svg class="figure" data-figure="{name}" role="img"', 1)


def _finish(fig, axes_list, name: str) -> str:
    for ax in axes_list:
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            label.set_parse_math(False)
    return to_svg(fig, name)


# --- detection --------------------------------------------------------------------------------
def pr_curves(recall: Sequence[float], curves: Mapping[str, Sequence[float]], *, title: str,
              name: str, reference: Mapping[str, Sequence[float]] | None = None) -> str:
    """Interpolated precision against recall, one line per group ``{label: precision}``;
    ``reference`` curves (e.g. "all") are drawn dashed in grey.  Legends give the area (AP)."""
    with _figure(name, height=3.6) as (fig, ax):
        for i, (label, precision) in enumerate(curves.items()):
            ax.step(recall, precision, where="post", color=PALETTE[i % len(PALETTE)], linewidth=1.4,
                    label=f"{label}  AP {np.mean(precision):.3f}")
        for label, precision in (reference or {}).items():
            ax.step(recall, precision, where="post", color=REFERENCE_COLOUR, linestyle="--", linewidth=1.2,
                    label=f"{label}  AP {np.mean(precision):.3f}")
        ax.set(xlim=(0, 1), ylim=(0, 1.03), xlabel="recall", ylabel="interpolated precision", title=title)
        ax.set_aspect("equal")
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
        return _finish(fig, [ax], name)


# --- grading ----------------------------------------------------------------------------------
def confusion_matrices(counts: Sequence[Sequence[int]], *, name: str = "confusion") -> str:
    """The grade confusion matrix twice: counts, and each truth row normalised to 1."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
    with _figure(name, width=_WIDTH_IN * 1.25, height=3.3, ncols=2) as (fig, axes):
        for ax, matrix, title, text in ((axes[0], counts, "counts", lambda v: f"{v:.0f}"),
                                        (axes[1], normalised, "row-normalised (recall per grade)",
                                         lambda v: "-" if np.isnan(v) else f"{v:.2f}")):
            scale = matrix / np.nanmax(matrix) if np.nanmax(np.nan_to_num(matrix)) > 0 else np.zeros_like(matrix)
            ax.imshow(np.nan_to_num(scale), cmap="Blues", vmin=0, vmax=1)
            for i in range(matrix.shape[0]):
                for j in range(matrix.shape[1]):
                    dark = np.nan_to_num(scale[i, j]) > 0.55
                    ax.text(j, i, text(matrix[i, j]), ha="center", va="center",
                            color="white" if dark else "black")
            ax.set_xticks(range(len(GRADE_NAMES)), GRADE_NAMES)
            ax.set_yticks(range(len(GRADE_NAMES)), GRADE_NAMES)
            ax.set(xlabel="predicted", ylabel="truth", title=title)
            ax.grid(False)
        fig.tight_layout()
        return _finish(fig, list(axes), name)


def reliability(panels: Sequence[tuple[str, Sequence[float], Sequence[float], Sequence[int]]], *,
                name: str = "reliability") -> str:
    """Reliability diagrams: per panel ``(title, mean predicted probability, observed
    frequency, count)`` per bin; the diagonal is perfect calibration, marker area ~ count."""
    with _figure(name, width=_WIDTH_IN * 1.25, height=3.4, ncols=len(panels)) as (fig, axes):
        axes = np.atleast_1d(axes)
        for ax, (title, predicted, observed, count) in zip(axes, panels):
            ax.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle="--", linewidth=1)
            count = np.asarray(count, dtype=float)
            sizes = 15 + 200 * count / count.max() if len(count) and count.max() > 0 else 20
            ax.plot(predicted, observed, color=PALETTE[0], linewidth=1.2)
            ax.scatter(predicted, observed, s=sizes, color=PALETTE[0], zorder=3)
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability", ylabel="observed frequency",
                   title=title)
            ax.set_aspect("equal")
        fig.tight_layout()
        return _finish(fig, list(axes), name)


# --- segmentation -----------------------------------------------------------------------------
def distributions(values: Mapping[str, Sequence[float]], *, xlabel: str, name: str,
                  log: bool = False) -> str:
    """Per-class distributions over cases: a box plot with every case as a dot."""
    labels = list(values)
    with _figure(name, height=0.45 * len(labels) + 0.9) as (fig, ax):
        data = [np.asarray(values[k], dtype=float) for k in labels]
        ax.boxplot(data, orientation="horizontal", widths=0.55, showfliers=False,
                   medianprops={"color": PALETTE[1]}, boxprops={"color": "#444"})
        rng = np.random.default_rng(0)
        for i, row in enumerate(data, start=1):
            ax.scatter(row, i + rng.uniform(-0.18, 0.18, len(row)), s=7, color=PALETTE[0], alpha=0.55,
                       linewidths=0, zorder=3)
        ax.set_yticks(range(1, len(labels) + 1), labels)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        if log:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("symlog", linthresh=1.0)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        return _finish(fig, [ax], name)


def class_colours() -> np.ndarray:
    """``(n_classes, 3)`` RGB in 0-1 of :data:`lssbench.domain.SEGMENTATION_CLASSES`."""
    return np.array([c.colour for c in SEGMENTATION_CLASSES], dtype=float) / 255.0


def _boundary(mask: np.ndarray) -> np.ndarray:
    edge = np.zeros(mask.shape, dtype=bool)
    edge[1:, :] |= mask[1:, :] != mask[:-1, :]
    edge[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    return edge


def overlay_rgb(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB images (0-1) of the truth, the prediction, and the prediction with the truth's
    class boundaries drawn in white and wrongly labelled pixels lightened."""
    colours = class_colours()
    truth_rgb, pred_rgb = colours[truth], colours[prediction]
    overlay = pred_rgb * 0.75
    wrong = truth != prediction
    overlay[wrong] = 0.5 * pred_rgb[wrong] + 0.5
    overlay[_boundary(truth)] = 1.0
    return truth_rgb, pred_rgb, overlay


def overlays(cases: Sequence[tuple[str, np.ndarray, np.ndarray]], *, name: str = "worst-cases",
             max_pixels: int = 192) -> str:
    """One row per case ``(title, truth mask, predicted mask)``: truth, prediction, overlay.

    Masks are class indices (``domain.SEGMENTATION_CLASSES`` colours); large masks are
    subsampled to at most ``max_pixels`` on their long side for the page.
    """
    rows = max(len(cases), 1)
    with _figure(name, width=_WIDTH_IN, height=2.2 * rows, nrows=rows, ncols=3, squeeze=False) as (fig, axes):
        for row, (title, truth, prediction) in enumerate(cases):
            step = max(1, int(np.ceil(max(truth.shape) / max_pixels)))
            images = overlay_rgb(truth[::step, ::step], prediction[::step, ::step])
            for col, (image, what) in enumerate(zip(images, ("ground truth", "prediction", "overlay"))):
                ax = axes[row, col]
                ax.imshow(image)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                ax.set_title(f"{title}\n{what}" if col == 0 else what, fontsize=8, loc="left")
        handles = _class_legend(fig)
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8)
        fig.tight_layout(rect=(0, 0.06 / rows * 2, 1, 1))
        return _finish(fig, list(axes.ravel()), name)


def _class_legend(fig):
    from matplotlib.patches import Patch

    return [Patch(facecolor=tuple(c / 255 for c in cls.colour), edgecolor="#999", label=cls.label)
            for cls in SEGMENTATION_CLASSES]


# --- leaderboard ------------------------------------------------------------------------------
def forest(rows: Sequence[tuple[str, float, float | None, float | None, bool]], *, xlabel: str,
           name: str, higher_is_better: bool = True) -> str:
    """A forest plot: per row ``(label, value, lo, hi, is_reference)`` a dot and its 95 %
    interval, first row on top; reference rows grey with hollow markers.  The axis spans the
    submissions; a reference far outside is drawn at the edge as a triangle with its value."""
    n = max(len(rows), 1)
    own = [x for label, v, lo, hi, ref in rows if not ref for x in (v, lo, hi) if x is not None]
    span = (min(own), max(own)) if own else None
    if span is not None:
        pad = max((span[1] - span[0]) * 0.08, 0.02 * max(abs(span[1]), 1e-9), 1e-3)
        span = (span[0] - pad, span[1] + pad)
    with _figure(name, width=4.6, height=0.3 * n + 0.85) as (fig, ax):
        for i, (label, value, lo, hi, is_reference) in enumerate(rows):
            colour = REFERENCE_COLOUR if is_reference else PALETTE[0]
            if is_reference and span is not None and not span[0] <= value <= span[1]:
                edge = span[1] if value > span[1] else span[0]
                ax.scatter([edge], [i], marker=">" if value > span[1] else "<", s=30, color=colour, zorder=3)
                ax.annotate(f"{value:g}", (edge, i), xytext=(-4 if value > span[1] else 4, 6),
                            textcoords="offset points", ha="right" if value > span[1] else "left",
                            fontsize=7, color=colour)
                continue
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [i, i], color=colour, linewidth=2, solid_capstyle="butt")
            ax.scatter([value], [i], s=30, zorder=3, color="white" if is_reference else colour,
                       edgecolors=colour, linewidths=1.5)
        if span is not None:
            ax.set_xlim(*span)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows])
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel(f"{xlabel} ({'higher' if higher_is_better else 'lower'} is better)")
        ax.grid(axis="y", visible=False)
        return _finish(fig, [ax], name)


def heatmap(matrix: Sequence[Sequence[float | None]], *, rows: Sequence[str], columns: Sequence[str],
            title: str, name: str, vmin: float = 0.0, vmax: float = 1.0, reverse: bool = False,
            digits: int = 2) -> str:
    """A labelled heatmap with the value in every cell; ``None`` cells blank and marked ``-``.
    ``reverse`` for lower-is-better values (dark = good either way)."""
    values = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    n_rows, n_cols = values.shape if values.size else (len(rows), len(columns))
    with _figure(name, width=max(_WIDTH_IN, 0.62 * n_cols + 2.2), height=0.36 * n_rows + 1.4) as (fig, ax):
        ax.imshow(np.ma.masked_invalid(values), cmap="viridis_r" if reverse else "viridis", vmin=vmin, vmax=vmax,
                  aspect="auto")
        for i in range(n_rows):
            for j in range(n_cols):
                v = values[i, j]
                level = (v - vmin) / ((vmax - vmin) or 1)
                light = level > 0.6 if not reverse else level < 0.4
                ax.text(j, i, "-" if np.isnan(v) else f"{v:.{digits}f}", ha="center", va="center", fontsize=8,
                        color="black" if np.isnan(v) or light else "white")
        ax.set_xticks(range(n_cols), columns, rotation=45, ha="right")
        ax.set_yticks(range(n_rows), rows)
        ax.set_title(title)
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        return _finish(fig, [ax], name)

