"""Domain facts of the LSS-MRI-AISSLab dataset, defined once and imported everywhere.

Levels, sides, grades, detection categories and segmentation classes live here,
together with the one parser for each spelling that may come from outside
(ground-truth XML or a submission), so both accept exactly the same variants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

LEVELS: tuple[str, ...] = ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
SIDES: tuple[str, ...] = ("left", "right")

GRADES: tuple[int, ...] = (0, 1, 2, 3)
GRADE_NAMES: tuple[str, ...] = ("normal", "mild", "moderate", "severe")
#: Probability columns of a grades table, in grade order.
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{name}" for name in GRADE_NAMES)
#: Grades at or above this count as "moderate or worse", the clinically actionable view.
MODERATE_OR_WORSE = 2
SEVERE = 3

#: Rule that turns several per-slice grades of one foramen into one grade.
GRADE_RULE = "worst"
GRADE_RULE_TEXT = (
    "a foramen (patient, level, side) boxed on several slices takes the worst "
    "(highest) grade among its boxes"
)

#: The ten detection categories, ``"<level>/<side>"``; COCO category id = position + 1.
CATEGORIES: tuple[str, ...] = tuple(f"{level}/{side}" for level in LEVELS for side in SIDES)

SPLITS: tuple[str, ...] = ("train", "val", "test")

#: Patient IDs seen in the dataset: the word PATIENT and 5 to 7 ASCII digits.
PATIENT_ID_PATTERN = re.compile(r"PATIENT[0-9]{5,7}")
#: Slice names: IM and six ASCII digits (the slice index, counted from 0 or 1).
SLICE_NAME_PATTERN = re.compile(r"IM[0-9]{6}")


@dataclass(frozen=True)
class SegmentationClass:
    """One anatomical class of the middle-slice mask."""

    index: int  # value in a class-index mask (0-5); the dataset figure numbers it index + 1
    name: str  # machine name used in JSON keys
    label: str  # human name
    colour: tuple[int, int, int]  # RGB in the dataset's colour masks


SEGMENTATION_CLASSES: tuple[SegmentationClass, ...] = (
    SegmentationClass(0, "anterior", "anterior region (background)", (0, 0, 0)),
    SegmentationClass(1, "posterior_a", "posterior A", (255, 0, 0)),
    SegmentationClass(2, "posterior_b", "posterior B", (0, 255, 0)),
    SegmentationClass(3, "vertebra", "vertebral bodies", (0, 0, 255)),
    SegmentationClass(4, "disc", "intervertebral discs", (255, 255, 0)),
    SegmentationClass(5, "sacrum", "sacrum", (255, 0, 255)),
)
SEGMENTATION_CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in SEGMENTATION_CLASSES)
NUM_SEGMENTATION_CLASSES = len(SEGMENTATION_CLASSES)
#: Classes averaged into the headline segmentation numbers (everything but the background).
HEADLINE_SEGMENTATION_CLASSES: tuple[str, ...] = SEGMENTATION_CLASS_NAMES[1:]


def category_name(level: str, side: str) -> str:
    """``("L3-L4", "left") -> "L3-L4/left"``."""
    return f"{level}/{side}"


def category_id(level: str, side: str) -> int:
    """COCO category id (1-10) of a level and side."""
    return CATEGORIES.index(category_name(level, side)) + 1


def split_category(name: str) -> tuple[str, str]:
    """``"L3-L4/left" -> ("L3-L4", "left")``."""
    level, side = name.split("/")
    return level, side


def image_id(patient_id: str, slice_name: str) -> str:
    """The image ID shared by ground truth and submissions: ``<patient_id>/<slice>``."""
    return f"{patient_id}/{slice_name}"


def split_image_id(value: str) -> tuple[str, str]:
    """``"PATIENT1000513/IM000003" -> ("PATIENT1000513", "IM000003")``."""
    patient_id, _, slice_name = value.partition("/")
    return patient_id, slice_name


# re.ASCII: no Unicode case folding ('ſ' is not 's') and only ASCII whitespace.
_LEVEL_PATTERN = re.compile(r"^\s*L([1-5])\s*[-/_]\s*([LS])([1-5])\s*$", re.IGNORECASE | re.ASCII)
#: Loose spellings that earn a hint: L4-5, L45, 4-5, L5S1, L4.L5 ...
_LEVEL_GUESS = re.compile(r"^\s*L?([1-5])\s*[-/_.\s]?\s*[LS]?([1-5])\s*$", re.IGNORECASE | re.ASCII)
LEVEL_SPELLINGS_TEXT = "one of " + ", ".join(LEVELS) + " (also written L3/L4, L3_L4 or l3-l4)"


def _level_guess(text: str) -> str | None:
    match = _LEVEL_GUESS.match(text)
    if not match:
        return None
    upper, lower = int(match.group(1)), int(match.group(2))
    if upper == 5 and lower == 1:
        return "L5-S1"
    guess = f"L{upper}-L{lower}"
    return guess if guess in LEVELS else None


def parse_level(text: str) -> str:
    """Canonical level of ``L3-L4``, ``L3/L4``, ``L3_L4`` or ``l3-l4`` (ASCII only); ValueError otherwise."""
    text = str(text)
    match = _LEVEL_PATTERN.match(text)
    if match:
        canonical = f"L{match.group(1)}-{match.group(2).upper()}{match.group(3)}"
        if canonical in LEVELS:
            return canonical
    guess = _level_guess(text)
    hint = f"; write {guess}" if guess else ""
    raise ValueError(f"unknown level {text[:80]!r}{hint}; expected {LEVEL_SPELLINGS_TEXT}")


_SIDE_SPELLINGS = {"left": "left", "l": "left", "right": "right", "r": "right"}
SIDE_SPELLINGS_TEXT = "left or right (also Left, L, Right, R)"


def parse_side(text: str) -> str:
    """Canonical side of ``left``/``right`` in any case, or ``L``/``R``; ValueError otherwise."""
    text = str(text)
    side = _SIDE_SPELLINGS.get(text.strip(" \t\r\n").lower()) if text.isascii() else None
    if side is None:
        raise ValueError(f"unknown side {text[:80]!r}; expected {SIDE_SPELLINGS_TEXT}")
    return side


_VOC_NAME_PATTERN = re.compile(r"^\s*([LR])FS([0-3])\s*$")
VOC_NAME_TEXT = "LFS0-3 or RFS0-3"


def parse_voc_name(text: str) -> tuple[str, int]:
    """Side and grade of a VOC object name: ``"RFS2" -> ("right", 2)``; ValueError otherwise."""
    match = _VOC_NAME_PATTERN.match(str(text))
    if not match:
        raise ValueError(f"unknown object name {text!r}; expected {VOC_NAME_TEXT}")
    return ("left" if match.group(1) == "L" else "right"), int(match.group(2))


def voc_name(side: str, grade: int) -> str:
    """Inverse of :func:`parse_voc_name`: ``("right", 2) -> "RFS2"``."""
    return f"{'L' if side == 'left' else 'R'}FS{grade}"


def foramen_grade(slice_grades: Iterable[int]) -> int:
    """One grade for a foramen from its per-slice grades (see :data:`GRADE_RULE_TEXT`)."""
    return max(slice_grades)


# --- Submission and ground-truth file format (see docs/submission.md) ---------------------

DETECTIONS_FILE = "detections.csv"
#: The same detections in the COCO results format (lssbench/interop/coco.py); one of the two per submission.
DETECTIONS_JSON_FILE = "detections.json"
DETECTION_COLUMNS: tuple[str, ...] = ("image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax")
GRADES_FILE = "grades.csv"
GRADE_COLUMNS: tuple[str, ...] = ("patient_id", "level", "side", "severity")
SEGMENTATION_DIR = "segmentation"
META_FILE = "meta.json"
#: Every name a submission's top folder may hold (one of the two detection files at most).
SUBMISSION_NAMES: tuple[str, ...] = (DETECTIONS_FILE, DETECTIONS_JSON_FILE, GRADES_FILE, SEGMENTATION_DIR, META_FILE)
TASKS: tuple[str, ...] = ("detection", "grading", "segmentation")


# --- headline numbers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    """A headline number: reported with a bootstrap CI and in paper tables."""

    task: str
    key: str
    label: str
    higher_is_better: bool = True

    @property
    def name(self) -> str:
        """``"detection.AP50"``: the key of its CI in ``results["ci95"]``."""
        return f"{self.task}.{self.key}"


HEADLINES: tuple[Headline, ...] = (
    Headline("detection", "AP50", "AP50"),
    Headline("detection", "mAP", "mAP"),
    Headline("grading", "qwk", "QWK"),
    Headline("segmentation", "mean_dice", "Dice"),
    Headline("segmentation", "mean_hd95_mm", "HD95 (mm)", higher_is_better=False),
)
#: The headline each task is ranked by on a leaderboard.
RANKING = {"detection": HEADLINES[0], "grading": HEADLINES[2], "segmentation": HEADLINES[3]}
