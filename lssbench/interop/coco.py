"""COCO in and out: ``detections.json`` in the COCO results format, and the COCO ground truth of a split.

A COCO results file is a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h],
"score"}``. ``image_id`` is the COCO id of the ground truth's ``detection.json`` (published
in public.json as ``images[].coco_id``: 1, 2, ... in sorted image ID order) or the
``<patient_id>/<slice>`` string; ``category_id`` is the COCO category id (1-10, public.json
``coco_categories``) or the category name ``"L3-L4/left"``. Other keys of an item are
ignored. The translation ends here: each item becomes one row of the detections table
(``xmax = x + w``, ``ymax = y + h``), checked by the same rules as ``detections.csv``; a
problem is located by the item's list index (``item 0`` is the first).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lssbench.domain import CATEGORIES, DETECTION_COLUMNS, category_id, split_category
from lssbench.groundtruth import coco_image_ids, split_coco
from lssbench.jsonio import dumps, write_text_atomic
from lssbench.submission.parse import UNREADABLE, ProblemLog, Table, read_json

RESULT_KEYS: tuple[str, ...] = ("image_id", "category_id", "bbox", "score")
ITEM_TEXT = '{"image_id", "category_id", "bbox": [x, y, width, height], "score"}'
#: Keys of a COCO *dataset* (ground-truth) file: a results file is a bare list instead.
DATASET_KEYS: tuple[str, ...] = ("images", "annotations", "categories")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_text(value) -> str:
    """Exact text of a JSON number (repr round-trips a float), parsed again like a CSV cell."""
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Ids:
    """The reference's COCO image and category ids."""

    def __init__(self, image_ids):
        self.images = {number: image for image, number in coco_image_ids(image_ids).items()}

    def image(self, value) -> str:
        if isinstance(value, str):
            return value  # an image ID string: checked against the split like a CSV cell
        if _is_number(value) and float(value).is_integer() and int(value) in self.images:
            return self.images[int(value)]
        count = len(self.images)
        raise ValueError(f"image_id {str(value)[:40]} is not a COCO image id of this split "
                         f"(1-{count}, public.json images[].coco_id) nor an image ID <patient_id>/<slice>")

    @staticmethod
    def category(value) -> tuple[str, str]:
        if isinstance(value, str) and value in CATEGORIES:
            return split_category(value)
        if _is_number(value) and float(value).is_integer() and 1 <= int(value) <= len(CATEGORIES):
            return split_category(CATEGORIES[int(value) - 1])
        raise ValueError(f"category_id {str(value)[:40]} is not a COCO category id 1-{len(CATEGORIES)} "
                         f"(public.json coco_categories) nor a category name like {CATEGORIES[4]!r}")


def _bbox(value) -> tuple[float, float, float, float]:
    if not (isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)):
        raise ValueError(f"bbox must be a list of four numbers [x, y, width, height], got {json.dumps(value)[:80]}")
    x, y, w, h = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError("bbox holds a NaN or infinite number")
    if w <= 0 or h <= 0:
        raise ValueError(f"bbox [{x:g}, {y:g}, {w:g}, {h:g}]: width and height must be positive "
                         "(COCO boxes are [x, y, width, height], not corners)")
    return x, y, x + w, y + h


def _row(item, ids: _Ids) -> list[str]:
    """The CSV-like cells of one item; ValueError names what is wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object {ITEM_TEXT}, got a JSON {_json_kind(item)}")
    missing = [k for k in RESULT_KEYS if k not in item]
    if missing:
        raise ValueError(f"missing key{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}; "
                         f"expected {ITEM_TEXT}")
    image = ids.image(item["image_id"])
    level, side = ids.category(item["category_id"])
    box = _bbox(item["bbox"])
    if not _is_number(item["score"]):
        raise ValueError(f"score must be a number in [0, 1], got {json.dumps(item['score'])[:40]}")
    return [image, level, side, _number_text(item["score"]), *map(_number_text, box)]


def _json_kind(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def shape_problem(document) -> str | None:
    """Why a parsed ``detections.json`` is not a COCO results list, or None when it is a list."""
    if isinstance(document, list):
        return None
    if isinstance(document, dict) and any(k in document for k in DATASET_KEYS):
        return ("holds a COCO dataset (images/annotations/categories); expected the COCO results "
                f"format: a JSON list of {ITEM_TEXT}")
    return f"a JSON {_json_kind(document)}; expected the COCO results format: a JSON list of {ITEM_TEXT}"


def read_coco_results(path: Path, rel: str, image_ids, max_bytes: int, max_items: int,
                      log: ProblemLog) -> Table | None:
    """The items of a COCO results file as a table of detection cells (columns
    :data:`domain.DETECTION_COLUMNS`), or None when it cannot be read at all (problems logged).

    ``image_ids`` are the reference's image IDs (their sorted order gives the COCO ids).
    Items with a problem are logged and left out of the table.
    """
    document = read_json(path, rel, max_bytes, log)
    if document is UNREADABLE:
        return None
    why = shape_problem(document)
    if why:
        log.add(rel, "", why)
        return None
    if len(document) > max_items:
        log.add(rel, "", f"more than {max_items} items; refused unread")
        return None
    ids, rows, numbers = _Ids(image_ids), [], []
    for index, item in enumerate(document):
        try:
            rows.append(_row(item, ids))
            numbers.append(index)
        except ValueError as exc:
            log.add(rel, f"item {index}", str(exc), "item")
    frame = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS), dtype=object)
    return Table(rel, frame, np.asarray(numbers, dtype=int), log, unit="item")


# --- out ---------------------------------------------------------------------------------


def coco_results(detections: pd.DataFrame, image_ids) -> list[dict]:
    """The detections table as a COCO results list (integer image and category ids).

    ``image_ids`` are the reference's image IDs; rows keep their order.
    """
    numbers = coco_image_ids(image_ids)
    out = []
    for row in detections.itertuples(index=False):
        x, y = float(row.xmin), float(row.ymin)
        out.append({"image_id": numbers[row.image_id], "category_id": category_id(row.level, row.side),
                    "bbox": [x, y, float(row.xmax) - x, float(row.ymax) - y], "score": float(row.score)})
    return out


def write_coco_results(detections: pd.DataFrame, image_ids, out: str | os.PathLike) -> Path:
    """Write :func:`coco_results` to ``out`` as JSON (floats written in full)."""
    text = json.dumps(coco_results(detections, image_ids), separators=(",", ":")) + "\n"
    write_text_atomic(Path(out), text)
    return Path(out)


def export_coco(dataset, split: str, out: str | os.PathLike, *, definition=None) -> Path:
    """Write the COCO ground truth of ``split`` to the file ``out``: byte for byte the
    ``detection.json`` that ``prepare`` writes into the bundle of that split."""
    write_text_atomic(Path(out), dumps(split_coco(dataset, split, definition=definition)))
    return Path(out)


__all__ = ["coco_results", "export_coco", "read_coco_results", "shape_problem", "write_coco_results"]
