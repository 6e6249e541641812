"""Detection metrics: COCO box AP (a vectorized pycocotools) and the authors' P/R/F1.

Conventions (see docs/metrics.md for worked examples):

* Boxes are PASCAL VOC corners ``xmin, ymin, xmax, ymax`` in float pixels; width is
  ``xmax - xmin`` with **no +1**, exactly as pycocotools computes IoU for ``bbox``.
* The ten categories are ``domain.CATEGORIES`` (``"L3-L4/left"`` ...).  COCO AP follows
  ``pycocotools.cocoeval.COCOeval`` (iouType ``bbox``, area range "all", at most 100
  detections per image and category) and reproduces it to floating-point rounding:
  ``mAP`` (AP over IoU 0.50:0.05:0.95), ``AP50``, ``AP75``, ``AR100``.
* A category without ground truth is ``None`` (JSON null) and left out of every mean;
  pycocotools reports -1 there.  Per level = mean over its sides with ground truth,
  per side = mean over its levels with ground truth, overall = mean over categories
  with ground truth; ``None`` when there is none.
* Ties in score are broken like pycocotools: by image order (``image_ids``), then by
  row order of the detections table; a warning says when ties exist.
* Detections on images outside ``image_ids`` are ignored and counted in a warning.
* The authors' protocol (levels only, greedy IoU >= 0.45, score >= 0.10, macro over
  levels) is reported under ``"authors_protocol"`` for continuity with the dataset paper.

Matching is done once by :func:`match_detections`; :meth:`DetectionMatches.summary`
re-weights images (bootstrap multiplicities) without matching again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lssbench.domain import CATEGORIES, LEVELS, SIDES, category_name

__all__ = [
    "IOU_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "MAX_DETECTIONS",
    "AUTHORS_IOU_THRESHOLD",
    "AUTHORS_SCORE_THRESHOLD",
    "box_iou",
    "DetectionMatches",
    "match_detections",
    "evaluate_detection",
]

#: COCOeval's IoU thresholds 0.50:0.05:0.95, built exactly as pycocotools builds them.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: COCOeval's 101 recall points 0:0.01:1.
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: Detections kept per image and category (COCOeval maxDets 100).
MAX_DETECTIONS = 100
#: COCOeval's "all" area range; an unmatched detection outside it is ignored (as there).
_AREA_RANGE = (0.0, 1e5**2)
#: The dataset paper's matching IoU and confidence cut-off.
AUTHORS_IOU_THRESHOLD = 0.45
AUTHORS_SCORE_THRESHOLD = 0.10

_GT_COLUMNS = ("image_id", "level", "side", "xmin", "ymin", "xmax", "ymax")
_DET_COLUMNS = ("image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax")
_COCO_KEYS = ("mAP", "AP50", "AP75", "AR100")
_T = len(IOU_THRESHOLDS)
_K = len(CATEGORIES)
_L = len(LEVELS)
_T50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_T75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])
#: Bytes of the longest curve's (TP entries, resamples) array in :meth:`DetectionMatches._coco_tables`:
#: the resamples per chunk (its fast axis) are chosen so each curve's arrays stay in a core's cache.
_CHUNK_BYTES = 1_250_000
#: A fixed number of resamples per chunk instead (None: by :data:`_CHUNK_BYTES`; tests set it).
_CHUNK_RESAMPLES: int | None = None


# --- IoU ------------------------------------------------------------------------------------


def _xywh(boxes: np.ndarray) -> np.ndarray:
    """Corners -> COCO ``[x, y, w, h]`` with ``w = xmax - xmin`` (no +1)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.stack([boxes[..., 0], boxes[..., 1], boxes[..., 2] - boxes[..., 0],
                     boxes[..., 3] - boxes[..., 1]], axis=-1)


def _iou_xywh(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of broadcastable ``[x, y, w, h]`` arrays, operation for operation as pycocotools'
    ``bbIou`` (maskApi.c), so thresholds compare identically."""
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    inter = w * h
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter
    overlap = (w > 0) & (h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def box_iou(boxes_a, boxes_b) -> np.ndarray:
    """Pairwise IoU ``(len(a), len(b))`` of corner boxes ``xmin, ymin, xmax, ymax``.

    Width and height are ``xmax - xmin`` and ``ymax - ymin`` (no +1), as pycocotools;
    boxes that only touch have IoU 0.
    """
    a = _xywh(np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4))
    b = _xywh(np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4))
    return _iou_xywh(a[:, None, :], b[None, :, :])


# --- input checks -----------------------------------------------------------------------------


def _table(frame: pd.DataFrame, columns, what: str) -> pd.DataFrame:
    if frame is None or (len(frame) == 0 and len(frame.columns) == 0):
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("image_id", "level", "side") else float)
                             for c in columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}")
    return frame.reset_index(drop=True)


def _categories(frame: pd.DataFrame, what: str) -> np.ndarray:
    """Category index 0-9 (``domain.CATEGORIES`` order) of each row."""
    level = pd.Index(LEVELS).get_indexer(frame["level"])
    side = pd.Index(SIDES).get_indexer(frame["side"])
    bad = (level < 0) | (side < 0)
    if bad.any():
        names = sorted(set(frame["level"][bad].astype(str) + "/" + frame["side"][bad].astype(str)))[:5]
        raise ValueError(f"{what}: unknown level/side {names}; expected canonical values of lssbench.domain")
    return level.astype(np.int64) * len(SIDES) + side


def _boxes(frame: pd.DataFrame, what: str) -> np.ndarray:
    boxes = frame[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{what}: box coordinates must be finite")
    if ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
        raise ValueError(f"{what}: every box needs xmax >= xmin and ymax >= ymin")
    return boxes


def _weights(image_weights, n_images: int, many: bool = False) -> np.ndarray:
    """Checked int64 image weights ``(n_images,)``, or ``(B, n_images)`` with ``many``."""
    if image_weights is None and not many:
        return np.ones(n_images, dtype=np.int64)
    w = np.asarray(image_weights)
    if (w.ndim != 1 + many) or w.shape[-1] != n_images:
        expected = f"(B, {n_images})" if many else f"({n_images})"
        raise ValueError(f"image_weights needs one value per image {expected}, got shape {w.shape}")
    if w.dtype.kind not in "iub":
        if not np.all(np.isfinite(w)) or not np.array_equal(w, np.round(w)):
            raise ValueError("image_weights must be non-negative integers")
    w = w.astype(np.int64)
    if (w < 0).any():
        raise ValueError("image_weights must be non-negative integers")
    return w


# --- matching -------------------------------------------------------------------------------


def _groups(keys: np.ndarray):
    """Rank of each element within its run of equal ``keys`` (``keys`` already sorted)."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    unique, start, counts = np.unique(keys, return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(unique)), counts)
    rank = np.arange(n) - start[group]
    return unique, group, rank, counts


def _pad(values: np.ndarray, group: np.ndarray, rank: np.ndarray, n_groups: int, width: int, fill):
    out = np.full((n_groups, width) + values.shape[1:], fill, dtype=values.dtype)
    out[group, rank] = values
    return out


def _coco_match(gt_key, gt_xywh, det_key, det_xywh, det_rank):
    """COCOeval.evaluateImg for all (image, category) groups at once.

    ``gt_*`` sorted by group (annotation order kept inside a group); ``det_*`` sorted by group
    then score descending (stable).  Each detection, in that order, takes the unmatched
    ground-truth box of highest IoU >= t (the last such box on equal IoU, as pycocotools).
    Returns ``matched (n_det, T)``.
    """
    matched = np.zeros((len(det_key), _T), dtype=bool)
    if len(gt_key) == 0 or len(det_key) == 0:
        return matched
    unique, group, rank, counts = _groups(gt_key)
    width = int(counts.max())
    padded = _pad(gt_xywh, group, rank, len(unique), width, np.nan)
    valid = _pad(np.ones(len(gt_key), bool), group, rank, len(unique), width, False)
    where = np.searchsorted(unique, det_key)
    where_c = np.minimum(where, len(unique) - 1)
    has_gt = unique[where_c] == det_key
    taken = np.zeros((_T, len(unique), width), dtype=bool)
    thresholds = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[:, None, None]
    candidates = np.flatnonzero(has_gt)
    ranks = det_rank[candidates]
    for r in range(int(ranks.max()) + 1 if len(ranks) else 0):
        dets = candidates[ranks == r]
        if len(dets) == 0:
            continue
        g = where_c[dets]
        iou = _iou_xywh(det_xywh[dets][:, None, :], padded[g])  # (n, width)
        free = valid[g][None] & ~taken[:, g, :] & (iou[None] >= thresholds)  # (T, n, width)
        score = np.where(free, iou[None], -1.0)
        best = width - 1 - np.argmax(score[:, :, ::-1], axis=2)  # last maximum
        ok = free.any(axis=2)
        t_idx, d_idx = np.nonzero(ok)
        matched[dets[d_idx], t_idx] = True
        taken[t_idx, g[d_idx], best[t_idx, d_idx]] = True
    return matched


def _authors_match(gt_key, gt_xywh, det_key, det_xywh):
    """Greedy matching of the dataset paper, all (image, level) groups at once.

    ``gt_*`` sorted by group (row order inside); ``det_*`` sorted by group then score
    descending (stable).  Each ground-truth box, in order, takes the unused detection of
    highest IoU if that IoU >= 0.45 (equal IoU: higher score, then earlier row).
    Returns ``(gt_hit, det_used)`` booleans.
    """
    gt_hit = np.zeros(len(gt_key), dtype=bool)
    det_used = np.zeros(len(det_key), dtype=bool)
    if len(gt_key) == 0 or len(det_key) == 0:
        return gt_hit, det_used
    unique, group, rank, counts = _groups(det_key)
    width = int(counts.max())
    padded = _pad(det_xywh, group, rank, len(unique), width, np.nan)
    valid = _pad(np.ones(len(det_key), bool), group, rank, len(unique), width, False)
    row = _pad(np.arange(len(det_key)), group, rank, len(unique), width, -1)
    used = np.zeros((len(unique), width), dtype=bool)
    where = np.minimum(np.searchsorted(unique, gt_key), len(unique) - 1)
    has_det = unique[where] == gt_key
    candidates = np.flatnonzero(has_det)
    _, _, gt_rank, _ = _groups(gt_key)
    ranks = gt_rank[candidates]
    for r in range(int(ranks.max()) + 1 if len(ranks) else 0):
        gts = candidates[ranks == r]
        if len(gts) == 0:
            continue
        g = where[gts]
        iou = _iou_xywh(gt_xywh[gts][:, None, :], padded[g])
        free = valid[g] & ~used[g] & (iou >= AUTHORS_IOU_THRESHOLD)
        best = np.argmax(np.where(free, iou, -1.0), axis=1)  # first maximum = higher score
        ok = free.any(axis=1)
        gt_hit[gts[ok]] = True
        used[g[ok], best[ok]] = True
        det_used[row[g[ok], best[ok]]] = True
    return gt_hit, det_used


# --- results ------------------------------------------------------------------------------------


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _mean_where(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Row means of ``values (B, K)`` over the ``present`` entries, NaN where none.

    Rows sharing a pattern of present entries are averaged together over exactly those
    entries, so each equals ``values[b, present[b]].mean()`` bit for bit.
    """
    out = np.full(values.shape[0], np.nan)
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        if pattern.any():
            rows = np.flatnonzero(inverse.reshape(-1) == p)
            out[rows] = values[np.ix_(rows, np.flatnonzero(pattern))].mean(axis=1)
    return out


def _mean_block(blocks):
    blocks = [b for b in blocks if b is not None]
    if not blocks:
        return None
    return {key: float(np.mean([b[key] for b in blocks])) for key in blocks[0]}


#: Rows at least this long are accumulated one row after another (contiguous, vectorised
#: ops); numpy's accumulate down axis 0 walks each column with a stride instead, 2-4 times
#: slower on the bootstrap's (entries, resamples) arrays.
_ROW_BY_ROW = 64


def _accumulate_rows(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
    """``ufunc.accumulate(values, axis=0)`` in place (``np.add`` or ``np.maximum``: the same
    numbers either way, integers or maxima being exact); returns ``values``."""
    if values.ndim != 2 or values.shape[1] < _ROW_BY_ROW:
        return ufunc.accumulate(values, axis=0, out=values)
    for i in range(1, len(values)):
        ufunc(values[i - 1], values[i], out=values[i])
    return values


def _points_reached(need: np.ndarray, values: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall points reached with a TP weight of m, per distinct npig ``values``: ``reached``
    (flat) at ``offsets[b, k] + m`` is the number of points with ``need <= m`` for resample b
    and category k (a curve's TP weight never exceeds its npig)."""
    top = int(values.max())
    counts = np.bincount((np.arange(len(values))[:, None] * (top + 2) + np.minimum(need, top + 1)).ravel(),
                         minlength=len(values) * (top + 2))
    reached = np.cumsum(counts.reshape(len(values), top + 2), axis=1)[:, :top + 1].ravel()
    return reached, which * (top + 1)


@dataclass(frozen=True, eq=False)
class DetectionMatches:
    """Detections matched once; :meth:`summary` and :meth:`headline` re-weight images.

    Built by :func:`match_detections`.  Arrays are over the kept detections of all
    categories, concatenated category by category in COCOeval's accumulation order
    (image order, score descending per image, then a stable sort by score).
    """

    image_ids: tuple
    det_image: np.ndarray  # (N,) image index of each accumulated detection
    det_matched: np.ndarray  # (T, N) bool, matched at each IoU threshold
    det_counted: np.ndarray  # (N,) bool, False for unmatched-and-outside-area-range (ignored)
    category_bounds: np.ndarray  # (K + 1,) slice bounds of each category in N
    tp_positions: np.ndarray  # (K * T, P) positions in N of the matched detections, padded (-1 ok)
    tp_images: np.ndarray  # (K * T, P) their image indices; n_images on padding
    gt_counts: np.ndarray  # (n_images, K) ground-truth boxes per image and category
    det_counts: np.ndarray  # (n_images,) detections on each evaluated image
    authors_tp: np.ndarray  # (n_images, L)
    authors_fp: np.ndarray  # (n_images, L)
    authors_fn: np.ndarray  # (n_images, L)
    num_ignored_detections: int
    warnings: tuple

    # -- core ---------------------------------------------------------------------------------
    def _coco_table(self, w: np.ndarray) -> np.ndarray:
        """``(K, 4)`` of mAP, AP50, AP75, AR100 per category; NaN where no ground truth.

        The 101 interpolated precisions of each curve are laid out and averaged as
        COCOeval.accumulate does, so the floats are COCOeval's to the last bit."""
        return self._coco_tables_chunk(w[None], exact=True)[0]

    def _coco_tables(self, weights: np.ndarray) -> np.ndarray:
        """:meth:`_coco_table` for many image weightings ``(B, n_images)`` at once: ``(B, K, 4)``.

        Only the true-positive entries of each precision/recall curve matter: the
        interpolated precision at recall r is the largest precision among entries with
        recall >= r, and among entries sharing a TP count the first (fewest FPs) has the
        largest precision.  So each (category, IoU) curve is evaluated at its TP entries
        only, with ``fp = (counted weight so far) - tp``; integer counts keep the precisions
        exact, and the 101 interpolated precisions are summed as precision x number of
        recall points it serves (equal to COCOeval's mean, and to :meth:`_coco_table`, to about
        1e-16: the bootstrap's path; ``_coco_table`` is the bit-exact one).  The curves are
        worked one at a time, each an ``(entries, resamples)`` array for every resample of a
        chunk, the chunk sized so the longest curve's array holds about :data:`_CHUNK_BYTES`.
        """
        weights = np.asarray(weights, dtype=np.int64)
        if not len(weights):
            return np.zeros((0, _K, 4))
        longest = max((hi - lo for lo, hi in self._tp_entries["spans"]), default=1)
        size = _CHUNK_RESAMPLES or max(8, _CHUNK_BYTES // (8 * longest))
        return np.concatenate([self._coco_tables_chunk(weights[i:i + size]) for i in range(0, len(weights), size)])

    def _coco_tables_chunk(self, w: np.ndarray, exact: bool = False) -> np.ndarray:
        n_b = w.shape[0]
        out = np.full((n_b, _K, 4), np.nan)
        npig = w @ self.gt_counts  # (B, K)
        has = npig > 0
        if not has.any():
            return out
        e = self._tp_entries
        tp_last = np.zeros((_K * _T, n_b), np.int64)
        area = np.zeros((_K * _T, n_b))  # sum of the 101 interpolated precisions of each curve
        # smallest TP count m with m / npig >= r, exactly as the float comparison rc >= r; it
        # depends on npig alone, so it is worked out once per distinct npig
        values, which = np.unique(npig, return_inverse=True)
        which = which.reshape(npig.shape)
        n_gt = values.astype(np.float64)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.ceil(RECALL_THRESHOLDS[None, :] * n_gt).astype(np.int64)
            need -= ((need - 1) / n_gt >= RECALL_THRESHOLDS) & (need > 0)
            need += need / n_gt < RECALL_THRESHOLDS
        curves = []  # (row, tp, pr) of each curve, for the exact path
        if len(e["rows"]):
            wt = np.ascontiguousarray(w.T)  # (n_images, B): resamples along the fast axis
            weights = wt.astype(np.float64)
            if not exact:
                reached, offsets = _points_reached(need, values, which)
            for k, (first_cut, end_cut, curve_rows) in enumerate(e["by_category"]):
                if not curve_rows:
                    continue
                # counted weight from the category's first detection up to each cut (an ignored
                # detection -- unmatched, outside COCO's area range -- is neither TP nor FP; a
                # matched one there is still a TP): one product of exact integers, a running sum
                upto = np.cumsum(e["segments"][first_cut:end_cut] @ weights, axis=0)
                for row, lo, hi in curve_rows:
                    tp_w = wt[e["images"][lo:hi]]  # (n, B)
                    tp = _accumulate_rows(np.add, tp_w.copy())  # the running TP weight of the curve
                    seen = upto[e["at_position"][lo:hi] - first_cut]
                    uncounted = e["uncounted"][lo:hi]
                    if uncounted.any():
                        seen += np.cumsum(tp_w * uncounted[:, None], axis=0)
                    # fp + tp == seen exactly (integers), so this is tp / (fp + tp + eps) of COCOeval
                    seen += np.spacing(1)
                    pr = np.divide(tp, seen, out=seen)
                    _accumulate_rows(np.maximum, pr[::-1])  # precision made monotone from the right
                    tp_last[row] = tp[-1]
                    if exact:
                        curves.append((row, tp, pr))
                        continue
                    # recall point r takes the precision of the first TP entry with tp >= need(r):
                    # entry j serves the points with tp[j-1] < need <= tp[j], none beyond the last
                    upto_r = reached[tp + offsets[:, k]]
                    upto_r[1:] -= upto_r[:-1].copy()
                    pr *= upto_r
                    area[row] = np.add.reduceat(pr, [0], axis=0)[0]  # reduceat's order of additions, not sum's
        if exact:
            return self._exact_tables(out, has, npig, need[which], curves, tp_last)
        n_points = len(RECALL_THRESHOLDS)
        area = area.reshape(_K, _T, n_b).transpose(2, 0, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = tp_last.reshape(_K, _T, n_b).transpose(2, 0, 1) / npig[:, :, None].astype(np.float64)
        out[:, :, 0] = area.sum(axis=2) / (_T * n_points)
        out[:, :, 1] = area[:, :, _T50] / n_points
        out[:, :, 2] = area[:, :, _T75] / n_points
        out[:, :, 3] = recall.mean(axis=-1)
        out[~has] = np.nan
        return out

    def _exact_tables(self, out, has, npig, need, curves, tp_last) -> np.ndarray:
        """The end of :meth:`_coco_tables_chunk` for a few resamples, bit for bit COCOeval's:
        the interpolated precision at each recall point laid out, then averaged."""
        n_b = out.shape[0]
        q = np.zeros((n_b, _K, _T, len(RECALL_THRESHOLDS)))
        for b in range(n_b):
            for row, tp, pr in curves:
                k, t = divmod(row, _T)
                found = np.searchsorted(tp[:, b], need[b, k], side="left")  # first entry with tp >= need
                inside = found < len(tp)
                q[b, k, t, inside] = pr[found[inside], b]
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = tp_last.reshape(_K, _T, n_b).transpose(2, 0, 1) / npig[:, :, None].astype(np.float64)
        for b in range(n_b):
            present = has[b]
            out[b, present, 0] = q[b, present].mean(axis=(1, 2))
            out[b, present, 1] = q[b, present, _T50].mean(axis=1)
            out[b, present, 2] = q[b, present, _T75].mean(axis=1)
            out[b, present, 3] = recall[b, present].mean(axis=1)
        return out

    @functools.cached_property
    def _tp_entries(self) -> dict:
        """The TP entries of every (category, IoU) curve end to end, for :meth:`_coco_tables`.

        ``images`` per entry; ``spans`` the ``(lo, hi)`` entries of each curve with entries;
        ``by_category[k] = (first_cut, end_cut, [(curve row, lo, hi), ...])``. The positions
        referenced (every entry's, and the one before each category's first detection) cut the
        accumulated detections into segments: ``segments (S, n_images)`` counts the counted
        detections of each image in each segment, so ``cumsum(segments[first_cut:end_cut] @
        w.T)`` is category k's counted weight up to each of its cuts, read at
        ``at_position - first_cut`` (per entry); ``uncounted`` marks entries outside the area range.
        """
        n_images = len(self.image_ids)
        lengths = (self.tp_images < n_images).sum(axis=1)  # entries come first, padding after
        rows = np.repeat(np.arange(_K * _T), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        cols = np.arange(len(rows)) - starts[rows]
        positions = self.tp_positions[rows, cols]
        category_starts = self.category_bounds[:_K] - 1
        cuts = np.unique(np.concatenate([positions, category_starts]))
        segment = np.searchsorted(cuts, np.arange(len(self.det_image)), side="left")  # first cut at or after
        keep = self.det_counted & (segment < len(cuts))
        segments = np.zeros((len(cuts), n_images))
        np.add.at(segments, (segment[keep], self.det_image[keep]), 1.0)
        at_position = np.searchsorted(cuts, positions)
        first_cuts = np.searchsorted(cuts, category_starts) + 1  # the cut after the category's start
        spans, by_category = [], []
        for k in range(_K):
            curve_rows = [(int(row), int(starts[row]), int(starts[row] + lengths[row]))
                          for row in range(k * _T, (k + 1) * _T) if lengths[row]]
            spans += [(lo, hi) for _, lo, hi in curve_rows]
            end_cut = max((int(at_position[lo:hi].max()) + 1 for _, lo, hi in curve_rows), default=0)
            by_category.append((int(first_cuts[k]), end_cut, curve_rows))
        return {"images": self.tp_images[rows, cols], "rows": rows, "spans": spans, "by_category": by_category,
                "segments": segments, "at_position": at_position, "uncounted": ~self.det_counted[positions]}

    def _interpolated_precision(self, w: np.ndarray, k: int, thresholds) -> tuple[np.ndarray, np.ndarray]:
        """COCOeval.accumulate for category ``k`` at IoU indices ``thresholds`` (all entries).

        Returns ``(q, final_recall)``: ``q (len(thresholds), 101)`` the interpolated precision
        at :data:`RECALL_THRESHOLDS` (precision made monotone from the right, 0 beyond the
        last recall reached) and the recall reached at each threshold.  Needs ground truth
        for ``k`` (``w @ gt_counts[:, k] > 0``).
        """
        thresholds = np.atleast_1d(thresholds)
        lo, hi = self.category_bounds[k], self.category_bounds[k + 1]
        q = np.zeros((len(thresholds), len(RECALL_THRESHOLDS)))
        if hi == lo:
            return q, np.zeros(len(thresholds))
        wd = w[self.det_image[lo:hi]]
        matched = self.det_matched[thresholds, lo:hi]
        tp = np.cumsum(matched * wd, axis=1).astype(np.float64)
        fp = np.cumsum((~matched & self.det_counted[lo:hi]) * wd, axis=1).astype(np.float64)
        rc = tp / float(w @ self.gt_counts[:, k])
        pr = tp / (fp + tp + np.spacing(1))
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(len(thresholds)):
            idx = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
            inside = idx < rc.shape[1]
            q[t, inside] = pr[t, idx[inside]]
        return q, rc[:, -1]

    def _coco_table_reference(self, w: np.ndarray) -> np.ndarray:
        """Same as :meth:`_coco_table`, written like COCOeval.accumulate (all entries)."""
        out = np.full((_K, 4), np.nan)
        npig = w @ self.gt_counts  # (K,)
        for k in range(_K):
            if npig[k] == 0:
                continue
            q, recall = self._interpolated_precision(w, k, np.arange(_T))
            out[k] = (q.mean(), q[_T50].mean(), q[_T75].mean(), recall.mean())
        return out

    def precision_curve(self, categories=CATEGORIES, iou_threshold: float = 0.5, image_weights=None):
        """The interpolated precision-recall curve behind COCO AP, averaged over ``categories``.

        Returns ``(recall, precision)``: ``recall`` the 101 points :data:`RECALL_THRESHOLDS`,
        ``precision`` the mean over the given categories *that have ground truth* of
        COCOeval's interpolated precision at each point, so ``precision.mean()`` is exactly
        the AP at ``iou_threshold`` of that group (``AP50`` of a level, a side or overall at
        0.5).  ``precision`` is ``None`` when no given category has ground truth.
        """
        t = np.flatnonzero(np.isclose(IOU_THRESHOLDS, iou_threshold))
        if len(t) != 1:
            raise ValueError(f"iou_threshold must be one of COCO's {[round(x, 2) for x in IOU_THRESHOLDS]}")
        w = _weights(image_weights, len(self.image_ids))
        npig = w @ self.gt_counts
        unknown = [c for c in categories if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; expected names of lssbench.domain.CATEGORIES")
        curves = [self._interpolated_precision(w, CATEGORIES.index(c), t)[0][0]
                  for c in categories if npig[CATEGORIES.index(c)] > 0]
        return RECALL_THRESHOLDS.copy(), (np.mean(curves, axis=0) if curves else None)

    # -- public -----------------------------------------------------------------------------
    def headline(self, image_weights=None) -> dict:
        """``{"mAP", "AP50"}`` over categories with ground truth (None if none has any)."""
        table = self._coco_table(_weights(image_weights, len(self.image_ids)))
        has = ~np.isnan(table[:, 0])
        if not has.any():
            return {"mAP": None, "AP50": None}
        return {"mAP": float(table[has, 0].mean()), "AP50": float(table[has, 1].mean())}

    def headlines(self, image_weights) -> dict[str, np.ndarray]:
        """:meth:`headline` for many image weightings at once (the bootstrap).

        ``image_weights``: non-negative integers ``(B, n_images)``. Returns ``{"mAP": (B,),
        "AP50": (B,)}`` floats, NaN where no category has ground truth; row ``b`` equals
        ``headline(image_weights[b])`` to about 1e-16 (see :meth:`_coco_tables`).
        """
        table = self._coco_tables(_weights(image_weights, len(self.image_ids), many=True))
        has = ~np.isnan(table[:, :, 0])
        return {"mAP": _mean_where(table[:, :, 0], has), "AP50": _mean_where(table[:, :, 1], has)}

    def summary(self, image_weights=None) -> dict:
        """The full results dict (see :func:`evaluate_detection`), images weighted by
        ``image_weights`` (non-negative integers in ``image_ids`` order; 0 drops an image,
        2 counts it twice).  ``None`` = all ones, identical to COCOeval."""
        w = _weights(image_weights, len(self.image_ids))
        table = self._coco_table(w)
        per_class = {}
        for k, name in enumerate(CATEGORIES):
            per_class[name] = None if np.isnan(table[k, 0]) else dict(zip(_COCO_KEYS, map(float, table[k])))
        per_level = {level: _mean_block([per_class[category_name(level, s)] for s in SIDES]) for level in LEVELS}
        per_side = {side: _mean_block([per_class[category_name(lv, side)] for lv in LEVELS]) for side in SIDES}
        overall = _mean_block(list(per_class.values())) or dict.fromkeys(_COCO_KEYS)
        result = dict(overall)
        result.update(
            per_class=per_class,
            per_level=per_level,
            per_side=per_side,
            authors_protocol=self._authors(w),
            num_detections=int(w @ self.det_counts),
            num_ground_truth=int((w @ self.gt_counts).sum()),
            num_ignored_detections=int(self.num_ignored_detections),
            warnings=list(self.warnings),
        )
        return result

    def _authors(self, w: np.ndarray) -> dict:
        tp, fp, fn = (w @ self.authors_tp, w @ self.authors_fp, w @ self.authors_fn)
        per_level = {}
        for i, level in enumerate(LEVELS):
            entry = {"precision": None, "recall": None, "f1": None,
                     "tp": int(tp[i]), "fp": int(fp[i]), "fn": int(fn[i])}
            if tp[i] + fn[i] > 0:
                p = tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] > 0 else 0.0
                r = tp[i] / (tp[i] + fn[i])
                entry.update(precision=float(p), recall=float(r),
                             f1=float(2 * p * r / (p + r)) if p + r > 0 else 0.0)
            per_level[level] = entry
        return {
            "precision": _mean(e["precision"] for e in per_level.values()),
            "recall": _mean(e["recall"] for e in per_level.values()),
            "f1": _mean(e["f1"] for e in per_level.values()),
            "per_level": per_level,
        }


def match_detections(ground_truth: pd.DataFrame, detections: pd.DataFrame, image_ids) -> DetectionMatches:
    """Match detections to ground truth once, for COCO AP and the authors' protocol.

    ``ground_truth``: ``image_id, level, side, xmin, ymin, xmax, ymax`` (extra columns
    allowed; row order = annotation order).  ``detections``: ``image_id, level, side,
    score, xmin, ymin, xmax, ymax`` (row order breaks ties within an image).
    ``image_ids``: the evaluated images, in the order that breaks score ties across images
    (the COCO image id is position + 1); images without boxes belong in it.
    Corners, width ``xmax - xmin`` (no +1).  Raises ValueError on malformed input.
    """
    image_ids = list(image_ids)
    index = pd.Index(image_ids)
    if not index.is_unique:
        raise ValueError("image_ids must be unique")
    n_images = len(image_ids)
    gt = _table(ground_truth, _GT_COLUMNS, "ground truth")
    dt = _table(detections, _DET_COLUMNS, "detections")
    warnings = []

    gt_img = index.get_indexer(gt["image_id"])
    if (gt_img < 0).any():
        raise ValueError(f"ground truth has {int((gt_img < 0).sum())} box(es) on images outside image_ids")
    gt_cat = _categories(gt, "ground truth")
    gt_boxes = _boxes(gt, "ground truth")
    if (((gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])) > _AREA_RANGE[1]).any():
        raise ValueError("ground truth: box area above 1e10, outside COCO's 'all' area range")

    dt_img = index.get_indexer(dt["image_id"]) if len(dt) else np.zeros(0, np.int64)
    unknown = dt_img < 0
    n_unknown = int(unknown.sum())
    if n_unknown:
        warnings.append(f"{n_unknown} detection(s) on images outside the evaluated set were ignored")
    dt = dt.loc[~unknown].reset_index(drop=True)
    dt_img = dt_img[~unknown]
    dt_cat = _categories(dt, "detections")
    dt_boxes = _boxes(dt, "detections")
    dt_score = dt["score"].to_numpy(dtype=np.float64)
    if not np.isfinite(dt_score).all():
        raise ValueError("detections: scores must be finite")

    # -- COCO: per (image, category) groups -------------------------------------------------
    gt_key = gt_img * _K + gt_cat
    g_order = np.argsort(gt_key, kind="stable")
    dt_key = dt_img * _K + dt_cat
    d_order = np.lexsort((-dt_score, dt_key))  # stable: row order breaks ties
    d_key = dt_key[d_order]
    _, _, d_rank, _ = _groups(d_key)
    keep = d_rank < MAX_DETECTIONS
    n_cut = int((~keep).sum())
    if n_cut:
        warnings.append(f"{n_cut} detection(s) beyond the {MAX_DETECTIONS} highest-scoring per image "
                        "and category were not scored (COCO maxDets)")
    d_order, d_key, d_rank = d_order[keep], d_key[keep], d_rank[keep]
    d_xywh = _xywh(dt_boxes[d_order])
    matched = _coco_match(gt_key[g_order], _xywh(gt_boxes[g_order]), d_key, d_xywh, d_rank)
    area = d_xywh[:, 2] * d_xywh[:, 3]
    counted = (area >= _AREA_RANGE[0]) & (area <= _AREA_RANGE[1])
    # accumulation order: category, then stable sort by -score of the image-ordered list
    d_cat = d_key % _K
    d_score = dt_score[d_order]
    acc = np.lexsort((-d_score, d_cat))  # stable: keeps image order, then per-image order
    bounds = np.searchsorted(d_cat[acc], np.arange(_K + 1), side="left")

    tied = 0
    s_cat, s_score = d_cat[acc], d_score[acc]
    if len(acc) > 1:
        same = (s_cat[1:] == s_cat[:-1]) & (s_score[1:] == s_score[:-1])
        tied = int(np.count_nonzero(np.r_[same, False] | np.r_[False, same]))
    if tied:
        warnings.append(f"{tied} detection(s) share their score with another of the same category; "
                        "ties are broken by image order, then row order (as pycocotools)")

    gt_counts = np.zeros((n_images, _K), dtype=np.int64)
    np.add.at(gt_counts, (gt_img, gt_cat), 1)
    missing = [name for k, name in enumerate(CATEGORIES) if gt_counts[:, k].sum() == 0]
    if missing:
        warnings.append(f"no ground truth for {', '.join(missing)}: reported as null and left out of means")

    # -- authors' protocol: per (image, level), side ignored -----------------------------------
    gt_lvl = gt_cat // len(SIDES)
    dt_lvl = dt_cat // len(SIDES)
    a_gt_key = gt_img * _L + gt_lvl
    a_g = np.argsort(a_gt_key, kind="stable")
    confident = np.flatnonzero(dt_score >= AUTHORS_SCORE_THRESHOLD)
    a_dt_key = dt_img[confident] * _L + dt_lvl[confident]
    a_d = confident[np.lexsort((-dt_score[confident], a_dt_key))]
    gt_hit, det_used = _authors_match(a_gt_key[a_g], _xywh(gt_boxes[a_g]),
                                      dt_img[a_d] * _L + dt_lvl[a_d], _xywh(dt_boxes[a_d]))
    tp = np.zeros((n_images, _L), dtype=np.int64)
    fp = np.zeros((n_images, _L), dtype=np.int64)
    fn = np.zeros((n_images, _L), dtype=np.int64)
    np.add.at(tp, (gt_img[a_g][gt_hit], gt_lvl[a_g][gt_hit]), 1)
    np.add.at(fn, (gt_img[a_g][~gt_hit], gt_lvl[a_g][~gt_hit]), 1)
    np.add.at(fp, (dt_img[a_d][~det_used], dt_lvl[a_d][~det_used]), 1)

    # padded positions of the matched detections of each (category, IoU threshold) curve
    matched_acc = matched[acc]  # (N, T)
    rows = [np.flatnonzero(matched_acc[bounds[k]:bounds[k + 1], t]) + bounds[k]
            for k in range(_K) for t in range(_T)]
    width = max((len(r) for r in rows), default=0)
    tp_positions = np.zeros((_K * _T, width), dtype=np.int64)
    tp_images = np.full((_K * _T, width), n_images, dtype=np.int64)
    acc_image = (d_key // _K)[acc]
    for i, r in enumerate(rows):
        tp_positions[i, :len(r)] = r
        tp_positions[i, len(r):] = r[-1] if len(r) else bounds[i // _T] - 1  # seen = 0
        tp_images[i, :len(r)] = acc_image[r]

    return DetectionMatches(
        image_ids=tuple(image_ids),
        det_image=acc_image,
        det_matched=np.ascontiguousarray(matched_acc.T),
        det_counted=counted[acc],
        category_bounds=bounds,
        tp_positions=tp_positions,
        tp_images=tp_images,
        gt_counts=gt_counts,
        det_counts=np.bincount(dt_img, minlength=n_images).astype(np.int64),
        authors_tp=tp,
        authors_fp=fp,
        authors_fn=fn,
        num_ignored_detections=n_unknown,
        warnings=tuple(warnings),
    )


def evaluate_detection(ground_truth: pd.DataFrame, detections: pd.DataFrame, image_ids) -> dict:
    """COCO box AP (== pycocotools) and the authors' P/R/F1 in one call.

    Returns ``{"mAP", "AP50", "AP75", "AR100", "per_class": {category: {...} | None},
    "per_level": {level: {...} | None}, "per_side": {side: {...} | None},
    "authors_protocol": {"precision", "recall", "f1", "per_level": {level: {"precision",
    "recall", "f1", "tp", "fp", "fn"}}}, "num_detections", "num_ground_truth",
    "num_ignored_detections", "warnings"}``.  None marks "no ground truth" (JSON null),
    never 0 or -1.  See :func:`match_detections` for the inputs.
    """
    return match_detections(ground_truth, detections, image_ids).summary()
