"""Reader for the published LSS-MRI-AISSLab layout (real or synthetic), see docs/architecture.md.

Layout (folder names exact; file suffixes matched case-insensitively, any nesting depth)::

    DICOM/<patient>/.../<files>            required; files with or without .dcm
    Foramina_Detection/Images/*.png        required
    Foramina_Detection/Annotations/*.xml   required; PASCAL VOC + <level>
    Segmentation/Middle_Slice/*.png        optional as a whole: a copy without Segmentation/
    Segmentation/Masks/*.png               is read with no cases; if Segmentation/ exists,
                                           both subfolders are required

Conventions and decisions:

* Patient ID (``PATIENT`` + 5-7 digits): from the file name, else the nearest parent folder
  inside the part's folder, else (annotations) the XML's ``<folder>``, ``<filename>``,
  ``<path>``. Slice name (``IM`` + 6 digits): the file name, else ``<filename>``/``<path>``.
  For a DICOM folder: its name, else the files' PatientID tag.
* An annotation is paired with the image at the same relative path (``Annotations/a/b.xml``
  <-> ``Images/a/b.png``), else with the image of the same image ID. An annotation without
  image, an image without annotation and any duplicate image ID are problems; the PNG size
  must equal ``<size>``. A slice with no ``<object>`` is kept (an image without boxes).
* Boxes are PASCAL VOC corners in PNG pixels: need xmin < xmax, ymin < ymax, inside
  [0, width] x [0, height].
* DICOM: headers only (``stop_before_pixels``; each file's TransferSyntaxUID is recorded,
  pixels are decoded by :mod:`lssbench.dataset.images`); files that are not DICOM images are
  skipped (a problem only when a folder holds no image at all). Several series in one folder: the
  sagittal ones (ImageOrientationPatient, else a folder name containing "sag") are kept; more
  than one left is a problem. Slices sorted by InstanceNumber; the most common size and
  PixelSpacing are recorded, any disagreement is a problem.
* A patient with annotations or a mask but no DICOM series is a problem (its spacing is
  unknown). Whether each annotated slice name exists in the series is not checked here
  (the numbering is undocumented); :func:`lssbench.dataset.summary.summarize_dataset`
  counts the ones that do not.
* Masks are not decoded unless ``check_masks=True`` (read speed); sizes always are checked.
  DICOM headers of 64 or more patient folders are read in worker processes (up to 16).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import pydicom
from defusedxml import DefusedXmlException
from PIL import Image

from lssbench.dataset.images import file_transfer_syntax
from lssbench.dataset.masks import read_mask
from lssbench.dataset.records import AnnotatedSlice, Box, Dataset, SegmentationCase, Series
from lssbench.domain import (
    LEVEL_SPELLINGS_TEXT,
    PATIENT_ID_PATTERN,
    SLICE_NAME_PATTERN,
    VOC_NAME_TEXT,
    image_id,
    parse_level,
    parse_voc_name,
)
from lssbench.problems import DataError, Problem

DICOM_DIR = "DICOM"
IMAGES_DIR = "Foramina_Detection/Images"
ANNOTATIONS_DIR = "Foramina_Detection/Annotations"
SEGMENTATION_DIR = "Segmentation"
MIDDLE_SLICE_DIR = "Segmentation/Middle_Slice"
MASKS_DIR = "Segmentation/Masks"
REQUIRED_DIRS = (DICOM_DIR, IMAGES_DIR, ANNOTATIONS_DIR)
SEGMENTATION_DIRS = (MIDDLE_SLICE_DIR, MASKS_DIR)
_PARALLEL_MIN_FOLDERS = 64  # below this, starting worker processes costs more than it saves
LAYOUT_TEXT = f"expected {', '.join(REQUIRED_DIRS)} and, if {SEGMENTATION_DIR} exists, {' and '.join(SEGMENTATION_DIRS)}"

_PATIENT_SEARCH = re.compile(rf"(?<![0-9A-Za-z])(?:{PATIENT_ID_PATTERN.pattern})(?!\d)")
_SLICE_SEARCH = re.compile(rf"(?<![0-9A-Za-z])(?:{SLICE_NAME_PATTERN.pattern})(?!\d)")
PATIENT_ID_TEXT = "PATIENT and 5 to 7 digits, e.g. PATIENT1000513"
SLICE_NAME_TEXT = "IM and six digits, e.g. IM000003"


class _Context:
    """The dataset root and the problems found so far (files named relative to the root)."""

    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def add(self, path: Path | str, location: str, message: str) -> None:
        file = self.rel(path) if isinstance(path, Path) else path
        self.problems.append(Problem(file, location, message))


# --- identifiers ---------------------------------------------------------------------------


def _search(pattern: re.Pattern, texts: Iterable[str | None]) -> str | None:
    """First match of ``pattern`` in the first text that has one."""
    for text in texts:
        match = pattern.search(text or "")
        if match:
            return match.group(0)
    return None


def _path_names(path: Path, base: Path) -> list[str]:
    """File stem, then the parent folder names up to (not including) ``base``, nearest first."""
    parents = path.relative_to(base).parent.parts
    return [path.stem, *reversed(parents)]


def _ids_from_path(path: Path, base: Path) -> tuple[str | None, str | None]:
    """(patient ID, slice name) found in a file's name and folders."""
    return _search(_PATIENT_SEARCH, _path_names(path, base)), _search(_SLICE_SEARCH, [path.stem])


def _files(folder: Path, suffix: str) -> list[Path]:
    """Files under ``folder`` (any depth) ending in ``suffix`` (any case), hidden ones skipped, sorted."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() == suffix and not p.name.startswith(".")
    )


def _png_size(ctx: _Context, path: Path) -> tuple[int, int] | None:
    """(width, height) from the PNG header (no decoding); a problem and None if unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, Image.DecompressionBombError) as exc:
        ctx.add(path, "", f"cannot read image: {exc}")
        return None


# --- annotations ---------------------------------------------------------------------------


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _parse_xml(ctx: _Context, path: Path) -> Element | None:
    try:
        root = SafeET.parse(path).getroot()
    except (ParseError, DefusedXmlException, OSError) as exc:
        ctx.add(path, "", f"malformed XML: {exc}")
        return None
    if root.tag != "annotation":
        ctx.add(path, "", f"root element is <{root.tag}>; expected <annotation> (PASCAL VOC)")
        return None
    return root


def _annotation_ids(ctx: _Context, path: Path, base: Path, root: Element) -> tuple[str | None, str | None]:
    """(patient ID, slice name) of an annotation file; a problem for each one not found."""
    names = _path_names(path, base)
    fields = [root.findtext(tag) for tag in ("folder", "filename", "path")]
    patient = _search(_PATIENT_SEARCH, [*names, *fields])
    slice_name = _search(_SLICE_SEARCH, [path.stem, *fields[1:]])
    if patient is None:
        ctx.add(
            path,
            "",
            f"no patient ID in the file name, its folders or <folder>/<filename>/<path>; expected {PATIENT_ID_TEXT}",
        )
    if slice_name is None:
        ctx.add(path, "", f"no slice name in the file name or <filename>/<path>; expected {SLICE_NAME_TEXT}")
    return patient, slice_name


def _positive_int(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _annotation_size(ctx: _Context, path: Path, root: Element) -> tuple[int, int] | None:
    size = root.find("size")
    if size is None:
        ctx.add(path, "", "has no <size>; expected <size><width>W</width><height>H</height></size>")
        return None
    width, height = (_positive_int(size.findtext(tag)) for tag in ("width", "height"))
    if width is None or height is None:
        shown = f"width {size.findtext('width')!r}, height {size.findtext('height')!r}"
        ctx.add(path, "size", f"has {shown}; expected positive whole numbers")
        return None
    return width, height


def _coordinate(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _bndbox(ctx: _Context, path: Path, where: str, obj: Element, size) -> tuple[float, ...] | None:
    """(xmin, ymin, xmax, ymax) of an object, checked against the image size."""
    bndbox = obj.find("bndbox")
    if bndbox is None:
        ctx.add(path, where, "has no <bndbox>")
        return None
    tags = ("xmin", "ymin", "xmax", "ymax")
    values = [_coordinate(bndbox.findtext(tag)) for tag in tags]
    bad = [f"<{tag}> {bndbox.findtext(tag)!r}" for tag, value in zip(tags, values) if value is None]
    if bad:
        ctx.add(path, where, f"<bndbox> has {', '.join(bad)}; expected numbers")
        return None
    xmin, ymin, xmax, ymax = values
    if xmin >= xmax or ymin >= ymax:
        ctx.add(
            path,
            where,
            f"<bndbox> ({', '.join(map(_number, values))}) is empty; expected xmin < xmax and ymin < ymax",
        )
        return None
    if size and (xmin < 0 or ymin < 0 or xmax > size[0] or ymax > size[1]):
        ctx.add(
            path,
            where,
            f"<bndbox> ({', '.join(map(_number, values))}) lies outside the {size[0]}x{size[1]} image",
        )
        return None
    return xmin, ymin, xmax, ymax


def _parse_object(ctx: _Context, path: Path, number: int, obj: Element, size) -> Box | None:
    where = f"object {number}"
    side = grade = level = None
    name = obj.findtext("name")
    try:
        side, grade = parse_voc_name(name)
    except ValueError:
        shown = "no <name>" if name is None else f"<name>{name}</name>"
        ctx.add(path, where, f"has {shown}; expected {VOC_NAME_TEXT}")
    level_text = obj.findtext("level")
    try:
        level = parse_level(level_text)
    except ValueError:
        shown = "no <level>" if level_text is None else f"<level>{level_text}</level>"
        ctx.add(path, where, f"has {shown}; expected {LEVEL_SPELLINGS_TEXT}")
    corners = _bndbox(ctx, path, where, obj, size)
    if side is None or level is None or corners is None:
        return None
    return Box(level, side, grade, *corners)


def _read_annotation(ctx: _Context, path: Path, base: Path) -> AnnotatedSlice | None:
    """One annotation file -> AnnotatedSlice (without image); None if it cannot be identified."""
    root = _parse_xml(ctx, path)
    if root is None:
        return None
    patient, slice_name = _annotation_ids(ctx, path, base, root)
    size = _annotation_size(ctx, path, root)
    boxes = [_parse_object(ctx, path, n, obj, size) for n, obj in enumerate(root.findall("object"), 1)]
    if patient is None or slice_name is None or size is None:
        return None
    return AnnotatedSlice(patient, slice_name, size[0], size[1], [b for b in boxes if b], path)


class _ImageIndex:
    """PNGs of one folder, found by relative path stem or by image ID."""

    def __init__(self, ctx: _Context, folder: Path):
        self.folder = folder
        self.by_stem = {p.relative_to(folder).with_suffix("").as_posix(): p for p in _files(folder, ".png")}
        self.by_id: dict[str, Path] = {}
        for path in self.by_stem.values():
            patient, slice_name = _ids_from_path(path, folder)
            if patient and slice_name:
                key = image_id(patient, slice_name)
                if key in self.by_id:
                    ctx.add(path, "", f"duplicate image ID {key}; also {ctx.rel(self.by_id[key])}")
                else:
                    self.by_id[key] = path
        self.used: set[Path] = set()

    def find(self, stem: str, key: str) -> Path | None:
        path = self.by_stem.get(stem) or self.by_id.get(key)
        if path is not None:
            self.used.add(path)
        return path

    def unused(self) -> list[Path]:
        return [p for p in self.by_stem.values() if p not in self.used]


def _attach_image(ctx: _Context, item: AnnotatedSlice, stem: str, images: _ImageIndex) -> None:
    path = images.find(stem, item.image_id)
    if path is None:
        ctx.add(
            item.annotation_path,
            "",
            f"no image {item.image_id} in {ctx.rel(images.folder)} (looked for {stem}.png)",
        )
        return
    item.image_path = path
    size = _png_size(ctx, path)
    if size is not None and size != (item.width, item.height):
        ctx.add(
            item.annotation_path,
            "size",
            f"<size> is {item.width}x{item.height} but {ctx.rel(path)} is {size[0]}x{size[1]}",
        )


def _read_detection(ctx: _Context, annotations_dir: Path, images_dir: Path) -> list[AnnotatedSlice]:
    images = _ImageIndex(ctx, images_dir)
    slices: dict[str, AnnotatedSlice] = {}
    for path in _files(annotations_dir, ".xml"):
        stem = path.relative_to(annotations_dir).with_suffix("").as_posix()
        item = _read_annotation(ctx, path, annotations_dir)
        if item is not None and item.image_id in slices:
            ctx.add(
                path,
                "",
                f"duplicate image ID {item.image_id}; also {ctx.rel(slices[item.image_id].annotation_path)}",
            )
            item = None
        if item is None:
            images.find(stem, "")  # its image has an annotation, a broken one: no second problem
            continue
        slices[item.image_id] = item
        _attach_image(ctx, item, stem, images)
    for path in images.unused():
        ctx.add(path, "", f"image without annotation in {ANNOTATIONS_DIR}")
    return [slices[key] for key in sorted(slices)]


# --- DICOM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """The header values the reader uses, converted once (pydicom attribute access is slow)."""

    path: Path
    rows: int
    columns: int
    spacing: tuple[float, float] | None
    instance: int | None
    thickness: float | None
    x: float
    orientation: tuple[float, ...] | None
    series_uid: str
    patient_id: str
    transfer_syntax: str


_HEADER_TAGS = [
    "Rows", "Columns", "PixelSpacing", "InstanceNumber", "SliceThickness", "ImagePositionPatient",
    "ImageOrientationPatient", "SeriesInstanceUID", "PatientID",
]  # fmt: skip


def _floats(value, count: int) -> tuple[float, ...] | None:
    """``count`` finite floats of a multi-valued element, else None."""
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return values if len(values) == count and all(map(math.isfinite, values)) else None


def _scalar(value, kind):
    try:
        return kind(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _dcmread(path: Path) -> pydicom.Dataset | None:
    """Header elements of a DICOM file (no pixels), also without the 128-byte preamble."""
    for force in (False, True):
        try:
            return pydicom.dcmread(path, stop_before_pixels=True, force=force, specific_tags=_HEADER_TAGS)
        except pydicom.errors.InvalidDicomError:
            continue
        except Exception:  # pydicom raises many types on files that are not DICOM
            return None
    return None


def _read_header(path: Path) -> _Header | None:
    """The header of a DICOM image file, or None for anything else (DICOMDIR, README...)."""
    ds = _dcmread(path)
    if ds is None:
        return None
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return None
    if rows <= 0 or columns <= 0:
        return None
    spacing = _floats(ds.get("PixelSpacing"), 2)
    position = _floats(ds.get("ImagePositionPatient"), 3)
    return _Header(
        path=path,
        rows=rows,
        columns=columns,
        spacing=spacing if spacing and min(spacing) > 0 else None,
        instance=_scalar(ds.get("InstanceNumber"), int),
        thickness=_scalar(ds.get("SliceThickness"), float),
        x=position[0] if position else math.nan,
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        patient_id=str(ds.get("PatientID", "")),
        transfer_syntax=file_transfer_syntax(ds),
    )


def _is_sagittal(header: _Header) -> bool:
    """Sagittal by ImageOrientationPatient (normal along x), else by a folder named *sag*."""
    if header.orientation is None:
        return any("sag" in part.lower() for part in header.path.parent.parts)
    r = header.orientation
    normal = (r[1] * r[5] - r[2] * r[4], r[2] * r[3] - r[0] * r[5], r[0] * r[4] - r[1] * r[3])
    return abs(normal[0]) >= max(abs(normal[1]), abs(normal[2]))


def _pick_series(ctx: _Context, folder: Path, headers: list[_Header]) -> list[_Header] | None:
    """The one sagittal series among a patient's images (grouped by SeriesInstanceUID and folder)."""
    groups: dict[tuple, list[_Header]] = {}
    for header in headers:
        groups.setdefault((header.series_uid, header.path.parent), []).append(header)
    if len(groups) > 1:
        groups = {key: group for key, group in groups.items() if all(map(_is_sagittal, group))}
    if len(groups) != 1:
        folders = sorted({ctx.rel(key[1]) for key in groups}) or ["none"]
        ctx.add(folder, "", f"{len(groups)} sagittal series ({', '.join(folders)}); expected exactly one")
        return None
    return next(iter(groups.values()))


def _folder_patient(ctx: _Context, folder: Path, headers: list[_Header]) -> str | None:
    if PATIENT_ID_PATTERN.fullmatch(folder.name):
        return folder.name
    tags = sorted({h.patient_id for h in headers})
    found = [t for t in tags if PATIENT_ID_PATTERN.fullmatch(t)]
    if len(found) == 1:
        return found[0]
    ctx.add(
        folder,
        "",
        f"neither the folder name nor the PatientID tags ({', '.join(tags)}) is one patient ID; expected {PATIENT_ID_TEXT}",
    )
    return None


def _consensus(ctx: _Context, folder: Path, what: str, values: dict[Path, object]):
    """Most common value; a problem listing the disagreeing files when there are several."""
    counts = Counter(values.values())
    common = counts.most_common(1)[0][0]
    if len(counts) > 1:
        odd = sorted(p.name for p, v in values.items() if v != common)
        ctx.add(
            folder,
            "",
            f"{what} differs within the series: {common} in most files, other values in {', '.join(odd)}",
        )
    return common


def _names_where(headers: list[_Header], missing) -> list[str]:
    return sorted(h.path.name for h in headers if missing(h))


def _build_series(ctx: _Context, folder: Path, patient: str, headers: list[_Header]) -> Series:
    if no_number := _names_where(headers, lambda h: h.instance is None):
        ctx.add(folder, "", f"no InstanceNumber in {', '.join(no_number)}; slice order unknown")
    if no_spacing := _names_where(headers, lambda h: h.spacing is None):
        ctx.add(folder, "", f"no valid PixelSpacing in {', '.join(no_spacing)}")
    if _names_where(headers, lambda h: math.isnan(h.x)):
        ctx.add(folder, "", "ImagePositionPatient missing in some slices; scan direction unknown")
    ordered = sorted(headers, key=lambda h: (h.instance is None, h.instance or 0, h.path.name))
    size = _consensus(ctx, folder, "Rows x Columns", {h.path: (h.rows, h.columns) for h in ordered})
    spacings = {h.path: h.spacing for h in ordered if h.spacing is not None}
    thickness = Counter(h.thickness for h in ordered if h.thickness is not None).most_common(1)
    return Series(
        patient_id=patient,
        files=[h.path for h in ordered],
        slice_names=[h.path.stem if h.path.suffix.lower() == ".dcm" else h.path.name for h in ordered],
        rows=size[0],
        columns=size[1],
        pixel_spacing_mm=(
            _consensus(ctx, folder, "PixelSpacing", spacings) if spacings else (math.nan, math.nan)
        ),
        slice_thickness_mm=thickness[0][0] if thickness else None,
        x_positions_mm=[h.x for h in ordered],
        transfer_syntaxes=[h.transfer_syntax for h in ordered],
    )


def _scan_folder(folder: Path) -> tuple[list[str], list[_Header]]:
    """File names and DICOM image headers under a patient folder (run in worker processes)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [p.name for p in files], [header for path in files if (header := _read_header(path)) is not None]


def _scan_all(folders: list[Path]) -> list[tuple[list[str], list[_Header]]]:
    """:func:`_scan_folder` of every folder, in order; in parallel processes for large datasets."""
    workers = min(os.cpu_count() or 1, 16)
    if len(folders) < _PARALLEL_MIN_FOLDERS or workers < 2:
        return [_scan_folder(folder) for folder in folders]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_scan_folder, folders, chunksize=max(1, len(folders) // (4 * workers))))


def _patient_series(ctx: _Context, folder: Path, names: list[str], headers: list[_Header]) -> Series | None:
    if not headers:
        ctx.add(folder, "", f"no readable DICOM image ({', '.join(names[:5]) or 'no files'})")
        return None
    patient = _folder_patient(ctx, folder, headers)
    chosen = _pick_series(ctx, folder, headers)
    if patient is None or chosen is None:
        return None
    return _build_series(ctx, folder, patient, chosen)


def _read_dicom(ctx: _Context, dicom_dir: Path) -> dict[str, Series]:
    series: dict[str, Series] = {}
    seen: dict[str, Path] = {}
    folders = sorted(p for p in dicom_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder, (names, headers) in zip(folders, _scan_all(folders)):
        item = _patient_series(ctx, folder, names, headers)
        if item is not None and item.patient_id in seen:
            ctx.add(folder, "", f"duplicate patient {item.patient_id}; also {ctx.rel(seen[item.patient_id])}")
        elif item is not None:
            series[item.patient_id], seen[item.patient_id] = item, folder
    return series


# --- segmentation --------------------------------------------------------------------------


def _index_by_patient(ctx: _Context, folder: Path) -> dict[str, Path]:
    """PNGs of a segmentation folder by patient ID (name or parent folder)."""
    found: dict[str, Path] = {}
    for path in _files(folder, ".png"):
        patient, _ = _ids_from_path(path, folder)
        if patient is None:
            ctx.add(path, "", f"no patient ID in the file name or its folders; expected {PATIENT_ID_TEXT}")
        elif patient in found:
            ctx.add(path, "", f"duplicate patient {patient}; also {ctx.rel(found[patient])}")
        else:
            found[patient] = path
    return found


def _segmentation_case(
    ctx: _Context, patient: str, image: Path, mask: Path, check_masks: bool
) -> SegmentationCase | None:
    image_size, mask_size = _png_size(ctx, image), _png_size(ctx, mask)
    if image_size is None or mask_size is None:
        return None
    if image_size != mask_size:
        ctx.add(
            mask,
            "",
            f"mask is {mask_size[0]}x{mask_size[1]} but {ctx.rel(image)} is {image_size[0]}x{image_size[1]}",
        )
    if check_masks:
        try:
            read_mask(mask, ctx.rel(mask))
        except DataError as exc:
            ctx.problems.extend(exc.problems)
    _, slice_name = _ids_from_path(image, image.parent)
    return SegmentationCase(patient, image, mask, image_size[0], image_size[1], slice_name=slice_name)


def _read_segmentation(
    ctx: _Context, middle_dir: Path, masks_dir: Path, check_masks: bool
) -> dict[str, SegmentationCase]:
    images, masks = _index_by_patient(ctx, middle_dir), _index_by_patient(ctx, masks_dir)
    for patient in sorted(set(images) - set(masks)):
        ctx.add(images[patient], "", f"no mask for {patient} in {MASKS_DIR}")
    for patient in sorted(set(masks) - set(images)):
        ctx.add(masks[patient], "", f"no middle slice for {patient} in {MIDDLE_SLICE_DIR}")
    cases = {}
    for patient in sorted(set(images) & set(masks)):
        case = _segmentation_case(ctx, patient, images[patient], masks[patient], check_masks)
        if case is not None:
            cases[patient] = case
    return cases


# --- the whole dataset ---------------------------------------------------------------------


def _missing_dirs(ctx: _Context) -> set[str]:
    """Required folders that are absent (each a problem); Segmentation/ only if present at all."""
    expected = list(REQUIRED_DIRS)
    if (ctx.root / SEGMENTATION_DIR).is_dir():
        expected += SEGMENTATION_DIRS
    missing = [name for name in expected if not (ctx.root / name).is_dir()]
    for name in missing:
        ctx.add(name, "", f"folder is missing; {LAYOUT_TEXT}")
    return set(missing)


def _check_series_present(ctx: _Context, dataset: Dataset) -> None:
    needing = {s.patient_id for s in dataset.slices} | set(dataset.segmentation)
    for patient in sorted(needing - set(dataset.series)):
        ctx.add(
            DICOM_DIR,
            patient,
            "no DICOM series for this patient, who has annotations or a mask; its pixel spacing is unknown",
        )


def read_dataset(root: str | Path, *, strict: bool = True, check_masks: bool = False) -> Dataset:
    """Read a dataset folder in the published layout (see the module docstring).

    Every problem is collected; with ``strict`` they raise one :class:`DataError`, otherwise
    the Dataset is returned with ``problems`` filled and the unreadable parts left out.
    ``check_masks`` also decodes every mask (slower) to report unmappable values.
    """
    root = Path(root)
    ctx = _Context(root)
    dataset = Dataset(root=root, patients=[])
    if not root.is_dir():
        ctx.add(str(root), "", "not a folder")
    else:
        missing = _missing_dirs(ctx)
        if DICOM_DIR not in missing:
            dataset.series = _read_dicom(ctx, root / DICOM_DIR)
        if not {IMAGES_DIR, ANNOTATIONS_DIR} & missing:
            dataset.slices = _read_detection(ctx, root / ANNOTATIONS_DIR, root / IMAGES_DIR)
        if (root / SEGMENTATION_DIR).is_dir() and not set(SEGMENTATION_DIRS) & missing:
            dataset.segmentation = _read_segmentation(
                ctx, root / MIDDLE_SLICE_DIR, root / MASKS_DIR, check_masks
            )
        if DICOM_DIR not in missing:
            _check_series_present(ctx, dataset)
    dataset.patients = sorted(
        set(dataset.series) | {s.patient_id for s in dataset.slices} | set(dataset.segmentation)
    )
    dataset.problems = ctx.problems
    if strict and ctx.problems:
        count = len(ctx.problems)
        raise DataError(f"{root}: {count} problem{'' if count == 1 else 's'}", ctx.problems)
    return dataset
