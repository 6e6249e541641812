"""The ground-truth bundle of one split: write it (prepare) and read it back (load).

A bundle folder holds ``detection.json`` (COCO), ``grades.csv`` (one grade per foramen,
worst-grade rule), ``segmentation/<patient_id>.png`` (class-index masks 0-5),
``public.json`` (what participants may see: no labels) and ``manifest.json`` (sizes,
pixel spacing, the sha256 of every file and one overall fingerprint). See the section
"Ground-truth bundle" of docs/architecture.md.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from PIL import Image

from lssbench import __version__
from lssbench.dataset.records import AnnotatedSlice, Dataset, SegmentationCase
from lssbench.domain import (CATEGORIES, GRADE_COLUMNS, GRADE_NAMES, GRADE_RULE, GRADE_RULE_TEXT,
                             GRADES_FILE, LEVELS, NUM_SEGMENTATION_CLASSES, SEGMENTATION_DIR, SIDES, SPLITS,
                             category_id, foramen_grade, split_category, split_image_id)
from lssbench.formats import grades_csv, mask_png
from lssbench.jsonio import dumps, fingerprint, replace_folder, replaceable_folder, sha256_bytes, write_bytes_atomic, write_text_atomic
from lssbench.problems import DataError, Problem, UsageError
from lssbench.splits import resolve_split_definition, split_patients

GT_FORMAT = "lssbench-ground-truth"
PUBLIC_FORMAT = "lssbench-public"
GT_SCHEMA_VERSION = 1
DETECTION_FILE = "detection.json"
MANIFEST_FILE = "manifest.json"
PUBLIC_FILE = "public.json"
#: Pseudo-file under which the image/case geometry (sizes, spacing) enters the fingerprint.
GEOMETRY_KEY = "manifest.json#geometry"
#: Key of public.json's images holding the side of the spine a slice lies on (geometry, not a label).
SIDE_OF_SPINE = "side_of_spine"
BOX_COLUMNS: tuple[str, ...] = ("image_id", "patient_id", "level", "side", "severity",
                                "xmin", "ymin", "xmax", "ymax")
IMAGE_COLUMNS: tuple[str, ...] = ("image_id", "patient_id", "width", "height")
_DTYPES = {"image_id": str, "patient_id": str, "level": str, "side": str, "severity": "int64",
           "xmin": "float64", "ymin": "float64", "xmax": "float64", "ymax": "float64",
           "width": "int64", "height": "int64"}


# --- tables -------------------------------------------------------------------------------


def _typed(rows: list, columns: Iterable[str]) -> pd.DataFrame:
    columns = list(columns)
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: _DTYPES[c] for c in columns})


def _box_key(box) -> tuple:
    return (category_id(box.level, box.side), box.severity, box.xmin, box.ymin, box.xmax, box.ymax)


def boxes_table(slices: Iterable[AnnotatedSlice]) -> pd.DataFrame:
    """The boxes table of ``slices``, in image order then category order."""
    rows = [(s.image_id, s.patient_id, b.level, b.side, b.severity, b.xmin, b.ymin, b.xmax, b.ymax)
            for s in sorted(slices, key=lambda s: s.image_id)
            for b in sorted(s.boxes, key=_box_key)]
    return _typed(rows, BOX_COLUMNS)


def _sort_foramina(frame: pd.DataFrame) -> pd.DataFrame:
    order = (frame["level"].map(LEVELS.index) * len(SIDES) + frame["side"].map(SIDES.index))
    return (frame.assign(_order=order).sort_values(["patient_id", "_order"], kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def grades_table(boxes: pd.DataFrame) -> pd.DataFrame:
    """One grade per boxed foramen (worst-grade rule), sorted by patient, level, side."""
    keys = list(GRADE_COLUMNS[:-1])
    if boxes.empty:
        return _typed([], GRADE_COLUMNS)
    grades = boxes.groupby(keys, sort=False)["severity"].agg(foramen_grade).reset_index()
    return _sort_foramina(grades.astype({c: _DTYPES[c] for c in GRADE_COLUMNS}))


# --- prepare ------------------------------------------------------------------------------


def prepare_from_folder(root: str | os.PathLike, split: str, out: str | os.PathLike, *,
                        definition=None) -> Path:
    """Read the dataset at ``root`` and prepare the bundle of ``split`` in ``out``."""
    from lssbench.dataset import read_dataset

    return prepare_ground_truth(read_dataset(root), split, out, definition=definition)


def prepare_ground_truth(dataset: Dataset, split: str, out: str | os.PathLike, *,
                         definition=None) -> Path:
    """Write the ground-truth bundle of ``split`` to the folder ``out``; return ``out``.

    The bundle is built in a temporary folder beside ``out`` and renamed into place; an
    existing ``out`` is replaced only if it is empty or a bundle itself.
    """
    definition = resolve_split_definition(definition)
    out = Path(out)
    _check_target(out)
    slices, cases = _select(dataset, split, definition)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a bundle is meant to be shared
        _write_bundle(tmp, dataset, slices, cases, split, definition.name)
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def is_bundle(folder: Path) -> bool:
    """Whether ``folder`` is a ground-truth bundle (its manifest.json says so)."""
    try:
        return json.loads((folder / MANIFEST_FILE).read_text("utf-8")).get("format") == GT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _check_target(out: Path) -> None:
    if not replaceable_folder(out, is_bundle):
        raise UsageError(f"refusing to overwrite {out}: it exists and is not a ground-truth bundle")




def _select(dataset: Dataset, split: str, definition):
    patients = set(split_patients(dataset.patients, split, definition))
    slices = sorted((s for s in dataset.slices if s.patient_id in patients), key=lambda s: s.image_id)
    ids = [s.image_id for s in slices]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise DataError("duplicate annotated slices", [Problem("", i, "image ID appears twice") for i in dupes])
    cases = {pid: dataset.segmentation[pid] for pid in sorted(patients & set(dataset.segmentation))}
    if not slices and not cases:
        raise DataError(f"split {split!r} of {dataset.root} has no annotated slice and no segmentation case")
    return slices, cases


def _spacing(dataset: Dataset, patient_id: str, width: int, height: int):
    series = dataset.series.get(patient_id)
    return None if series is None else list(series.spacing_for(width, height))


def _geometry(dataset: Dataset, slices, cases) -> dict:
    def entry(pid, width, height):
        return {"width": width, "height": height, "spacing_mm": _spacing(dataset, pid, width, height)}

    return {"images": {s.image_id: entry(s.patient_id, s.width, s.height) for s in slices},
            "cases": {pid: entry(pid, c.width, c.height) for pid, c in cases.items()}}


def coco_image_ids(image_ids: Iterable[str]) -> dict[str, int]:
    """COCO image id of each image ID: 1, 2, ... in sorted image ID order (detection.json, public.json)."""
    return {image: number for number, image in enumerate(sorted(image_ids), start=1)}


def coco_categories() -> list[dict]:
    """The ten COCO categories: id 1-10 in :data:`domain.CATEGORIES` order, name ``"L3-L4/left"``."""
    return [{"id": n, "name": name, "supercategory": "foramen",
             "level": split_category(name)[0], "side": split_category(name)[1]}
            for n, name in enumerate(CATEGORIES, start=1)]


def coco_detection(slices: list[AnnotatedSlice], split: str, definition_name: str) -> dict:
    """The COCO dict of ``slices`` (sorted by image ID); ``severity`` is an extra field."""
    images, annotations = [], []
    numbers = coco_image_ids(s.image_id for s in slices)
    for s in slices:
        number = numbers[s.image_id]
        images.append({"id": number, "file_name": s.image_id, "width": s.width, "height": s.height})
        for box in sorted(s.boxes, key=_box_key):
            x, y = float(box.xmin), float(box.ymin)
            w, h = float(box.xmax) - x, float(box.ymax) - y
            annotations.append({"id": len(annotations) + 1, "image_id": number, "iscrowd": 0,
                                "category_id": category_id(box.level, box.side),
                                "bbox": [x, y, w, h], "area": w * h, "severity": int(box.severity)})
    categories = coco_categories()
    info = {"description": f"lssbench ground truth: neural foramina, split {split}",
            "split": split, "split_definition": definition_name,
            "severity": dict(enumerate(GRADE_NAMES)), "grade_rule": GRADE_RULE_TEXT}
    return {"info": info, "licenses": [], "images": images,
            "annotations": annotations, "categories": categories}


def split_coco(dataset: Dataset, split: str, *, definition=None) -> dict:
    """The COCO ground truth of one split of ``dataset``: the ``detection.json`` that
    :func:`prepare_ground_truth` writes for it."""
    definition = resolve_split_definition(definition)
    slices, _ = _select(dataset, split, definition)
    return coco_detection(slices, split, definition.name)


def _mask_png(case: SegmentationCase) -> bytes:
    from lssbench.dataset.masks import read_mask

    mask = np.ascontiguousarray(read_mask(case.mask_path), dtype=np.uint8)
    if mask.shape != (case.height, case.width):
        raise DataError("segmentation mask does not match its slice", [Problem(
            str(case.mask_path), "", f"mask is {mask.shape[1]}x{mask.shape[0]}, slice is {case.width}x{case.height}")])
    return mask_png(mask)


def _write_bundle(folder: Path, dataset: Dataset, slices, cases, split: str, definition_name: str) -> None:
    contents = {DETECTION_FILE: dumps(coco_detection(slices, split, definition_name)).encode(),
                GRADES_FILE: grades_csv(grades_table(boxes_table(slices))).encode()}
    contents.update({f"{SEGMENTATION_DIR}/{pid}.png": _mask_png(c) for pid, c in cases.items()})
    geometry = _geometry(dataset, slices, cases)
    files = {name: sha256_bytes(data) for name, data in contents.items()}
    gt_fingerprint = bundle_fingerprint(files, geometry)
    patients = sorted({s.patient_id for s in slices} | set(cases))
    head = {"lssbench_version": __version__, "schema_version": GT_SCHEMA_VERSION,
            "split": split, "split_definition": definition_name}
    public = _public(head, gt_fingerprint, patients, geometry, _slice_sides(dataset, slices))
    contents[PUBLIC_FILE] = dumps(public).encode()
    files[PUBLIC_FILE] = sha256_bytes(contents[PUBLIC_FILE])
    for name, data in contents.items():
        write_bytes_atomic(folder / name, data)
    manifest = {**head, "format": GT_FORMAT, "grade_rule": GRADE_RULE, "grade_rule_text": GRADE_RULE_TEXT,
                "patients": patients, **geometry, "files": files, "fingerprint": gt_fingerprint}
    write_text_atomic(folder / MANIFEST_FILE, dumps(manifest))


def _slice_sides(dataset: Dataset, slices) -> dict[str, dict]:
    """Per image: its lateral offset from the middle of the series and the side of the spine
    it lies on, from the DICOM geometry (:meth:`Series.lateral_offset_mm`); not a label."""
    out = {}
    for s in slices:
        series = dataset.series.get(s.patient_id)
        offset = None if series is None else series.lateral_offset_mm(s.slice_name)
        out[s.image_id] = {"lateral_offset_mm": offset,
                           SIDE_OF_SPINE: None if series is None else series.side_of_spine(s.slice_name)}
    return out


def _public(head: dict, gt_fingerprint: str, patients: list[str], geometry: dict, sides: dict) -> dict:
    ids = coco_image_ids(geometry["images"])
    images = [{"image_id": i, "patient_id": split_image_id(i)[0], "width": g["width"], "height": g["height"],
               "coco_id": ids[i], **sides[i]}
              for i, g in geometry["images"].items()]
    cases = [{"patient_id": pid, **g} for pid, g in geometry["cases"].items()]
    categories = [{"id": c["id"], "name": c["name"]} for c in coco_categories()]
    return {**head, "format": PUBLIC_FORMAT, "gt_fingerprint": gt_fingerprint,
            "patients": patients, "images": images, "cases": cases, "coco_categories": categories}


def bundle_fingerprint(label_hashes: dict[str, str], geometry: dict) -> str:
    """``sha256:...`` over the label files' hashes and the canonical image/case geometry."""
    hashes = {k: v for k, v in label_hashes.items() if k not in (PUBLIC_FILE, MANIFEST_FILE)}
    hashes[GEOMETRY_KEY] = sha256_bytes(dumps(geometry).encode())
    return fingerprint(hashes)


# --- load ---------------------------------------------------------------------------------


@dataclass
class GroundTruth:
    """A loaded bundle (``has_labels``) or a public.json (no boxes, grades, coco or masks)."""

    split: str
    split_definition: str
    fingerprint: str
    lssbench_version: str
    patients: list[str]
    images: pd.DataFrame  # image_id, patient_id, width, height; sorted by image_id
    cases: dict[str, dict]  # pid -> {"width", "height", "spacing_mm": (row, col) or None}
    has_labels: bool
    boxes: pd.DataFrame | None = None
    grades: pd.DataFrame | None = None
    coco: dict | None = None
    image_spacing: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    image_sides: dict[str, str | None] = field(default_factory=dict)  # image_id -> side of the spine (public.json)
    path: Path | None = None  # the bundle folder, or the public.json file
    _masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)

    def mask(self, patient_id: str) -> np.ndarray:
        """The class-index mask (uint8, 0-5, shape (height, width)) of a case, read once."""
        if not self.has_labels:
            raise UsageError(f"{self.path} is a public.json: it holds no masks")
        if patient_id not in self.cases:
            raise KeyError(f"no segmentation case for patient {patient_id} in split {self.split}")
        if patient_id not in self._masks:
            self._masks[patient_id] = self._read_mask(patient_id)
        return self._masks[patient_id]

    def masks(self) -> dict[str, np.ndarray]:
        """All masks, ``{patient_id: mask}``."""
        return {pid: self.mask(pid) for pid in sorted(self.cases)}

    def _read_mask(self, patient_id: str) -> np.ndarray:
        name = f"{SEGMENTATION_DIR}/{patient_id}.png"
        data, problem = _read_verified(self.path, name, self._hashes.get(name))
        if problem is None:
            mask, problem = _decode_mask(name, data, self.cases[patient_id])
        if problem is not None:
            raise DataError(f"ground-truth bundle {self.path} is damaged", [problem])
        return mask


def _decode_mask(name: str, data: bytes, case: dict):
    try:
        image = Image.open(io.BytesIO(data))
        mode = image.mode
        mask = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # PIL raises many kinds on a broken PNG
        return None, Problem(name, "", f"not a readable PNG ({exc})")
    if mode != "L":
        return None, Problem(name, "", f"PNG mode is {mode}, expected 8-bit grayscale L")
    if mask.shape != (case["height"], case["width"]):
        return None, Problem(name, "", f"mask is {mask.shape[1]}x{mask.shape[0]}, expected "
                                       f"{case['width']}x{case['height']}")
    if mask.size and int(mask.max()) >= NUM_SEGMENTATION_CLASSES:
        return None, Problem(name, "", f"value {int(mask.max())} is not a class index 0-{NUM_SEGMENTATION_CLASSES - 1}")
    mask.setflags(write=False)  # cached and shared: nobody may edit the ground truth in place
    return mask, None


def _read_verified(folder: Path, name: str, expected: str | None):
    """``(bytes, None)`` or ``(None, Problem)`` for a bundle file checked against its sha256."""
    if expected is None:
        return None, Problem(name, "", f"not listed in {MANIFEST_FILE}")
    try:
        data = (folder / name).read_bytes()
    except OSError:
        return None, Problem(name, "", "missing")
    if sha256_bytes(data) != expected:
        return None, Problem(name, "", f"altered: its sha256 differs from the one in {MANIFEST_FILE}")
    return data, None


def load_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """Load a bundle folder, its manifest.json, or a public.json; verify every file.

    Raises :class:`DataError` naming every missing, altered or malformed file.
    """
    file = _locate(Path(path))
    document = _read_json(file, file.name)
    kind = document.get("format") if isinstance(document, dict) else None
    loader = {GT_FORMAT: _load_bundle, PUBLIC_FORMAT: _load_public}.get(kind)
    if loader is None:
        raise DataError(f"{file} is not a ground-truth manifest or public.json",
                        [Problem(file.name, "format", f"expected {GT_FORMAT!r} or {PUBLIC_FORMAT!r}, got {kind!r}")])
    try:
        return loader(document, file)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{file} is malformed", [Problem(file.name, "", f"{type(exc).__name__}: {exc}")]) from exc


def _locate(path: Path) -> Path:
    if path.is_dir():
        for name in (MANIFEST_FILE, PUBLIC_FILE):
            if (path / name).is_file():
                return path / name
        raise DataError(f"{path} is not a ground-truth bundle",
                        [Problem(str(path), "", f"neither {MANIFEST_FILE} nor {PUBLIC_FILE} found")])
    if not path.is_file():
        raise DataError(f"ground truth {path} not found", [Problem(str(path), "", "missing")])
    return path


def _read_json(file: Path, name: str, data: bytes | None = None):
    try:
        return json.loads(file.read_bytes() if data is None else data)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file} is not valid JSON", [Problem(name, "", f"malformed JSON: {exc}")]) from exc


def _spacing_tuple(value):
    return None if value is None else (float(value[0]), float(value[1]))


def _cases(entries: dict) -> dict[str, dict]:
    return {pid: {"width": int(e["width"]), "height": int(e["height"]),
                  "spacing_mm": _spacing_tuple(e["spacing_mm"])} for pid, e in sorted(entries.items())}


def _images_table(rows: Iterable[tuple]) -> pd.DataFrame:
    return _typed(sorted(rows), IMAGE_COLUMNS)


_PUBLIC_FIELDS = {"split": str, "split_definition": str, "lssbench_version": str, "gt_fingerprint": str,
                  "patients": list, "images": list, "cases": list}


def _load_public(document: dict, file: Path) -> GroundTruth:
    problems = _structure_problems(document, _PUBLIC_FIELDS, file.name)
    if not problems:
        listed = _patients_of((i["image_id"] for i in document["images"]), (c["patient_id"] for c in document["cases"]))
        if document["patients"] != listed:
            problems.append(Problem(file.name, "patients", f"{len(document['patients'])} listed, but its images and "
                                    f"cases hold {len(listed)} (or other ones); the file was edited or damaged"))
        if document["split"] not in SPLITS:
            problems.append(Problem(file.name, "split", f"{document['split'][:40]!r} is not a split"))
    if problems:
        raise DataError(f"{file} is damaged", problems)
    images = _images_table((i["image_id"], split_image_id(i["image_id"])[0], i["width"], i["height"])
                           for i in document["images"])
    return GroundTruth(split=document["split"], split_definition=document["split_definition"],
                       fingerprint=document["gt_fingerprint"], lssbench_version=document["lssbench_version"],
                       patients=sorted(document["patients"]), images=images,
                       cases=_cases({c["patient_id"]: c for c in document["cases"]}),
                       has_labels=False, path=file, image_sides=_image_sides(document))


def _image_sides(public: dict) -> dict[str, str | None]:
    """``{image_id: side of the spine or None}`` of a public.json (None where an older public.json lacks it)."""
    return {i["image_id"]: i.get(SIDE_OF_SPINE) for i in public["images"]}


def _required_files(manifest: dict) -> list[str]:
    return [DETECTION_FILE, GRADES_FILE, PUBLIC_FILE] + [f"{SEGMENTATION_DIR}/{p}.png" for p in sorted(manifest["cases"])]


#: Fields of manifest.json and the JSON type each must have.
_MANIFEST_FIELDS = {"split": str, "split_definition": str, "lssbench_version": str, "grade_rule": str,
                    "schema_version": int, "patients": list, "images": dict, "cases": dict, "files": dict,
                    "fingerprint": str}
_EDITED = "; the manifest was edited or damaged -- prepare the bundle again"


def _structure_problems(document: dict, fields: dict, name: str) -> list[Problem]:
    """Problems for missing fields or fields of the wrong JSON type."""
    problems = []
    for key, kind in fields.items():
        if key not in document:
            problems.append(Problem(name, key, f"missing field{_EDITED}"))
        elif not isinstance(document[key], kind) or isinstance(document[key], bool):
            problems.append(Problem(name, key, f"expected a JSON {'string' if kind is str else kind.__name__}, "
                                               f"got {type(document[key]).__name__}{_EDITED}"))
    return problems


def _patients_of(images: Iterable[str], cases: Iterable[str]) -> list[str]:
    """The bundle's patients: those with an annotated slice or a segmentation case."""
    return sorted({split_image_id(i)[0] for i in images} | set(cases))


def _consistency_problems(manifest: dict, public: dict, coco: dict, grades: pd.DataFrame) -> list[Problem]:
    """The manifest's unhashed fields against what the hashed files and its geometry say."""
    problems = []
    patients = _patients_of(manifest["images"], manifest["cases"])
    if manifest["patients"] != patients:
        problems.append(Problem(MANIFEST_FILE, "patients", f"{len(manifest['patients'])} listed, but its images and "
                                f"cases hold {len(patients)} (or other ones){_EDITED}"))
    if manifest["split"] not in SPLITS:
        problems.append(Problem(MANIFEST_FILE, "split", f"{str(manifest['split'])[:40]!r} is not a split{_EDITED}"))
    if manifest["grade_rule"] != GRADE_RULE:
        problems.append(Problem(MANIFEST_FILE, "grade_rule", f"{str(manifest['grade_rule'])[:40]!r}, but this "
                                f"lssbench knows only {GRADE_RULE!r}{_EDITED}"))
    info = coco.get("info", {}) if isinstance(coco, dict) else {}
    for key in ("split", "split_definition"):
        for name, other in ((PUBLIC_FILE, public), (DETECTION_FILE, info)):
            if isinstance(other, dict) and other.get(key) != manifest[key]:
                problems.append(Problem(MANIFEST_FILE, key, f"{str(manifest[key])[:40]!r}, but {name} says "
                                        f"{str(other.get(key))[:40]!r}{_EDITED}"))
    if isinstance(public, dict):
        if public.get("patients") != manifest["patients"]:
            problems.append(Problem(MANIFEST_FILE, "patients", f"differ from those of {PUBLIC_FILE}{_EDITED}"))
        if public.get("gt_fingerprint") != manifest["fingerprint"]:
            problems.append(Problem(MANIFEST_FILE, "fingerprint", f"differs from the one in {PUBLIC_FILE}{_EDITED}"))
    strangers = sorted(set(grades["patient_id"]) - set(manifest["patients"]))
    if strangers and not problems:  # else it follows from the manifest's own problems
        problems.append(Problem(GRADES_FILE, "patient_id", f"{strangers[0]} is not a patient of the bundle"))
    return problems


def _load_bundle(manifest: dict, file: Path) -> GroundTruth:
    folder = file.parent
    problems = _structure_problems(manifest, _MANIFEST_FIELDS, MANIFEST_FILE)
    if problems:
        raise DataError(f"ground-truth bundle {folder} is damaged", problems)
    hashes = dict(manifest["files"])
    geometry = {"images": manifest["images"], "cases": manifest["cases"]}
    checked = {name: _read_verified(folder, name, hashes.get(name)) for name in _required_files(manifest)}
    problems = [problem for _, problem in checked.values() if problem is not None]
    if bundle_fingerprint(hashes, geometry) != manifest["fingerprint"]:
        problems.append(Problem(MANIFEST_FILE, "fingerprint", "does not match the files and geometry it lists"))
    if problems:
        raise DataError(f"ground-truth bundle {folder} is damaged", sorted(problems))
    coco = _read_json(folder / DETECTION_FILE, DETECTION_FILE, checked[DETECTION_FILE][0])
    public = _read_json(folder / PUBLIC_FILE, PUBLIC_FILE, checked[PUBLIC_FILE][0])
    boxes, images = _parse_coco(coco, manifest)
    grades = _parse_grades(checked[GRADES_FILE][0])
    problems = _consistency_problems(manifest, public, coco, grades)
    if problems:
        raise DataError(f"ground-truth bundle {folder} is damaged", problems)
    return GroundTruth(split=manifest["split"], split_definition=manifest["split_definition"],
                       fingerprint=manifest["fingerprint"], lssbench_version=manifest["lssbench_version"],
                       patients=sorted(manifest["patients"]), images=images, cases=_cases(manifest["cases"]),
                       has_labels=True, boxes=boxes, grades=grades, coco=coco,
                       image_spacing={i: _spacing_tuple(e["spacing_mm"]) for i, e in manifest["images"].items()},
                       image_sides=_image_sides(_read_json(folder / PUBLIC_FILE, PUBLIC_FILE, checked[PUBLIC_FILE][0])),
                       path=folder, _hashes=hashes)


def _malformed(name: str, message: str) -> DataError:
    return DataError(f"ground-truth file {name} is malformed", [Problem(name, "", message)])


def _parse_coco(coco: dict, manifest: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        file_name = {img["id"]: img["file_name"] for img in coco["images"]}
        sizes = [(img["file_name"], split_image_id(img["file_name"])[0], img["width"], img["height"])
                 for img in coco["images"]]
        categories = {c["id"]: split_category(c["name"]) for c in coco["categories"]}
        rows = []
        for a in coco["annotations"]:
            x, y, w, h = a["bbox"]
            image = file_name[a["image_id"]]
            rows.append((image, split_image_id(image)[0], *categories[a["category_id"]],
                         a["severity"], x, y, x + w, y + h))
        boxes, images = _typed(rows, BOX_COLUMNS), _images_table(sizes)
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed(DETECTION_FILE, f"{type(exc).__name__}: {exc}") from exc
    if sorted(images["image_id"]) != sorted(manifest["images"]):
        raise _malformed(DETECTION_FILE, f"its images differ from those listed in {MANIFEST_FILE}")
    return boxes, images


def _parse_grades(data: bytes) -> pd.DataFrame:
    try:
        grades = pd.read_csv(io.BytesIO(data), dtype={"severity": "int64"})
        if tuple(grades.columns) != GRADE_COLUMNS:
            raise ValueError(f"columns are {', '.join(grades.columns)}, expected {', '.join(GRADE_COLUMNS)}")
        return grades.astype({c: _DTYPES[c] for c in GRADE_COLUMNS})
    except (ValueError, TypeError) as exc:
        raise _malformed(GRADES_FILE, str(exc)) from exc
