"""The synthetic dataset: determinism, published layout, labels and DICOM headers."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from defusedxml import ElementTree as ET
from PIL import Image

from lssbench.domain import LEVELS, SEGMENTATION_CLASSES, parse_level, parse_voc_name
from lssbench.problems import UsageError
from lssbench.splits import assign_split
from lssbench.synth import DEFAULT_PATIENTS, MARKER, synthesize
from lssbench.dataset import read_dataset, read_dicom_slice
from lssbench.synth.plan import (
    BOX_PROBABILITY,
    COMPACT_DICOM_SIZE,
    GRADE_MIX,
    TRANSFER_SYNTAX_WEIGHTS,
    TRANSFER_SYNTAXES,
    patient_ids,
    plan_patient,
    plan_series,
    plan_transfer_syntax,
)
from lssbench.synth.render import render_patient
from lssbench.synth.writer import dicom_bytes, full_dataset, shared_elements

N = 6


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("synth") / "data", n_patients=N, seed=3)


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _marker(root: Path) -> dict:
    return json.loads((root / MARKER).read_text())


def _objects(xml_path: Path) -> list[dict]:
    root = ET.parse(xml_path).getroot()
    out = []
    for obj in root.iter("object"):
        side, grade = parse_voc_name(obj.findtext("name"))
        corners = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
        out.append({"side": side, "grade": grade, "level": parse_level(obj.findtext("level")), "box": corners})
    return out


def test_default_patients():
    assert DEFAULT_PATIENTS == 100


def test_deterministic_and_seed_dependent(tmp_path, data):
    again = synthesize(tmp_path / "again", n_patients=N, seed=3)
    assert _hashes(again) == _hashes(data)
    other = synthesize(tmp_path / "other", n_patients=N, seed=4)
    assert set(_marker(other)["patients"]).isdisjoint(_marker(data)["patients"])
    assert _hashes(other) != _hashes(data)


@pytest.mark.parametrize("n", [1, 2, 7, 10, 33, 100])
def test_split_proportions_exact(n):
    ids = patient_ids(n, seed=0)
    assert len(set(ids)) == n
    assert all(re.fullmatch(r"PATIENT\d{7}", pid) for pid in ids)
    counts = Counter(assign_split(pid) for pid in ids)
    assert counts["train"] == round(0.7 * n)
    assert counts["val"] == round(0.1 * n)
    assert counts["test"] == n - round(0.7 * n) - round(0.1 * n)


def test_layout_and_naming(data):
    patients = _marker(data)["patients"]
    assert len(patients) == N
    assert sorted(p.name for p in data.iterdir()) == sorted(["DICOM", "Foramina_Detection", "Segmentation", MARKER])
    for pid, info in patients.items():
        files = sorted((data / info["dicom_folder"]).iterdir())
        assert len(files) == info["n_slices"] and 12 <= info["n_slices"] <= 18
        stems = [f.name.removesuffix(".dcm") for f in files]
        first = info["first_index"]
        assert stems == [f"IM{i:06d}" for i in range(first, first + info["n_slices"])]
        assert all(f.suffix == info["dicom_suffix"] for f in files)
        middle = info["middle_slice"]
        for folder in ("Segmentation/Middle_Slice", "Segmentation/Masks"):
            assert [p.name for p in (data / folder).glob(f"{pid}_*")] == [f"{pid}_{middle}.png"]
    images = sorted(p.stem for p in (data / "Foramina_Detection/Images").iterdir())
    notes = sorted(p.stem for p in (data / "Foramina_Detection/Annotations").iterdir())
    assert images == notes and len(images) >= N
    assert all(re.fullmatch(r"PATIENT\d{7}_IM\d{6}", name) for name in images)


def test_xml_and_png_agree(data):
    for xml_path in sorted((data / "Foramina_Detection/Annotations").glob("*.xml")):
        root = ET.parse(xml_path).getroot()
        pid, slice_name = xml_path.stem.split("_")
        assert root.findtext("folder") == "Sagittal"
        assert root.findtext("filename") == f"{slice_name}.png"
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        with Image.open(data / "Foramina_Detection/Images" / f"{xml_path.stem}.png") as image:
            assert image.size == (width, height) and image.mode == "L"
        assert width in (320, 512, 576)
        for obj in _objects(xml_path):
            xmin, ymin, xmax, ymax = obj["box"]
            assert 20 <= xmax - xmin <= 60 and 20 <= ymax - ymin <= 60
            assert 0 <= xmin < xmax < width and 0 <= ymin < ymax < height


def test_dicom_headers(data):
    for pid, info in _marker(data)["patients"].items():
        files = sorted((data / info["dicom_folder"]).iterdir())
        datasets = [pydicom.dcmread(f) for f in files]
        first = datasets[0]
        assert first.PatientID == pid and first.Modality == "MR"
        assert {ds.file_meta.TransferSyntaxUID for ds in datasets} == {info["transfer_syntax"]}
        assert (first.Rows, first.Columns) == (info["dicom_size"], info["dicom_size"])
        assert [float(v) for v in first.PixelSpacing] == [info["spacing_mm"]] * 2
        assert 0.4 <= info["spacing_mm"] <= 1.0
        assert 250 <= info["spacing_mm"] * info["dicom_size"] <= 300
        assert first.PhotometricInterpretation == "MONOCHROME2" and first.BitsAllocated == 16
        assert first.pixel_array.dtype == np.uint16 and first.pixel_array.std() > 0
        assert [int(ds.InstanceNumber) for ds in datasets] == list(range(1, len(files) + 1))
        x = np.array([float(ds.ImagePositionPatient[0]) for ds in datasets])
        steps = np.diff(x)
        assert np.all(np.sign(steps) == info["direction"])
        assert np.allclose(np.abs(steps), abs(steps[0]), atol=0.002) and abs(steps[0]) >= float(first.SliceThickness)
        assert len({ds.SOPInstanceUID for ds in datasets}) == len(files)


def _with_syntax(plan, syntax):
    return replace(plan, series=replace(plan.series, transfer_syntax=syntax))


@pytest.mark.parametrize("syntax", TRANSFER_SYNTAXES)
def test_fast_dicom_encoder_matches_pydicom(syntax):
    plan = _with_syntax(plan_patient("PATIENT1234567", 0, 0), syntax)
    size = plan.series.dicom_size
    pixels = (np.arange(size * size) % 4000).astype(np.uint16).reshape(size, size)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, full_dataset(plan, 2, pixels), enforce_file_format=True)
    assert dicom_bytes(plan, shared_elements(plan), 2, pixels) == buffer.getvalue()


@pytest.mark.parametrize("syntax", TRANSFER_SYNTAXES)
def test_every_written_transfer_syntax_decodes_to_the_rendered_pixels(tmp_path, syntax):
    plan = _with_syntax(plan_patient("PATIENT1234567", 0, 4), syntax)
    rendered = render_patient(plan).slices
    shared = shared_elements(plan)
    for index in (0, len(rendered) // 2):
        path = tmp_path / f"IM{index:06d}"
        path.write_bytes(dicom_bytes(plan, shared, index, rendered[index]))
        assert path.read_bytes() == dicom_bytes(plan, shared_elements(plan), index, rendered[index].copy())
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == syntax
        assert ds.pixel_array.dtype == np.uint16
        assert np.array_equal(ds.pixel_array, rendered[index])
        assert np.array_equal(read_dicom_slice(path), rendered[index].astype(np.float32))
    compressed = syntax not in (pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian)
    assert (path.stat().st_size < rendered[0].nbytes * 0.8) == compressed


def test_transfer_syntax_shares_are_deterministic_and_as_documented():
    drawn = [plan_transfer_syntax(0, i) for i in range(4000)]
    assert drawn[:100] == [plan_transfer_syntax(0, i) for i in range(100)]
    assert drawn != [plan_transfer_syntax(1, i) for i in range(4000)]
    share = Counter(drawn)
    for syntax, weight in zip(TRANSFER_SYNTAXES, TRANSFER_SYNTAX_WEIGHTS):
        assert share[syntax] / len(drawn) == pytest.approx(weight, abs=0.02)
    assert set(drawn[:20]) == set(TRANSFER_SYNTAXES)  # the tests' 20-patient dataset has every syntax
    weights = dict(zip(TRANSFER_SYNTAXES, TRANSFER_SYNTAX_WEIGHTS))
    uncompressed = weights[pydicom.uid.ExplicitVRLittleEndian] + weights[pydicom.uid.ImplicitVRLittleEndian]
    assert uncompressed == pytest.approx(0.2) and sum(weights.values()) == pytest.approx(1)  # as documented


def test_transfer_syntax_changes_nothing_but_the_pixel_encoding():
    """The syntax comes from its own random stream: the plan is otherwise the one drawn without it."""
    for index in range(12):
        plan = plan_patient("PATIENT1234567", 0, index)
        assert plan.series.transfer_syntax == plan_transfer_syntax(0, index)
        bare = replace(plan, series=replace(plan.series, transfer_syntax=pydicom.uid.ExplicitVRLittleEndian))
        rng = np.random.default_rng([0, 0x5A7, index])
        series = plan_series(rng)
        assert bare.series == series


def test_compact_variant_only_shrinks_the_dicom_matrix():
    for index in range(12):
        full, compact = plan_patient("PATIENT1234567", 0, index), plan_patient("PATIENT1234567", 0, index, True)
        assert compact.series.dicom_size == COMPACT_DICOM_SIZE[full.series.png_size] == full.series.png_size // 2
        assert compact.series.fov_mm == pytest.approx(full.series.fov_mm, abs=0.05)
        assert compact.series.png_spacing_mm == pytest.approx(full.series.png_spacing_mm, abs=2e-4)
        same = replace(compact.series, dicom_size=full.series.dicom_size, spacing_mm=full.series.spacing_mm)
        assert same == full.series
        assert [(f.level, f.side, f.grade, f.boxes) for f in compact.foramina] == \
            [(f.level, f.side, f.grade, f.boxes) for f in full.foramina]


def test_compact_dataset_reads_like_the_full_one(tmp_path):
    full = read_dataset(synthesize(tmp_path / "full", n_patients=3, seed=2))
    compact = read_dataset(synthesize(tmp_path / "compact", n_patients=3, seed=2, compact=True))
    assert _marker(tmp_path / "compact")["compact"] is True and _marker(tmp_path / "full")["compact"] is False
    assert [s.image_id for s in compact.slices] == [s.image_id for s in full.slices]
    assert [(s.width, s.height) for s in compact.slices] == [(s.width, s.height) for s in full.slices]
    patients = _marker(tmp_path / "compact")["patients"]
    for pid, series in compact.series.items():
        assert series.rows == series.columns == COMPACT_DICOM_SIZE[patients[pid]["png_size"]]
        assert series.slice_names == full.series[pid].slice_names
        assert series.spacing_for(512, 512) == pytest.approx(full.series[pid].spacing_for(512, 512), rel=1e-3)


def test_boxed_sides_follow_scan_direction(data):
    """Left boxes sit on slices with x > 0 (patient left, DICOM LPS), right ones on x < 0."""
    patients = _marker(data)["patients"]
    for xml_path in sorted((data / "Foramina_Detection/Annotations").glob("*.xml")):
        pid, slice_name = xml_path.stem.split("_")
        info = patients[pid]
        path = data / info["dicom_folder"] / f"{slice_name}{info['dicom_suffix']}"
        x = float(pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient[0])
        for obj in _objects(xml_path):
            assert (x > 0) == (obj["side"] == "left"), (xml_path.name, x, obj)


def test_masks_only_six_colours_and_match_image(data):
    codes = {(r << 16) | (g << 8) | b: c.index for c in SEGMENTATION_CLASSES for r, g, b in [c.colour]}
    for mask_path in sorted((data / "Segmentation/Masks").glob("*.png")):
        mask = np.asarray(Image.open(mask_path)).astype(np.int64)
        assert mask.ndim == 3 and mask.shape[2] == 3
        packed = (mask[..., 0] << 16) | (mask[..., 1] << 8) | mask[..., 2]
        assert set(np.unique(packed).tolist()) == set(codes)  # every class present, nothing else
        with Image.open(data / "Segmentation/Middle_Slice" / mask_path.name) as image:
            assert image.size == mask.shape[1::-1]
            pixels = np.asarray(image, dtype=float)
        keys = np.array(sorted(codes))
        labels = np.array([codes[k] for k in keys])[np.searchsorted(keys, packed)]
        means = np.bincount(labels.ravel(), pixels.ravel()) / np.bincount(labels.ravel())
        explained = means[labels].var() / pixels.var()
        assert explained > 0.3, explained  # the classes follow the drawn anatomy


def test_label_statistics(tmp_path):
    """Grade mix near 70/15/9/6 %, about 6 of 10 foramina boxed, some duplicates."""
    n = 120
    plans = [plan_patient(pid, 0, i) for i, pid in enumerate(patient_ids(n, 0))]
    grades = Counter(g for p in plans for f in p.foramina for _, g in f.boxes)
    total = sum(grades.values())
    for grade, share in enumerate(GRADE_MIX):
        assert abs(grades[grade] / total - share) < 0.05, (grade, grades)
    boxed = [sum(bool(f.boxes) for f in p.foramina) for p in plans]
    assert 5.5 <= np.mean(boxed) <= 6.5
    per_level = Counter(f.level for p in plans for f in p.foramina if f.boxes)
    assert per_level["L3-L4"] > per_level["L5-S1"] * 2
    assert set(per_level) == set(LEVELS) and set(BOX_PROBABILITY) == set(LEVELS)
    duplicates = sum(len(f.boxes) == 2 for p in plans for f in p.foramina)
    assert 0.02 < duplicates / sum(boxed) < 0.15


def test_grade_mix_from_xml(data):
    grades = Counter(o["grade"] for x in (data / "Foramina_Detection/Annotations").glob("*.xml") for o in _objects(x))
    assert sum(grades.values()) >= 3 * N
    assert grades[0] >= sum(grades.values()) * 0.4


def test_refuses_foreign_folder(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        synthesize(foreign, n_patients=1)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    file_target = tmp_path / "file"
    file_target.write_text("x")
    with pytest.raises(UsageError):
        synthesize(file_target, n_patients=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "foreign"]  # no temp left behind


def test_replaces_earlier_output_and_fills_empty_folder(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    synthesize(out, n_patients=1, seed=1)
    first = _hashes(out)
    synthesize(out, n_patients=2, seed=1)
    assert _marker(out)["n_patients"] == 2 and _hashes(out) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
