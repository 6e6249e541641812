"""Validate a submission against a reference (a GroundTruth or its public.json), reporting every problem.

The reference needs ``split``, ``patients`` (sorted IDs), ``images`` (image_id,
patient_id, width, height) and ``cases`` ({pid: {"width", "height", "spacing_mm"}}).
No input raises anything but :class:`UsageError` (path missing) or, from
:func:`load_submission`, :class:`SubmissionError`; an unexpected failure while reading
a file becomes a problem naming that file (without any path of the scoring machine).
A fault of the scoring machine (out of memory, disk full, permissions) raises
:class:`ScoringMachineError` instead: the submission was not judged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from lssbench.domain import (
    CATEGORIES,
    DETECTION_COLUMNS,
    DETECTIONS_FILE,
    DETECTIONS_JSON_FILE,
    GRADE_COLUMNS,
    GRADES_FILE,
    META_FILE,
    PATIENT_ID_PATTERN,
    PROBABILITY_COLUMNS,
    SEGMENTATION_DIR,
    SLICE_NAME_PATTERN,
    TASKS,
    category_name,
    parse_level,
    parse_side,
    split_image_id,
)
from lssbench.interop import coco, nearmiss
from lssbench.jsonio import fingerprint
from lssbench.problems import Problem, ScoringMachineError, SubmissionError, machine_fault
from lssbench.splits import assign_split
from lssbench.submission.archive import DEFAULT_LIMITS, JUNK_NAMES, Limits, open_submission
from lssbench.submission.parse import (
    ProblemLog,
    Table,
    finite_number,
    read_csv_table,
    read_mask_png,
    read_meta,
    severity,
    unit_interval,
)

#: Probabilities of a row must sum to 1 within this tolerance.
PROBABILITY_TOLERANCE = 1e-3
_COORDS = ("xmin", "ymin", "xmax", "ymax")
_TASK_FILES = {"detection": (DETECTIONS_FILE, DETECTIONS_JSON_FILE), "grading": (GRADES_FILE,),
               "segmentation": (SEGMENTATION_DIR,)}


@dataclass
class Submission:
    """A valid submission's tables, in the shared formats of docs/architecture.md."""

    detections: pd.DataFrame | None
    grades: pd.DataFrame | None
    masks: dict[str, np.ndarray] | None
    meta: dict
    tasks: tuple[str, ...]
    fingerprint: str
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    warnings: list[str] = field(default_factory=list)  # the validator's, e.g. unknown files ignored


@dataclass
class Reference:
    """The least a reference holds (a GroundTruth has these attributes too)."""

    split: str
    patients: list[str]
    images: pd.DataFrame  # image_id, patient_id, width, height
    cases: dict[str, dict]  # pid -> {"width", "height", "spacing_mm"}


@dataclass
class ValidationReport:
    """Every problem found (empty when valid), warnings, and the submission when valid."""

    problems: list[Problem]
    warnings: list[str]
    submission: Submission | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        sub = self.submission
        return {
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
            "warnings": list(self.warnings),
            "tasks": list(sub.tasks) if sub else [],
            "fingerprint": sub.fingerprint if sub else None,
        }


# --- identifiers against the reference ---------------------------------------------------


class _Reference:
    """Look-ups over a reference object."""

    def __init__(self, reference):
        self.split = str(reference.split)
        self.patients = set(reference.patients)
        images = reference.images
        self.images = {
            str(i): (int(w), int(h))
            for i, w, h in zip(images["image_id"], images["width"], images["height"])
        }
        self.cases = {str(p): (int(c["width"]), int(c["height"])) for p, c in reference.cases.items()}

    def unknown_patient(self, pid: str) -> str:
        """Why ``pid`` is not a patient of this split."""
        if not PATIENT_ID_PATTERN.fullmatch(pid):
            return f"{pid[:80]!r} is not a patient ID (PATIENT and 5-7 digits)"
        split = assign_split(pid)
        if split != self.split:
            return f"{pid} belongs to the {split} split, not {self.split}"
        return f"unknown patient {pid} (not among the {len(self.patients)} patients of the {self.split} split)"

    def patient(self, text: str) -> str:
        if text in self.patients:
            return text
        raise ValueError(self.unknown_patient(text))

    def image(self, text: str) -> str:
        if text in self.images:
            return text
        pid, slice_name = split_image_id(text)
        if not (PATIENT_ID_PATTERN.fullmatch(pid) and SLICE_NAME_PATTERN.fullmatch(slice_name)):
            raise ValueError(f"{text[:80]!r} is not an image ID <patient_id>/<slice>, e.g. "
                             f"PATIENT1000513/IM000003{_image_hint(text)}")
        if pid not in self.patients:
            raise ValueError(self.unknown_patient(pid))
        raise ValueError(f"unknown image {text}: {slice_name} is not an annotated slice of {pid}")


_IMAGE_FILE_NAME = re.compile(rf"({PATIENT_ID_PATTERN.pattern})[/_]({SLICE_NAME_PATTERN.pattern})(\.[A-Za-z]+)?")


def _image_hint(text: str) -> str:
    """``; write PATIENT.../IM...`` for an image file name (``.png``, ``_`` for ``/``)."""
    match = _IMAGE_FILE_NAME.fullmatch(text)
    if not match:
        return ""
    extension = f"drop the {match.group(3)!r} extension" if match.group(3) else "separate with '/'"
    return f" ({extension}: write {match.group(1)}/{match.group(2)})"


# --- shared table checks -----------------------------------------------------------------


def _convert(table: Table, converters: dict[str, Callable]) -> pd.DataFrame:
    return pd.DataFrame({c: table.cells(c, convert) for c, convert in converters.items()})


def _duplicates(table: Table, frame: pd.DataFrame, key: list[str], describe: Callable) -> None:
    """Flag rows whose ``key`` equals an earlier valid row's."""
    valid = frame[key].notna().all(axis=1).to_numpy()
    sub = frame.loc[valid, key]
    if sub.empty or not sub.duplicated().any():  # the usual case, found by hashing alone
        return
    ids = sub.groupby(key, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(ids))).groupby(ids).transform("min").to_numpy()
    positions = np.flatnonzero(valid)
    first_row = dict(zip(positions, table.rows[positions[first]]))
    mask = np.zeros(len(frame), dtype=bool)
    mask[positions[np.arange(len(ids)) != first]] = True
    table.flag(mask, "duplicate", lambda i: describe(frame.iloc[i], first_row[i]))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Column types of the shared tables: identifiers str, severity int, the rest float."""
    ints, strings = ("severity",), ("image_id", "patient_id", "level", "side")
    types = {c: int if c in ints else str if c in strings else float for c in frame.columns}
    return frame.astype(types).reset_index(drop=True)


def _valid(frame: pd.DataFrame, columns) -> np.ndarray:
    return frame[list(columns)].notna().all(axis=1).to_numpy()


# --- detections --------------------------------------------------------------------------


def _box_checks(table: Table, frame: pd.DataFrame, ref: _Reference) -> None:
    valid = _valid(frame, _COORDS)
    x0, y0, x1, y1 = (frame[c].to_numpy(dtype=float, na_value=np.nan) for c in _COORDS)
    codes, uniques = pd.factorize(frame["image_id"])  # one lookup per image, not per row
    sizes = np.array([ref.images.get(i, (np.nan, np.nan)) if isinstance(i, str) else (np.nan, np.nan)
                      for i in uniques] + [(np.nan, np.nan)], dtype=float).reshape(-1, 2)
    size = sizes[codes]  # code -1 (a missing image_id) reads the last row: unknown size
    normalised = nearmiss.normalised_boxes(*(a[valid] for a in (x0, y0, x1, y1, size[:, 0], size[:, 1])))
    if normalised:
        table.log.add(table.file, "", normalised)
    xywh = nearmiss.xywh_valid(x0, y0, x1, y1, size[:, 0], size[:, 1])
    with np.errstate(invalid="ignore"):
        inverted = valid & ((x0 >= x1) | (y0 >= y1))
    table.flag(inverted, "box", lambda i: (
        f"box xmin {x0[i]:g}, ymin {y0[i]:g}, xmax {x1[i]:g}, ymax {y1[i]:g}: "
        "corners must satisfy xmin < xmax and ymin < ymax" + (nearmiss.XYWH_HINT if xywh[i] else "")))
    with np.errstate(invalid="ignore"):
        outside = valid & ~inverted & _valid(frame, ["image_id"]) & ((x0 < 0) | (y0 < 0) | (x1 > size[:, 0]) | (y1 > size[:, 1]))
    corners = nearmiss.coco_corners_valid(x0, y0, x1, y1, size[:, 0], size[:, 1]) & (table.unit == "item")
    table.flag(outside, "box", lambda i: (
        f"box xmin {x0[i]:g}, ymin {y0[i]:g}, xmax {x1[i]:g}, ymax {y1[i]:g} lies outside the "
        f"{size[i, 0]:g}x{size[i, 1]:g} image (0 <= x <= width, 0 <= y <= height)"
        + (nearmiss.CORNERS_HINT if corners[i] else "")))


def _read_detections(path: Path, ref: _Reference, limits: Limits, log: ProblemLog) -> pd.DataFrame | None:
    """detections.csv, or detections.json (COCO results, translated to the same cells), checked alike."""
    if path.name == DETECTIONS_JSON_FILE:
        table = coco.read_coco_results(path, DETECTIONS_JSON_FILE, list(ref.images), limits.max_csv_bytes,
                                       limits.max_detection_rows, log)
    else:
        table = read_csv_table(path, DETECTIONS_FILE, DETECTION_COLUMNS, (), limits.max_csv_bytes,
                               limits.max_detection_rows, log)
    if table is None:
        return None
    converters = {"image_id": ref.image, "level": parse_level, "side": parse_side, "score": unit_interval}
    frame = _convert(table, {**converters, **dict.fromkeys(_COORDS, finite_number)})
    _box_checks(table, frame, ref)
    _duplicates(table, frame, list(DETECTION_COLUMNS), lambda row, first: f"duplicate of {table.unit} {first} (identical detection)")
    return None if table.bad.any() else _typed(frame)


# --- grades ------------------------------------------------------------------------------


def _probability_checks(table: Table, frame: pd.DataFrame) -> None:
    columns = [c for c in PROBABILITY_COLUMNS if c in frame.columns]
    if not columns:
        return
    if len(columns) < len(PROBABILITY_COLUMNS):
        missing = [c for c in PROBABILITY_COLUMNS if c not in columns]
        table.log.add(table.file, "header", f"probability columns come all four or none; missing {', '.join(missing)}")
        return
    total = frame[columns].to_numpy(dtype=float, na_value=np.nan).sum(axis=1)
    with np.errstate(invalid="ignore"):
        off = _valid(frame, columns) & (np.abs(total - 1.0) > PROBABILITY_TOLERANCE)
    table.flag(off, "probability sum", lambda i: (
        f"probabilities sum to {total[i]:.6g}; {' + '.join(columns)} must be 1 within {PROBABILITY_TOLERANCE:g}"))


def _refused_patients(table: Table, frame: pd.DataFrame) -> set[str]:
    """Patients whose rows were refused (bad keys, wrong field count): their missing foramina
    follow from problems already listed. A refused patient_id cell counts for the patient
    it names in any letter case."""
    keys = ["patient_id", "level", "side"]
    refused = ~_valid(frame, keys)
    named = set(frame.loc[refused, "patient_id"].dropna())
    texts = list(table.frame.loc[refused & frame["patient_id"].isna().to_numpy(), "patient_id"])
    texts += [cell for record in table.skipped for cell in record]
    return named | {t.strip().upper() for t in texts}


def _missing_foramina(frame: pd.DataFrame, ref: _Reference, log: ProblemLog, excused: set[str] = frozenset()) -> None:
    key = ["patient_id", "level", "side"]
    present = frame.loc[_valid(frame, key), key]
    seen: dict[str, set] = {}
    for pid, level, side in present.itertuples(index=False):
        seen.setdefault(pid, set()).add(category_name(level, side))
    for pid in sorted(ref.patients - excused):
        lacking = [c for c in CATEGORIES if c not in seen.get(pid, ())]
        if len(lacking) == len(CATEGORIES):
            message = f"patient {pid} is missing; all ten foramina of every patient of the {ref.split} split are required"
        elif lacking:
            message = f"patient {pid} lacks foramina {', '.join(lacking)}; all ten are required"
        else:
            continue
        log.add(GRADES_FILE, "", message, "missing foramina")


def _read_grades(path: Path, ref: _Reference, limits: Limits, log: ProblemLog) -> pd.DataFrame | None:
    table = read_csv_table(path, GRADES_FILE, GRADE_COLUMNS, PROBABILITY_COLUMNS, limits.max_csv_bytes,
                           limits.max_grade_rows, log)
    if table is None:
        return None
    converters = {"patient_id": ref.patient, "level": parse_level, "side": parse_side, "severity": severity}
    probabilities = [c for c in PROBABILITY_COLUMNS if c in table.frame.columns]
    frame = _convert(table, {**converters, **dict.fromkeys(probabilities, unit_interval)})
    _probability_checks(table, frame)
    _duplicates(table, frame, ["patient_id", "level", "side"],
                lambda row, first: f"duplicate foramen {row.patient_id} {row.level} {row.side} (first at row {first})")
    _missing_foramina(frame, ref, log, _refused_patients(table, frame))
    if table.bad.any() or 0 < len(probabilities) < len(PROBABILITY_COLUMNS):
        return None
    return _typed(frame)


# --- masks -------------------------------------------------------------------------------


def _mask_files(seg: Path, log: ProblemLog) -> dict[str, Path]:
    files = {}
    for path in sorted(seg.iterdir()):
        rel = f"{SEGMENTATION_DIR}/{path.name}"
        if path.suffix == ".png" and path.is_file():
            files[path.stem] = path
        elif path.name in JUNK_NAMES:
            continue
        elif misplaced := nearmiss.misplaced_mask(path):
            log.add(f"{SEGMENTATION_DIR}/", "", misplaced, "misplaced mask")
        else:
            log.warn(f"unknown file {rel!r} ignored; masks are named segmentation/<patient_id>.png")
    return files


def _read_masks(seg: Path, ref: _Reference, limits: Limits, log: ProblemLog) -> dict[str, np.ndarray]:
    files = _mask_files(seg, log)
    where = f"{SEGMENTATION_DIR}/"
    for stem in files:
        if stem not in ref.cases:
            why = ref.unknown_patient(stem) if stem not in ref.patients else f"{stem} has no segmentation case"
            log.add(f"{where}{stem}.png", "", f"extra mask: {why}", "extra mask")
    for pid in sorted(ref.cases):
        if pid not in files:
            log.add(where, "", f"missing mask {pid}.png; every segmentation case of the {ref.split} split needs one", "missing mask")
    masks = {}
    for pid in sorted(set(files) & set(ref.cases)):
        rel = f"{where}{pid}.png"
        mask = _guarded(log, rel, read_mask_png, files[pid], rel, ref.cases[pid], limits, log)
        if mask is not None:
            masks[pid] = mask
    return masks


# --- the folder --------------------------------------------------------------------------


_PATH = re.compile(r"(?:/[^/\s'\"]+)+/?")


def _guarded(log: ProblemLog, rel: str, reader: Callable, *args):
    """``reader(*args)``; an unexpected exception becomes a problem naming ``rel``, a fault of
    the scoring machine (MemoryError, disk, permissions) a :class:`ScoringMachineError`."""
    try:
        return reader(*args)
    except ScoringMachineError:
        raise
    except Exception as exc:  # noqa: BLE001 -- hostile input; RecursionError included
        fault = machine_fault(exc, f"reading {rel}")
        if fault is not None:
            raise fault from None
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        log.add(rel, "", f"cannot be read ({type(exc).__name__}: {_PATH.sub('<path>', text)[:200]})")
        return None


def _unknown_entry(path: Path) -> str:
    name = path.name + ("/" if path.is_dir() else "")
    if path.suffix.lower() == ".zip":
        return f"nested archive {name!r} not extracted; ignored"
    return f"unknown file {name!r} ignored"


def _survey(folder: Path, log: ProblemLog) -> dict[str, Path]:
    """Known entries of the content folder by name; problems for wrong kinds, warnings for the rest."""
    found, near_misses = {}, []
    for path in sorted(folder.iterdir()):
        if path.name in JUNK_NAMES:
            continue
        if path.name == SEGMENTATION_DIR:
            if path.is_dir():
                found[path.name] = path
            else:
                log.add(path.name, "", "expected a folder of <patient_id>.png masks, found a file")
        elif path.name in (DETECTIONS_FILE, DETECTIONS_JSON_FILE, GRADES_FILE, META_FILE):
            if path.is_file():
                found[path.name] = path
            else:
                log.add(path.name, "", "expected a file, found a folder")
        elif near := nearmiss.misplaced_entry(path):
            near_misses.append(near)
        else:
            log.warn(_unknown_entry(path))
    for near in near_misses:  # a problem, unless the task it stands for is submitted anyway
        if covering := nearmiss.covered_by(near, found):
            log.warn(f"{near.message}; ignored, since {covering} is there")
        else:
            log.add("", "", near.message)
    if DETECTIONS_FILE in found and DETECTIONS_JSON_FILE in found:
        log.add("", "", f"both {DETECTIONS_FILE} and {DETECTIONS_JSON_FILE} found; a submission holds exactly "
                        "one detection file: remove one")
    return found


def _check(folder: Path, reference, limits: Limits, log: ProblemLog) -> Submission | None:
    ref = _Reference(reference)
    found = _survey(folder, log)
    tasks = tuple(t for t in TASKS if any(name in found for name in _TASK_FILES[t]))
    if not tasks and not len(log):
        log.add("", "", f"empty submission: no {DETECTIONS_FILE}, {DETECTIONS_JSON_FILE}, {GRADES_FILE} or "
                        f"{SEGMENTATION_DIR}/<patient_id>.png found")
    readers = {DETECTIONS_FILE: _read_detections, DETECTIONS_JSON_FILE: _read_detections,
               GRADES_FILE: _read_grades, SEGMENTATION_DIR: _read_masks}
    parts = {name: _guarded(log, name, reader, found[name], ref, limits, log)
             for name, reader in readers.items() if name in found}
    meta = _guarded(log, META_FILE, read_meta, found[META_FILE], META_FILE, limits, log) if META_FILE in found else {}
    if len(log):
        return None
    files = dict(sorted(log.hashes.items()))  # the bytes that were parsed, hashed as they were read
    return Submission(
        detections=parts.get(DETECTIONS_FILE, parts.get(DETECTIONS_JSON_FILE)),
        grades=parts.get(GRADES_FILE),
        masks=parts.get(SEGMENTATION_DIR),
        meta=meta or {},
        tasks=tasks,
        fingerprint=fingerprint(files),
        files=files,
    )


def validate_submission(path: str | os.PathLike, reference, limits: Limits = DEFAULT_LIMITS) -> ValidationReport:
    """Check a submission folder or zip against ``reference``; UsageError if ``path`` is missing."""
    log = ProblemLog(limits.max_problems_per_kind)
    try:
        with open_submission(path, limits) as folder:
            submission = _check(folder, reference, limits, log)
    except SubmissionError as exc:
        return ValidationReport(list(exc.problems), log.warnings, None)
    except (OSError, MemoryError) as exc:  # listing folders, a file vanishing mid-read ...
        raise machine_fault(exc, "reading the submission") or ScoringMachineError(
            f"{getattr(exc, 'strerror', None) or type(exc).__name__} while reading the submission") from None
    if submission is not None:
        submission.warnings = list(log.warnings)
    return ValidationReport(log.problems(), log.warnings, submission)


def load_submission(path: str | os.PathLike, reference, limits: Limits = DEFAULT_LIMITS) -> Submission:
    """The valid submission at ``path``, or SubmissionError listing every problem."""
    report = validate_submission(path, reference, limits)
    if not report.ok:
        count = len(report.problems)
        raise SubmissionError(f"invalid submission {path}: {count} problem{'s' * (count != 1)}", report.problems)
    return report.submission
