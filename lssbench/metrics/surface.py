"""Surface-distance core shared by every distance metric: one pass per case for every class.

Conventions (identical to ``medpy.metric.binary.__surface_distances`` with the default
``connectivity=1``):

* 2-D masks indexed ``[row, col]``: boolean masks, or class-index images (non-negative
  integers) whose classes are scored as the binary pairs ``labels == c``;
  ``spacing_mm = (row_mm, col_mm)`` in DICOM PixelSpacing order; every distance is in
  millimetres.
* The surface (border) of a mask is ``mask XOR binary_erosion(mask, cross)`` with the
  4-neighbour cross and pixels outside the image counted as background, so an object
  touching the image edge has its edge pixels on the surface.
* The distance from a surface pixel of one mask to the other mask is the Euclidean
  distance (in mm) to the nearest *surface* pixel of the other mask, as medpy reads it off
  ``scipy.ndimage.distance_transform_edt(~other_border, sampling=spacing_mm)``.

How it is fast and still medpy's numbers (:func:`class_surface_distances`, one pass per case
serving every class and both directions):

* one vectorised pass over each class-index image finds the surface pixels of every class
  (a pixel is on its class's surface when it lies on the image edge or a 4-neighbour has
  another class -- exactly the erosion rule above);
* a window search: both images' surfaces are written into one padded array holding each
  surface pixel's class, and every surface pixel of every class looks at the other image
  through the offsets of a small window (``WINDOW_PX``), nearest offset first; the first
  offset holding its own class gives the distance. Only offsets nearer than anything
  outside the window are used, so that distance is the minimum;
* the few pixels with no same-class surface in the window are compared with every
  same-class surface pixel of the other image (``BRUTE_FORCE_PAIRS``); when there are many
  (a poor prediction), they ask one k-d tree over the surface pixels of both images and
  all classes instead (scipy is imported only then): each pixel sits at ``(row*row_mm,
  col*col_mm, lift)``, the lift a multiple, one per (image, class), of a length larger than
  the image diagonal. A query asks at the lift of the *other* image's same class, so its
  nearest point is always a surface pixel of that class, and the lift adds exactly 0;
* every distance is scipy's own EDT formula ``sqrt((drow*row_mm)**2 + (dcol*col_mm)**2)``
  on the integer offsets.

The tests check element-wise equality with ``distance_transform_edt`` and medpy on random
cases. Where two surface pixels tie at exactly the same distance but different offsets (only
possible with equal row and column spacing other than 1, e.g. offsets (3, 4) and (5, 0)),
the formula can differ from medpy's in the last digit (about 1e-16 relative), because
either pixel may be the one taken.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

#: Pixels of margin around the union bounding box; one suffices (see :func:`surface_distances`).
CROP_MARGIN = 1
#: Half-width (pixels) of the window searched offset by offset, nearest first.
WINDOW_PX = 4
#: Pixels farther than the window are compared with every same-class surface pixel of the
#: other image when that is at most this many pairs per case, else a k-d tree is asked.
BRUTE_FORCE_PAIRS = 4_000_000
#: Largest class index accepted (tables are sized by the largest index present).
MAX_LABEL = 65535


class SurfaceDistances(NamedTuple):
    """Directed surface distances (mm) of one class, in row-major order of the surface pixels.

    ``pred_to_truth[i]`` is the distance from the i-th surface pixel of the prediction to
    the nearest surface pixel of the truth (medpy's ``__surface_distances(pred, truth)``);
    ``truth_to_pred`` the other way round.
    """

    pred_to_truth: np.ndarray
    truth_to_pred: np.ndarray


def check_spacing(spacing_mm, ndim: int = 2) -> np.ndarray:
    """``spacing_mm`` as a float64 array of ``ndim`` positive finite values; ValueError otherwise."""
    spacing = np.asarray(spacing_mm, dtype=np.float64).reshape(-1)
    if spacing.size == 1:
        spacing = np.repeat(spacing, ndim)
    if spacing.size != ndim or not np.all(np.isfinite(spacing)) or not np.all(spacing > 0):
        raise ValueError(f"spacing_mm must be {ndim} positive finite numbers (row_mm, col_mm), "
                         f"got {spacing_mm!r}")
    return np.ascontiguousarray(spacing)


def border(mask: np.ndarray) -> np.ndarray:
    """Surface pixels of a 2-D boolean mask: ``mask ^ binary_erosion(mask, 4-neighbour cross)``.

    Pixels beyond the image count as background (scipy's ``border_value=0``), so mask
    pixels on the image edge are surface pixels.
    """
    mask = np.asarray(mask, dtype=bool)
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    inner[0, :] = False
    inner[-1, :] = False
    inner[:, 0] = False
    inner[:, -1] = False
    return mask & ~inner


def union_box(truth: np.ndarray, prediction: np.ndarray,
              margin: int = CROP_MARGIN) -> tuple[slice, slice] | None:
    """Row and column slices of the union's bounding box grown by ``margin`` (clipped to the image).

    ``None`` when both masks are empty.
    """
    union = truth | prediction
    rows = np.flatnonzero(union.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(union.any(axis=0))
    height, width = union.shape
    return (slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, height)),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, width)))


def _surface_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean image of the pixels on the surface of their own class (see :func:`label_surfaces`)."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    vertical = labels[1:, :] != labels[:-1, :]
    horizontal = labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def label_surfaces(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface pixels of every class of a class-index image in one pass: ``(rows, cols, labels)``.

    A pixel is on the surface of its class when it lies on the image edge or a 4-neighbour
    has another class -- exactly ``border(labels == c)`` for every class ``c``. Pixels come
    in row-major order, so selecting one class keeps ``np.nonzero(border(labels == c))`` order.
    """
    labels = np.asarray(labels)
    rows, cols = _surface_pixels(labels)
    return rows, cols, labels[rows, cols]


def _surface_pixels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (row-major order) of :func:`_surface_mask`; flat indices are faster than 2-D."""
    return np.divmod(np.flatnonzero(_surface_mask(labels)), labels.shape[1])


def _edt_arithmetic(d_row: np.ndarray, d_col: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """scipy's EDT formula on integer pixel offsets: float64, times sampling, squared, summed, sqrt."""
    d_row = d_row.astype(np.float64)
    d_col = d_col.astype(np.float64)
    d_row *= spacing[0]
    d_col *= spacing[1]
    np.multiply(d_row, d_row, d_row)
    np.multiply(d_col, d_col, d_col)
    d_row += d_col
    return np.sqrt(d_row, out=d_row)


def _lifted_nearest(target_rows, target_cols, target_lift, query_rows, query_cols, query_lift,
                    spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from each query pixel to the nearest target pixel of the same lift.

    Lifts are equal multiples of a length above every in-image distance, so the nearest
    point of a query is always a target of its lift (the caller ensures one exists).
    """
    from scipy.spatial import cKDTree  # lazy: scipy is heavy to import and only scoring needs it

    if len(query_rows) == 0:
        return np.zeros(0, dtype=np.float64)
    tree = cKDTree(np.column_stack([target_rows * spacing[0], target_cols * spacing[1], target_lift]),
                   balanced_tree=False, compact_nodes=False)
    _, nearest = tree.query(np.column_stack([query_rows * spacing[0], query_cols * spacing[1], query_lift]))
    return _edt_arithmetic(target_rows[nearest].astype(np.int64) - query_rows,
                           target_cols[nearest].astype(np.int64) - query_cols, spacing)


def nearest_distances(target_rows: np.ndarray, target_cols: np.ndarray, query_rows: np.ndarray,
                      query_cols: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from each query pixel to the nearest target pixel (targets non-empty).

    Equal to ``distance_transform_edt(~target, sampling=spacing)[query]``: the nearest
    pixel comes from a k-d tree, the distance from scipy's own arithmetic.
    """
    target_rows, target_cols = np.asarray(target_rows, np.int64), np.asarray(target_cols, np.int64)
    query_rows, query_cols = np.asarray(query_rows, np.int64), np.asarray(query_cols, np.int64)
    return _lifted_nearest(target_rows, target_cols, np.zeros(len(target_rows)),
                           query_rows, query_cols, np.zeros(len(query_rows)), check_spacing(spacing))


def _distances_to(target_border: np.ndarray, query_rows: np.ndarray, query_cols: np.ndarray,
                  spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from each query pixel to the nearest pixel of the boolean ``target_border``."""
    target_rows, target_cols = np.nonzero(target_border)
    return nearest_distances(target_rows, target_cols, query_rows, query_cols, spacing)


def label_image(labels: np.ndarray, name: str) -> np.ndarray:
    """``labels`` as a class-index image (booleans as uint8); ValueError naming ``name`` unless it
    holds integers in 0-MAX_LABEL (an unsigned mask of at most 16 bits is taken unscanned)."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        return labels.view(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold class indices (integers) or booleans, got dtype {labels.dtype}")
    if labels.dtype.kind == "u" and np.iinfo(labels.dtype).max <= MAX_LABEL:
        return labels  # every value is a valid index (masks are uint8): nothing to look at
    if labels.size and int(labels.min()) < 0:
        raise ValueError(f"{name} must hold non-negative class indices, found {int(labels.min())}")
    if labels.size and int(labels.max()) > MAX_LABEL:
        raise ValueError(f"{name} holds class index {int(labels.max())}; at most {MAX_LABEL} are supported")
    return labels


def _window_offsets(spacing: np.ndarray, radius: int):
    """Pixel offsets of the ``(2r+1)^2`` window closer than any pixel outside it, nearest first.

    Returns ``(d_row, d_col, distance_mm)`` sorted by distance (scipy's arithmetic). A pixel
    outside the window is at least ``(r+1) * min(spacing)`` away, so a target found at one
    of these offsets is a nearest one.
    """
    d_row, d_col = (a.ravel() for a in np.mgrid[-radius:radius + 1, -radius:radius + 1])
    distance = _edt_arithmetic(d_row, d_col, spacing)
    beyond = _edt_arithmetic(np.array([radius + 1, 0]), np.array([0, radius + 1]), spacing).min()
    keep = np.flatnonzero(distance < beyond)
    keep = keep[np.argsort(distance[keep], kind="stable")]
    return d_row[keep], d_col[keep], distance[keep]


def _window_shells(spacing: np.ndarray, radius: int, padded_width: int) -> list[tuple[list[int], float]]:
    """The offsets of :func:`_window_offsets` as flat offsets in a plane ``padded_width`` wide,
    grouped by distance: ``[(offsets, distance_mm), ...]``, nearest first, each group's
    offsets exactly equally far (the same float)."""
    d_row, d_col, distance = _window_offsets(spacing, radius)
    flat = d_row * padded_width + d_col
    starts = np.flatnonzero(np.r_[True, distance[1:] != distance[:-1]])
    return [(flat[lo:hi].tolist(), float(distance[lo])) for lo, hi in zip(starts, np.r_[starts[1:], len(flat)])]


def class_surface_distances(truth: np.ndarray, prediction: np.ndarray, spacing_mm=(1.0, 1.0),
                            classes: Sequence[int] | None = None,
                            truth_surface: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                            ) -> dict[int, SurfaceDistances]:
    """Both directed surface-distance arrays of every class present in both images, in one pass.

    ``truth`` and ``prediction`` are 2-D class-index images (non-negative integers, or
    booleans: class 1 = True) of one shape. Returns ``{c: SurfaceDistances}`` for every
    class ``c`` (of ``classes``, default all) found in both images; the arrays equal
    :func:`surface_distances` ``(truth == c, prediction == c)`` -- medpy's -- and come in
    row-major order of each class's surface pixels. A class missing from either image is
    left out (its distances are undefined). ValueError on bad shapes, labels or spacing.
    ``truth_surface`` is :func:`label_surfaces` ``(truth)`` when the caller already has it (a
    ground truth scored against many predictions works it out once); ``truth`` is then only
    checked for its shape, its classes being those of the surface.
    """
    truth = label_image(truth, "truth") if truth_surface is None else np.asarray(truth)
    prediction = label_image(prediction, "prediction")
    if truth.shape != prediction.shape or truth.ndim != 2:
        raise ValueError(f"masks must be 2-D with equal shapes, got {truth.shape} and {prediction.shape}")
    spacing = check_spacing(spacing_mm)
    if truth.size == 0:
        return {}
    t_rows, t_cols, t_lab = label_surfaces(truth) if truth_surface is None else truth_surface
    p_rows, p_cols, p_lab = label_surfaces(prediction)
    # every class present in an image has surface pixels, so presence is read off the surfaces
    n_labels = int(max(t_lab.max(), p_lab.max())) + 1
    wanted = np.zeros(n_labels, dtype=bool)
    if classes is None:
        wanted[:] = True
    else:
        wanted[[int(c) for c in classes if 0 <= int(c) < n_labels]] = True
    t_counts, p_counts = np.bincount(t_lab, minlength=n_labels), np.bincount(p_lab, minlength=n_labels)
    present = wanted & (t_counts > 0) & (p_counts > 0)
    if not present.any():
        return {}
    if ((t_counts > 0) & ~present).any():  # pixels of classes not scored here: left out
        t_keep = np.flatnonzero(present[t_lab])
        t_rows, t_cols, t_lab = t_rows[t_keep], t_cols[t_keep], t_lab[t_keep]
    if ((p_counts > 0) & ~present).any():
        p_keep = np.flatnonzero(present[p_lab])
        p_rows, p_cols, p_lab = p_rows[p_keep], p_cols[p_keep], p_lab[p_keep]
    distances = _nearest_same_class(t_rows, t_cols, t_lab, p_rows, p_cols, p_lab, truth.shape, n_labels, spacing)
    classes_present = np.flatnonzero(present)
    pred_to_truth = _by_class(distances[len(t_rows):], p_lab, np.where(present, p_counts, 0))
    truth_to_pred = _by_class(distances[:len(t_rows)], t_lab, np.where(present, t_counts, 0))
    return {int(c): SurfaceDistances(pred_to_truth=pred_to_truth[c], truth_to_pred=truth_to_pred[c])
            for c in classes_present}


def _by_class(values: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> dict[int, np.ndarray]:
    """``{c: values[labels == c]}`` for each class ``c`` with ``counts[c]`` (its pixels among
    ``labels``) above 0, order kept."""
    classes = np.flatnonzero(counts)
    if len(classes) == 1:
        return {int(classes[0]): values}
    ends = np.cumsum(counts)
    ordered = values[np.argsort(labels, kind="stable")]
    return {int(c): ordered[ends[c] - counts[c]:ends[c]] for c in classes}


#: The label given in the window search to a pixel already found (planes hold -1 or a class).
_FOUND = -2


def _nearest_same_class(t_rows, t_cols, t_lab, p_rows, p_cols, p_lab, shape, n_labels: int,
                        spacing: np.ndarray) -> np.ndarray:
    """Distance of every truth surface pixel, then every prediction one, to the other image's
    nearest surface pixel of the same class (each class present in both images).

    First a window search, one distance at a time from the nearest, over both images and every
    class at once (a plane per image, padded by the window radius, holding each surface
    pixel's class); the few pixels with no same-class surface in the window are then compared
    with every same-class pixel, or, when many, ask one k-d tree (see the module docstring).
    """
    radius = WINDOW_PX
    height, width = shape
    padded_width = width + 2 * radius
    plane = (height + 2 * radius) * padded_width
    dtype = np.int16 if n_labels <= np.iinfo(np.int16).max else np.int64
    planes = np.full(2 * plane, -1, dtype=dtype)  # [truth plane | prediction plane]
    t_at = (t_rows.astype(np.int64) + radius) * padded_width + (t_cols + radius)
    p_at = (p_rows.astype(np.int64) + radius) * padded_width + (p_cols + radius)
    planes[t_at] = t_lab
    planes[plane + p_at] = p_lab
    # a truth pixel looks in the prediction plane, a prediction pixel in the truth plane
    position = np.concatenate([t_at + plane, p_at])
    label = np.concatenate([t_lab, p_lab]).astype(dtype)
    distances = np.empty(len(position), dtype=np.float64)
    todo = np.arange(len(position))
    found = 0  # pixels found since the arrays were last compacted; their label is FOUND
    for offsets, mm in _window_shells(spacing, radius, padded_width):
        hit = planes[position + offsets[0]] == label
        for offset in offsets[1:]:  # offsets at exactly the same distance: any of them gives it
            hit |= planes[position + offset] == label
        hits = np.flatnonzero(hit)
        if len(hits):
            distances[todo[hits]] = mm
            label[hits] = _FOUND  # never equal to a plane value: a found pixel is not found again
            found += len(hits)
            if 2 * found >= len(todo):  # compact when half are found, not at every offset
                missed = label != _FOUND
                todo, position, label = todo[missed], position[missed], label[missed]
                found = 0
                if not len(todo):
                    return distances
    if found:
        missed = label != _FOUND
        todo, position, label = todo[missed], position[missed], label[missed]
        if not len(todo):
            return distances
    n_truth = len(t_rows)
    rows, cols = np.concatenate([t_rows, p_rows]), np.concatenate([t_cols, p_cols])
    label = label.astype(np.int64)
    # the rest, farther than the window: each against its class's surface in the other image
    source = np.where(todo < n_truth, 0, 1)  # the image a query pixel is on
    target_source = np.repeat([1, 0], [n_truth, len(p_rows)])  # each pixel is a target of the other image
    all_labels = np.concatenate([t_lab, p_lab]).astype(np.int64)
    groups = source * n_labels + label
    target_groups = target_source * n_labels + all_labels
    sizes = np.bincount(target_groups, minlength=2 * n_labels)
    if int(np.sum(sizes[groups])) <= BRUTE_FORCE_PAIRS:
        for group in np.unique(groups):
            queries, targets = todo[groups == group], np.flatnonzero(target_groups == group)
            distances[queries] = _brute_force_nearest(rows[targets], cols[targets], rows[queries], cols[queries],
                                                      spacing)
        return distances
    # many far pixels: one k-d tree over both surfaces, each (image, class) lifted apart
    step = 2.0 * float(np.hypot(height * spacing[0], width * spacing[1])) + 1.0  # > any in-image distance
    lifts = np.arange(2 * n_labels, dtype=np.float64) * step
    distances[todo] = _lifted_nearest(rows, cols, lifts[target_groups], rows[todo], cols[todo], lifts[groups],
                                      spacing)
    return distances


def _brute_force_nearest(target_rows, target_cols, query_rows, query_cols, spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from each query pixel to the nearest target pixel, every pair tried (chunked).

    The minimum of scipy's formula over all targets: sqrt is monotone, so the smallest sum of
    squares is taken first and its root after.
    """
    out = np.empty(len(query_rows), dtype=np.float64)
    chunk = max(1, (1 << 18) // max(len(target_rows), 1))
    for start in range(0, len(query_rows), chunk):
        stop = start + chunk
        d_row = (target_rows[None, :] - query_rows[start:stop, None]) * spacing[0]
        d_col = (target_cols[None, :] - query_cols[start:stop, None]) * spacing[1]
        np.multiply(d_row, d_row, d_row)
        np.multiply(d_col, d_col, d_col)
        d_row += d_col
        out[start:stop] = np.sqrt(d_row.min(axis=1))
    return out


def surface_distances(truth: np.ndarray, prediction: np.ndarray, spacing_mm=(1.0, 1.0), *,
                      crop: bool = True) -> SurfaceDistances:
    """Both directed surface-distance arrays of two non-empty 2-D boolean masks, in mm.

    Every distance metric of the class (HD, HD95, ASSD, NSD) is read off the result.
    ``crop=True`` first crops both masks to the bounding box of their union plus one pixel
    (or the image edge): the erosion inside the crop sees exactly the neighbours it sees in
    the full image and every surface pixel lies in the crop, so the numbers are unchanged;
    ``crop=False`` runs on the whole image (kept for verification).
    Raises ValueError when either mask is empty or the shapes differ.
    """
    truth = np.asarray(truth, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if truth.shape != prediction.shape or truth.ndim != 2:
        raise ValueError(f"masks must be 2-D with equal shapes, got {truth.shape} and {prediction.shape}")
    if crop:
        box = union_box(truth, prediction)
        if box is not None:
            truth, prediction = truth[box], prediction[box]
    found = class_surface_distances(truth, prediction, spacing_mm, classes=(1,))
    if 1 not in found:
        raise ValueError("surface distances need two non-empty masks")
    return found[1]
