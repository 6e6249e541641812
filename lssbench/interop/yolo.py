"""YOLO (ultralytics) out and in: training data of the fixed split, predictions back to detections.csv.

Export (``lssbench export yolo``)::

    OUT/data.yaml                       path (absolute), train, val, test, names
    OUT/images/{train,val,test}/<patient_id>_<slice>.png
    OUT/labels/{train,val}/<patient_id>_<slice>.txt    one line per box: class cx cy w h
    OUT/labels/test/...                 only with --with-test-labels (organizers)

Boxes are normalised by the slice PNG's width and height (cx, cy, w, h in [0, 1], six
decimals); a slice without boxes gets an empty label file. Patients are split by the
split definition (lssbench-v1 by default), so no patient's slices sit in two splits.
Classes: ``level-side`` = the ten lssbench categories (``L1-L2/left`` ... in
:data:`domain.CATEGORIES` order), ``levels`` = the five levels (the dataset authors' set-up).

Convert (``lssbench convert yolo``) reads ultralytics ``predict(save_txt=True,
save_conf=True)`` output: ``<stem>.txt`` with lines ``class cx cy w h conf``. Boxes go back
to pixel corners with the image size of the ground truth (or public.json) and are clipped
to the image. A line without ``conf`` is scored 1.0 (with a warning). A levels-only class
needs a side: ``side_from_slice`` takes the side of the spine the slice lies on, which
public.json records per image from the DICOM geometry (``side_of_spine``; see
:meth:`lssbench.dataset.records.Series.lateral_offset_mm`).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lssbench.domain import (CATEGORIES, DETECTION_COLUMNS, LEVELS, SPLITS, image_id, parse_level,
                             parse_side, split_image_id)
from lssbench.jsonio import replaceable_folder
from lssbench.problems import DataError, Problem, SubmissionError, UsageError
from lssbench.splits import resolve_split_definition, split_patients

CLASS_SETS = {"level-side": CATEGORIES, "levels": LEVELS}
DATA_YAML = "data.yaml"
YAML_MARK = "# written by lssbench export yolo"
LABEL_DIGITS = 6
MAX_PROBLEMS = 20


def yolo_stem(image: str) -> str:
    """``PATIENT1000513/IM000003 -> PATIENT1000513_IM000003`` (file stem of images and labels)."""
    patient_id, slice_name = split_image_id(image)
    return f"{patient_id}_{slice_name}"


def stem_image_id(stem: str) -> str:
    """Inverse of :func:`yolo_stem`."""
    patient_id, _, slice_name = stem.rpartition("_")
    return image_id(patient_id, slice_name)


# --- export ------------------------------------------------------------------------------


def _label_lines(item, classes: tuple[str, ...]) -> str:
    lines = []
    for box in sorted(item.boxes, key=lambda b: (b.level, b.side, b.xmin, b.ymin)):
        name = box.category if classes is CATEGORIES else box.level
        cx = (box.xmin + box.xmax) / 2 / item.width
        cy = (box.ymin + box.ymax) / 2 / item.height
        w = (box.xmax - box.xmin) / item.width
        h = (box.ymax - box.ymin) / item.height
        lines.append(f"{classes.index(name)} " + " ".join(f"{v:.{LABEL_DIGITS}f}" for v in (cx, cy, w, h)))
    return "".join(line + "\n" for line in lines)


def data_yaml(root: Path, classes: tuple[str, ...], note: str) -> str:
    """The ultralytics dataset YAML (written by template; names quoted as JSON strings)."""
    import json

    names = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(classes))
    return (f"{YAML_MARK}: {note}\n"
            f"path: {json.dumps(str(root))}\n"
            "train: images/train\nval: images/val\ntest: images/test\n"
            f"names:\n{names}")


@dataclass
class YoloExport:
    """What :func:`export_yolo` wrote: images and label files per split, slices skipped."""

    path: Path
    classes: tuple[str, ...]
    images: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    patients: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # image IDs without a PNG


def _is_export(out: Path) -> bool:
    return (out / DATA_YAML).is_file() and (out / DATA_YAML).read_text("utf-8", "replace").startswith(YAML_MARK)


def _check_target(out: Path) -> None:
    if not replaceable_folder(out, _is_export):
        raise UsageError(f"refusing to overwrite {out}: it exists and is not an empty folder "
                         "or an earlier `lssbench export yolo`")


def export_yolo(dataset, out: str | os.PathLike, *, classes: str = "level-side",
                with_test_labels: bool = False, definition=None) -> YoloExport:
    """Write the ultralytics dataset of ``dataset``'s train/val/test split to ``out``.

    Built in a temporary sibling folder and renamed into place; an existing ``out`` is
    replaced only when empty or an earlier export.
    """
    if classes not in CLASS_SETS:
        raise UsageError(f"unknown class set {classes!r}; expected one of {', '.join(CLASS_SETS)}")
    names, definition, out = CLASS_SETS[classes], resolve_split_definition(definition), Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    result = YoloExport(out, names)
    try:
        os.chmod(tmp, 0o755)
        for split in SPLITS:
            patients = set(split_patients(dataset.patients, split, definition))
            result.patients[split] = sorted(patients)
            _export_split(tmp, split, [s for s in dataset.slices if s.patient_id in patients], names,
                          split != "test" or with_test_labels, result)
        note = f"{definition.name} split of {dataset.root}, classes {classes}"
        (tmp / DATA_YAML).write_text(data_yaml(out.resolve(), names, note), encoding="utf-8")
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _export_split(root: Path, split: str, slices, names, labels: bool, result: YoloExport) -> None:
    images = root / "images" / split
    images.mkdir(parents=True)
    if labels:
        (root / "labels" / split).mkdir(parents=True)
    result.images[split] = result.labels[split] = 0
    for item in sorted(slices, key=lambda s: s.image_id):
        if item.image_path is None:
            result.skipped.append(item.image_id)
            continue
        stem = yolo_stem(item.image_id)
        shutil.copyfile(item.image_path, images / f"{stem}{item.image_path.suffix.lower()}")
        result.images[split] += 1
        if labels:
            (root / "labels" / split / f"{stem}.txt").write_text(_label_lines(item, names), encoding="utf-8")
            result.labels[split] += 1


def _replace(tmp: Path, out: Path) -> None:
    if out.exists():
        old = tmp.with_name(tmp.name + ".old")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


# --- convert -----------------------------------------------------------------------------


def read_names(path: str | os.PathLike) -> list[str]:
    """Class names of an ultralytics data.yaml (``names`` as a list or ``{index: name}``)."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read {path}", [Problem(path.name, "", f"not a readable YAML file ({exc})")]) from exc
    names = document.get("names") if isinstance(document, dict) else None
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        if sorted(names) != list(range(len(names))):
            raise DataError(f"{path}: bad names", [Problem(path.name, "names", "class indices must be 0, 1, 2, ...")])
        names = [names[i] for i in range(len(names))]
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise DataError(f"{path} has no class names",
                        [Problem(path.name, "names", "expected a list of class names or {index: name}")])
    return names


def _class(name: str) -> tuple[str, str | None]:
    try:
        return parse_level(name), None  # also "L3/L4"
    except ValueError:
        level, _, side = name.rpartition("/")
        return parse_level(level), parse_side(side)


def class_table(names: list[str]) -> list[tuple[str, str | None]]:
    """``(level, side or None)`` of each class name (``L1-L2/left`` or a level ``L1-L2``)."""
    out, problems = [], []
    for index, name in enumerate(names):
        try:
            out.append(_class(name))
        except ValueError:
            problems.append(Problem("names", f"class {index}", f"{name!r} is neither a level ({', '.join(LEVELS)}) "
                                                               f"nor a category like {CATEGORIES[0]!r}"))
    if problems:
        raise DataError("class names that lssbench cannot map", problems)
    return out


@dataclass
class Converted:
    """Detections read from a folder of YOLO label files, and warnings about them."""

    detections: pd.DataFrame  # the detections table (domain.DETECTION_COLUMNS)
    files: int
    warnings: list[str]


class _Problems:
    def __init__(self):
        self.items: list[Problem] = []
        self.count = 0

    def add(self, file: str, location: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(file, location, message))

    def raise_if_any(self, what: str) -> None:
        if self.count:
            hidden = self.count - len(self.items)
            extra = [Problem("", "", f"... and {hidden} more problems")] if hidden else []
            raise SubmissionError(f"{what}: {self.count} problem{'s' * (self.count != 1)}", self.items + extra)


def _parse_line(fields: list[str], n_classes: int) -> tuple[int, list[float], float | None]:
    if len(fields) not in (5, 6):
        raise ValueError(f"{len(fields)} fields; expected 'class cx cy w h conf' (or 'class cx cy w h')")
    try:
        cls = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        raise ValueError("expected an integer class and numbers") from None
    if not 0 <= cls < n_classes:
        raise ValueError(f"class {cls} outside 0-{n_classes - 1} (the names of data.yaml)")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("NaN or infinite number")
    cx, cy, w, h = values[:4]
    if w <= 0 or h <= 0 or not all(-0.01 <= v <= 1.01 for v in (cx, cy, w, h)):
        raise ValueError(f"cx {cx:g}, cy {cy:g}, w {w:g}, h {h:g}: expected normalised values in [0, 1] "
                         "with positive w and h")
    conf = values[4] if len(values) == 5 else None
    if conf is not None and not 0 <= conf <= 1:
        raise ValueError(f"conf {conf:g} outside [0, 1]")
    return cls, values[:4], conf


def convert_yolo(labels_dir: str | os.PathLike, reference, *, names: list[str] | None = None,
                 side_from_slice: bool = False) -> Converted:
    """Detections table of the ``<stem>.txt`` files in ``labels_dir`` against ``reference``
    (a GroundTruth or its public.json: image sizes, and ``image_sides`` for ``side_from_slice``).

    Raises :class:`UsageError` when levels-only classes come without ``side_from_slice``,
    :class:`SubmissionError` listing every bad file or line.
    """
    folder = Path(labels_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of YOLO label files (<patient_id>_<slice>.txt)")
    classes = class_table(list(names) if names is not None else list(CATEGORIES))
    if not side_from_slice and any(side is None for _, side in classes):
        raise UsageError("the class names are levels without a side (" + ", ".join(n for n, (_, s) in zip(
            names or [], classes) if s is None)[:120] + "): give --side-from-slice to take each box's side "
            "from the side of the spine its slice lies on (public.json side_of_spine)")
    if side_from_slice and all(side is not None for _, side in classes):
        raise UsageError("--side-from-slice applies to levels-only class names (--classes levels); these "
                         "classes name their side already")
    sizes = {i: (int(w), int(h)) for i, w, h in zip(reference.images["image_id"], reference.images["width"],
                                                      reference.images["height"])}
    sides = getattr(reference, "image_sides", {}) or {}
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())
    if not files:
        raise UsageError(f"no .txt label files in {folder}; expected ultralytics predict(save_txt=True, "
                         "save_conf=True) output, e.g. runs/detect/predict/labels")
    problems, rows, no_conf = _Problems(), [], 0
    for path in files:
        image = stem_image_id(path.stem)
        if image not in sizes:
            problems.add(path.name, "", f"{path.stem} is not an image of the {reference.split} split "
                                        f"(expected <patient_id>_<slice>.txt of its {len(sizes)} images)")
            continue
        width, height = sizes[image]
        for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                cls, (cx, cy, w, h), conf = _parse_line(line.split(), len(classes))
            except ValueError as exc:
                problems.add(path.name, f"line {number}", str(exc))
                continue
            level, side = classes[cls]
            if side is None:
                side = sides.get(image)
                if side is None:
                    problems.add(path.name, f"line {number}", f"class {cls} has no side and the side of the spine "
                                 f"of {image} is unknown (midline slice, or public.json without side_of_spine)")
                    continue
            no_conf += conf is None
            box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
            box = [min(max(v, 0.0), limit) for v, limit in zip(box, (width, height, width, height))]
            rows.append((image, level, side, 1.0 if conf is None else conf, *box))
    problems.raise_if_any(f"YOLO labels in {folder}")
    warnings = []
    if no_conf:
        warnings.append(f"{no_conf} box{'es' * (no_conf != 1)} without a confidence were scored 1.0; "
                        "predict with save_conf=True for a meaningful AP")
    frame = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    return Converted(frame, len(files), warnings)


__all__ = ["CLASS_SETS", "Converted", "YoloExport", "class_table", "convert_yolo", "export_yolo",
           "read_names", "stem_image_id", "yolo_stem"]
