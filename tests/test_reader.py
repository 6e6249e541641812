"""The dataset reader: every layout variant of DATASET.md, and exact problem messages."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from PIL import Image

from dataset_builders import (
    AXIAL,
    build_dataset,
    colour_mask,
    sample_indices,
    voc_object,
    voc_xml,
    write_dicom,
    write_png,
    write_series,
    write_text,
)
from lssbench.dataset import reader
from lssbench.dataset import read_dataset, read_png, read_series_pixels, summarize_dataset
from lssbench.problems import DataError

P1, P2 = "PATIENT10001", "PATIENT10002"
ANN = "Foramina_Detection/Annotations"
IMG = "Foramina_Detection/Images"


def _problems(root) -> list[str]:
    return [str(p) for p in read_dataset(root, strict=False).problems]


def _annotation(root, name: str, xml: str, png: str | None = None, size=(64, 64)):
    """An annotation at ``Annotations/<name>.xml`` and its image at ``Images/<png or name>.png``."""
    write_text(root / ANN / f"{name}.xml", xml)
    write_png(root / IMG / f"{png or name}.png", *size)


@pytest.fixture
def root(tmp_path):
    return build_dataset(tmp_path / "data")


def test_valid_dataset_reads_without_problems(root):
    dataset = read_dataset(root, check_masks=True)
    assert dataset.patients == [P1, P2]
    assert [s.image_id for s in dataset.slices] == [f"{P1}/IM000002", f"{P2}/IM000002"]
    box = dataset.slices[0].boxes[0]
    assert (box.level, box.side, box.severity, box.xmin, box.ymax) == ("L3-L4", "right", 2, 10.0, 40.0)
    case = dataset.segmentation[P1]
    assert (case.width, case.height, case.slice_name) == (64, 64, "IM000002")
    summary = summarize_dataset(dataset)
    assert summary["boxes"]["total"] == 4 and summary["foramina"]["total"] == 4
    assert summary["dicom_slices"] == 6 and summary["problems"] == 0
    assert summary["image_sizes"] == {"64x64": 2}


def test_series_sorted_by_instance_number_with_header_facts(root):
    series = read_dataset(root).series[P1]
    assert series.slice_names == ["IM000001", "IM000002", "IM000003"]
    assert series.x_positions_mm == [-10.0, 0.0, 10.0]
    assert (series.rows, series.columns, series.pixel_spacing_mm, series.slice_thickness_mm) == (
        8,
        8,
        (0.5, 0.5),
        4.0,
    )
    pixels = read_series_pixels(series)
    assert pixels.shape == (3, 8, 8) and pixels.dtype == np.float32
    assert pixels[:, 0, 0].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("x0, dx", [(-10.0, 10.0), (10.0, -10.0)], ids=["left-to-right", "right-to-left"])
def test_both_scan_directions(tmp_path, x0, dx):
    root = build_dataset(tmp_path, [P1])
    shutil.rmtree(root / "DICOM" / P1)
    write_series(root / "DICOM" / P1, x0=x0, dx=dx)
    assert read_dataset(root).series[P1].x_positions_mm == [x0, x0 + dx, x0 + 2 * dx]


@pytest.mark.parametrize("suffix", [".dcm", ""])
@pytest.mark.parametrize("subdir", ["", "ST000000-1/Sagittal"])
def test_dicom_extension_and_nesting(tmp_path, suffix, subdir):
    root = build_dataset(tmp_path, [P1])
    shutil.rmtree(root / "DICOM" / P1)
    write_series(root / "DICOM" / P1 / subdir, 4, suffix=suffix)
    write_text(root / "DICOM" / P1 / "README", "not dicom")
    write_text(root / "DICOM" / "DICOMDIR", "ignored at the top")
    series = read_dataset(root).series[P1]
    assert series.slice_names == ["IM000001", "IM000002", "IM000003", "IM000004"]


def test_dicom_without_preamble(tmp_path):
    root = build_dataset(tmp_path, [P1])
    write_dicom(root / "DICOM" / P1 / "IM000004", instance=4, preamble=False)
    assert read_dataset(root).series[P1].slice_names[-1] == "IM000004"


def test_patient_id_from_dicom_tag_when_folder_is_not_an_id(tmp_path):
    root = build_dataset(tmp_path, [P1])
    (root / "DICOM" / P1).rename(root / "DICOM" / "case-1")
    assert read_dataset(root).series[P1].files[0].parent.name == "case-1"


def test_sagittal_series_chosen_over_axial(tmp_path):
    root = build_dataset(tmp_path, [P1])
    write_series(root / "DICOM" / P1 / "Axial", 5, series_uid="9.9", orientation=AXIAL)
    write_series(root / "DICOM" / P1 / "Sagittal", 3, series_uid="1.2.3.4")
    for path in (root / "DICOM" / P1).glob("*.dcm"):
        path.unlink()
    assert len(read_dataset(root).series[P1].files) == 3


def test_dicom_matrix_differs_from_png_size(tmp_path):
    root = build_dataset(tmp_path, [P1], size=(320, 320))
    shutil.rmtree(root / "DICOM" / P1)
    write_series(root / "DICOM" / P1, rows=16, columns=8, spacing=(0.6, 0.8))
    dataset = read_dataset(root)
    item = dataset.slices[0]
    assert dataset.series[P1].spacing_for(item.width, item.height) == pytest.approx(
        (0.6 * 16 / 320, 0.8 * 8 / 320)
    )


@pytest.mark.parametrize(
    "name, xml_fields",
    [
        (f"{P1}_IM000002", {}),
        (f"{P1}/IM000002", {}),
        ("IM000002", {"folder": P1}),
        ("a", {"filename": f"{P1}_IM000002.png"}),
        ("a", {"folder": "Sagittal", "filename": "x.png", "path": rf"C:\data\{P1}\Sagittal\IM000002.png"}),
    ],
    ids=["file-name", "parent-folder", "xml-folder", "xml-filename", "xml-path"],
)
def test_patient_and_slice_from_every_source(tmp_path, name, xml_fields):
    root = build_dataset(tmp_path, [P1], masks=False)
    shutil.rmtree(root / "Foramina_Detection")
    fields = {"folder": "Sagittal", "filename": "IM000002.png", **xml_fields}
    _annotation(root, name, voc_xml(voc_object(), **fields))
    dataset = read_dataset(root)
    assert [s.image_id for s in dataset.slices] == [f"{P1}/IM000002"]
    assert dataset.slices[0].image_path.stem == name.split("/")[-1]


@pytest.mark.parametrize("spelling", ["L3-L4", "L3/L4", "L3_L4", "l3-l4"])
def test_level_spellings(tmp_path, spelling):
    root = build_dataset(tmp_path, [P1])
    write_text(root / ANN / f"{P1}_IM000002.xml", voc_xml(voc_object("LFS1", spelling)))
    assert read_dataset(root).slices[0].boxes[0].level == "L3-L4"


@pytest.mark.parametrize(
    "form", [lambda m: m, lambda m: m + 1, colour_mask], ids=["indices-0-5", "indices-1-6", "rgb"]
)
def test_mask_forms_in_a_dataset(tmp_path, form):
    root = build_dataset(tmp_path, [P1])
    write_png(root / "Segmentation/Masks" / f"{P1}_IM000002.png", array=form(sample_indices()))
    assert read_dataset(root, check_masks=True).segmentation[P1].mask_path.exists()


def test_slice_without_boxes_is_kept(root):
    write_text(root / ANN / f"{P1}_IM000002.xml", voc_xml())
    assert read_dataset(root).slices[0].boxes == []


# --- problems, with their exact text ---------------------------------------------------------

BAD_ANNOTATIONS = [
    (
        voc_xml(voc_object(), voc_object(name="XFS9")),
        "object 2: has <name>XFS9</name>; expected LFS0-3 or RFS0-3",
    ),
    (
        voc_xml(voc_object(level="L6-L7")),
        "object 1: has <level>L6-L7</level>; expected one of L1-L2, L2-L3, L3-L4, L4-L5, L5-S1 "
        "(also written L3/L4, L3_L4 or l3-l4)",
    ),
    (
        voc_xml(voc_object(level=None)),
        "object 1: has no <level>; expected one of L1-L2, L2-L3, L3-L4, L4-L5, L5-S1 "
        "(also written L3/L4, L3_L4 or l3-l4)",
    ),
    (
        voc_xml(voc_object(box=(30, 12, 10, 40))),
        "object 1: <bndbox> (30, 12, 10, 40) is empty; expected xmin < xmax and ymin < ymax",
    ),
    (
        voc_xml(voc_object(box=(10, "a", 30, 40))),
        "object 1: <bndbox> has <ymin> 'a'; expected numbers",
    ),
    (
        voc_xml(voc_object(box=(50, 12, 70.5, 40))),
        "object 1: <bndbox> (50, 12, 70.5, 40) lies outside the 64x64 image",
    ),
    (
        voc_xml(voc_object(), size=None),
        "has no <size>; expected <size><width>W</width><height>H</height></size>",
    ),
    ("<annotation><object>", "malformed XML: no element found: line 1, column 20"),
    ("<x/>", "root element is <x>; expected <annotation> (PASCAL VOC)"),
]


@pytest.mark.parametrize("xml, message", BAD_ANNOTATIONS)
def test_bad_annotation_message(root, xml, message):
    write_text(root / ANN / f"{P1}_IM000002.xml", xml)
    assert _problems(root) == [f"{ANN}/{P1}_IM000002.xml: {message}"]


def test_no_patient_id(root):
    _annotation(root, "IM000005", voc_xml(voc_object(), filename="IM000005.png"))
    assert _problems(root) == [
        f"{ANN}/IM000005.xml: no patient ID in the file name, its folders or <folder>/<filename>/<path>; "
        "expected PATIENT and 5 to 7 digits, e.g. PATIENT1000513"
    ]


def test_no_slice_name(root):
    _annotation(root, f"{P1}_x", voc_xml(voc_object(), filename="x.png"))
    assert _problems(root) == [
        f"{ANN}/{P1}_x.xml: no slice name in the file name or <filename>/<path>; expected IM and six digits, e.g. IM000003"
    ]


def test_image_pairing_problems(root):
    (root / IMG / f"{P1}_IM000002.png").unlink()
    write_png(root / IMG / f"{P2}_IM000002.png", 32, 64)
    write_png(root / IMG / f"{P2}_IM000007.png")
    assert _problems(root) == [
        f"{ANN}/{P1}_IM000002.xml: no image {P1}/IM000002 in {IMG} (looked for {P1}_IM000002.png)",
        f"{ANN}/{P2}_IM000002.xml: size: <size> is 64x64 but {IMG}/{P2}_IM000002.png is 32x64",
        f"{IMG}/{P2}_IM000007.png: image without annotation in {ANN}",
    ]


def test_duplicate_image_id(root):
    _annotation(root, f"{P1}/IM000002", voc_xml(voc_object()))
    assert _problems(root) == [
        f"{IMG}/{P1}_IM000002.png: duplicate image ID {P1}/IM000002; also {IMG}/{P1}/IM000002.png",
        f"{ANN}/{P1}_IM000002.xml: duplicate image ID {P1}/IM000002; also {ANN}/{P1}/IM000002.xml",
    ]


def test_strict_collects_every_problem_at_once(root):
    write_text(
        root / ANN / f"{P1}_IM000002.xml", voc_xml(voc_object(name="XFS9", level="L9", box=(0, 0, 99, 9)))
    )
    write_text(root / ANN / f"{P2}_IM000002.xml", "<annotation>")
    with pytest.raises(DataError) as info:
        read_dataset(root)
    assert str(info.value).startswith(f"{root}: 4 problems\n")
    assert [(p.file, p.location) for p in info.value.problems] == [
        (f"{ANN}/{P1}_IM000002.xml", "object 1"),
        (f"{ANN}/{P1}_IM000002.xml", "object 1"),
        (f"{ANN}/{P1}_IM000002.xml", "object 1"),
        (f"{ANN}/{P2}_IM000002.xml", ""),
    ]


def test_missing_folders(tmp_path):
    (tmp_path / "Segmentation" / "Masks").mkdir(parents=True)
    assert _problems(tmp_path) == [
        f"{name}: folder is missing; expected DICOM, {IMG}, {ANN} and, if Segmentation exists, "
        "Segmentation/Middle_Slice and Segmentation/Masks"
        for name in ("DICOM", IMG, ANN, "Segmentation/Middle_Slice")
    ]


def test_segmentation_is_optional_as_a_whole(root):
    shutil.rmtree(root / "Segmentation")
    assert read_dataset(root).segmentation == {}


def test_segmentation_problems(root):
    (root / "Segmentation/Masks" / f"{P1}_IM000002.png").unlink()
    write_png(root / "Segmentation/Masks" / f"{P2}_IM000002.png", 32, 32)
    write_text(root / "Segmentation/Masks" / f"{P2}_IM000002.xml", "<annotation/>")  # may sit beside: ignored
    assert _problems(root) == [
        f"Segmentation/Middle_Slice/{P1}_IM000002.png: no mask for {P1} in Segmentation/Masks",
        f"Segmentation/Masks/{P2}_IM000002.png: mask is 32x32 but Segmentation/Middle_Slice/{P2}_IM000002.png is 64x64",
    ]


def test_check_masks_reports_unknown_colour(root):
    rgb = colour_mask(sample_indices())
    rgb[9, 5] = (12, 200, 7)
    write_png(root / "Segmentation/Masks" / f"{P1}_IM000002.png", array=rgb)
    assert read_dataset(root, strict=False).problems == []
    assert [str(p) for p in read_dataset(root, strict=False, check_masks=True).problems] == [
        f"Segmentation/Masks/{P1}_IM000002.png: colour (12, 200, 7) at x=5, y=9 (1 pixels) is not a class colour; "
        "expected one of black, red, green, blue, yellow, magenta"
    ]


def test_dicom_problems(root):
    shutil.rmtree(root / "DICOM" / P2)
    write_text(root / "DICOM" / P2 / "README", "hello")
    write_dicom(root / "DICOM" / P1 / "IM000004.dcm", instance=4, rows=9, spacing=(0.7, 0.7))
    assert _problems(root) == [
        "DICOM/PATIENT10001: Rows x Columns differs within the series: (8, 8) in most files, other values in IM000004.dcm",
        "DICOM/PATIENT10001: PixelSpacing differs within the series: (0.5, 0.5) in most files, other values in IM000004.dcm",
        "DICOM/PATIENT10002: no readable DICOM image (README)",
        "DICOM: PATIENT10002: no DICOM series for this patient, who has annotations or a mask; its pixel spacing is unknown",
    ]


def test_read_png_is_grayscale_float(root):
    pixels = read_png(root / IMG / f"{P1}_IM000002.png")
    assert pixels.shape == (64, 64) and pixels.dtype == np.float32 and pixels.max() == 250.0
    rgba = write_png(root / "rgba.png", image=Image.fromarray(np.full((4, 5), 7, np.uint8)).convert("RGBA"))
    assert read_png(rgba).tolist() == np.full((4, 5), 7.0).tolist()


def test_reading_many_headers_is_fast(tmp_path):
    """A loose guard (shared CI machines are slow): 170 headers, no pixels decoded."""
    root = build_dataset(tmp_path, [f"PATIENT{10000 + i}" for i in range(10)], masks=False)
    for i in range(10):
        write_series(root / "DICOM" / f"PATIENT{10000 + i}", 17, patient_id=f"PATIENT{10000 + i}")
    start = time.perf_counter()
    assert summarize_dataset(read_dataset(root))["dicom_slices"] == 170
    assert time.perf_counter() - start < 10.0


def test_parallel_header_scan_gives_the_same_dataset(tmp_path, monkeypatch):
    root = build_dataset(tmp_path, [f"PATIENT{10000 + i}" for i in range(4)], masks=False)
    serial = read_dataset(root)
    monkeypatch.setattr(reader, "_PARALLEL_MIN_FOLDERS", 2)
    monkeypatch.setattr(reader.os, "cpu_count", lambda: 2)
    assert read_dataset(root).series == serial.series


def test_synthetic_dataset_reads_without_problems(tmp_path):
    synthesize = getattr(pytest.importorskip("lssbench.synth"), "synthesize", None)
    if synthesize is None:
        pytest.skip("lssbench.synth.synthesize is not available yet")
    dataset = read_dataset(synthesize(tmp_path / "synth", 6, seed=0), check_masks=True)
    summary = summarize_dataset(dataset)
    assert (summary["patients"], summary["series"], summary["segmentation_cases"]) == (6, 6, 6)
    assert summary["annotated_slices_without_dicom_slice"] == 0 and summary["boxes"]["total"] > 0
    assert all(item.image_path is not None for item in dataset.slices)
