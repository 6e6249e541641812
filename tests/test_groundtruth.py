"""The ground-truth bundle: prepare, load, verification, public.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lssbench.dataset.records import AnnotatedSlice, Box, Dataset, SegmentationCase, Series
from lssbench.domain import CATEGORIES, GRADE_COLUMNS
from lssbench.groundtruth import BOX_COLUMNS, load_ground_truth, prepare_ground_truth
from lssbench.problems import DataError, UsageError
from lssbench.splits import SplitDefinition

TRAIN = ["PATIENT10001", "PATIENT10002"]
TEST = ["PATIENT20001", "PATIENT20002", "PATIENT20003"]
DEFINITION = SplitDefinition(name="hand", kind="lists", lists={"train": tuple(TRAIN), "val": (), "test": tuple(TEST)},
                             folds=(tuple(TRAIN), (), (), (), ()))


def write_mask(path: Path, width: int, height: int, value: int = 3) -> Path:
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4: height // 2, :] = value
    mask[0, 0] = 5
    Image.fromarray(mask).save(path)
    return path


def make_dataset(root: Path, patients=TRAIN + TEST, size=(64, 48)) -> Dataset:
    """Two slices per patient; the second patient's right L4-L5 is graded 0 and 3 on them."""
    root.mkdir(parents=True, exist_ok=True)
    width, height = size
    dataset = Dataset(root=root, patients=sorted(patients))
    for n, pid in enumerate(patients):
        dataset.series[pid] = Series(pid, [], [], 512, 512, (0.5, 0.6), 4.0, [])
        first = [Box("L4-L5", "right", 0, 10, 12, 30, 40), Box("L1-L2", "left", 1, 5.5, 6, 20, 18)]
        second = [Box("L4-L5", "right", 3, 11, 12, 31, 41)] if n % 2 else []
        for slice_name, boxes in (("IM000004", first), ("IM000005", second)):
            xml = root / f"{pid}_{slice_name}.xml"
            xml.write_text(f"{pid} {slice_name}")
            dataset.slices.append(AnnotatedSlice(pid, slice_name, width, height, boxes, xml))
        mask = write_mask(root / f"{pid}_mask.png", width, height)
        dataset.segmentation[pid] = SegmentationCase(pid, mask, mask, width, height)
    dataset.slices.sort(key=lambda s: s.image_id)
    return dataset


@pytest.fixture
def bundle(tmp_path) -> Path:
    return prepare_ground_truth(make_dataset(tmp_path / "data"), "test", tmp_path / "GT", definition=DEFINITION)


def test_load_full_bundle(bundle):
    gt = load_ground_truth(bundle)
    assert gt.has_labels and gt.split == "test" and gt.split_definition == "hand"
    assert gt.patients == TEST and list(gt.cases) == TEST
    assert gt.fingerprint.startswith("sha256:")
    assert list(gt.images.columns) == ["image_id", "patient_id", "width", "height"]
    assert list(gt.images["image_id"]) == sorted(f"{p}/IM00000{k}" for p in TEST for k in (4, 5))
    assert list(gt.boxes.columns) == list(BOX_COLUMNS) and len(gt.boxes) == 7
    assert gt.boxes["severity"].dtype == np.int64 and gt.boxes["xmin"].dtype == np.float64
    assert gt.boxes["image_id"].map(type).eq(str).all()
    assert list(gt.grades.columns) == list(GRADE_COLUMNS)
    mask = gt.mask(TEST[0])
    assert mask.dtype == np.uint8 and mask.shape == (48, 64) and mask.max() == 5
    assert set(gt.masks()) == set(TEST)
    assert load_ground_truth(bundle / "manifest.json").fingerprint == gt.fingerprint


def test_worst_grade_rule_for_a_foramen_on_two_slices(bundle):
    gt = load_ground_truth(bundle)
    rows = gt.grades[(gt.grades["patient_id"] == TEST[1]) & (gt.grades["level"] == "L4-L5")]
    assert rows[["side", "severity"]].values.tolist() == [["right", 3]]
    assert (bundle / "grades.csv").read_text().splitlines() == [
        "patient_id,level,side,severity",
        f"{TEST[0]},L1-L2,left,1", f"{TEST[0]},L4-L5,right,0",
        f"{TEST[1]},L1-L2,left,1", f"{TEST[1]},L4-L5,right,3",
        f"{TEST[2]},L1-L2,left,1", f"{TEST[2]},L4-L5,right,0",
    ]


def test_coco_details(bundle):
    from pycocotools.coco import COCO

    coco = json.loads((bundle / "detection.json").read_text())
    assert "info" in coco
    assert [(c["id"], c["name"]) for c in coco["categories"]] == list(enumerate(CATEGORIES, start=1))
    assert [i["id"] for i in coco["images"]] == list(range(1, 7))
    assert [i["file_name"] for i in coco["images"]] == sorted(i["file_name"] for i in coco["images"])
    assert [a["id"] for a in coco["annotations"]] == list(range(1, 8))
    first = coco["annotations"][0]  # L1-L2/left, corners (5.5, 6) - (20, 18)
    assert first["category_id"] == 1 and first["bbox"] == [5.5, 6.0, 14.5, 12.0]
    assert all(a["area"] == pytest.approx(a["bbox"][2] * a["bbox"][3]) and a["iscrowd"] == 0 for a in coco["annotations"])
    assert {a["severity"] for a in coco["annotations"]} == {0, 1, 3}
    loaded = COCO(str(bundle / "detection.json"))
    assert len(loaded.getImgIds()) == 6 and len(loaded.getAnnIds()) == 7
    empty = [i["id"] for i in coco["images"] if i["file_name"] == f"{TEST[0]}/IM000005"]
    assert loaded.getAnnIds(imgIds=empty) == []  # a slice without boxes is still an image


def test_spacing_rescaled_for_a_resized_png(tmp_path):
    data = make_dataset(tmp_path / "data", size=(320, 256))
    gt = load_ground_truth(prepare_ground_truth(data, "test", tmp_path / "GT", definition=DEFINITION))
    expected = (0.5 * 512 / 256, 0.6 * 512 / 320)  # (row, col): DICOM 512x512 -> PNG 320 wide, 256 high
    assert gt.cases[TEST[0]]["spacing_mm"] == pytest.approx(expected)
    assert gt.image_spacing[f"{TEST[0]}/IM000004"] == pytest.approx(expected)
    public = json.loads((tmp_path / "GT" / "public.json").read_text())
    assert public["cases"][0]["spacing_mm"] == pytest.approx(list(expected))


def test_fingerprint_stable_and_label_sensitive(tmp_path):
    data = make_dataset(tmp_path / "data")
    one = prepare_ground_truth(data, "test", tmp_path / "one", definition=DEFINITION)
    two = prepare_ground_truth(data, "test", tmp_path / "two", definition=DEFINITION)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)
    edited = next(s for s in data.slices if s.image_id == f"{TEST[0]}/IM000004")
    edited.boxes[0] = Box("L4-L5", "right", 2, 10, 12, 30, 40)
    three = prepare_ground_truth(data, "test", tmp_path / "three", definition=DEFINITION)
    assert load_ground_truth(three).fingerprint != load_ground_truth(one).fingerprint


def problems_of(path) -> list[tuple[str, str]]:
    with pytest.raises(DataError) as info:
        load_ground_truth(path)
    return [(p.file, p.message.split(":")[0]) for p in info.value.problems]


def test_tampered_files_are_named(bundle):
    grades = bundle / "grades.csv"
    grades.write_text(grades.read_text().replace(",3\n", ",2\n"))
    (bundle / "segmentation" / f"{TEST[1]}.png").unlink()
    assert problems_of(bundle) == [("grades.csv", "altered"), (f"segmentation/{TEST[1]}.png", "missing")]


def test_tampered_manifest_is_detected(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["cases"][TEST[0]]["spacing_mm"] = [1.0, 1.0]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert problems_of(bundle) == [("manifest.json", "does not match the files and geometry it lists")]
    (bundle / "manifest.json").write_text("{not json")
    assert problems_of(bundle)[0][0] == "manifest.json"


def test_mask_altered_after_load_is_detected(bundle):
    gt = load_ground_truth(bundle)
    write_mask(bundle / "segmentation" / f"{TEST[0]}.png", 64, 48, value=4)
    with pytest.raises(DataError, match="damaged"):
        gt.mask(TEST[0])


def test_public_json_has_no_labels(bundle):
    text = (bundle / "public.json").read_text()
    public = json.loads(text)
    assert set(public) >= {"split", "split_definition", "gt_fingerprint", "patients", "images", "cases"}
    assert not {"severity", "bbox", "annotations", "grades", "xmin"} & set(text.replace('"', " ").split())
    assert public["images"][0] == {"image_id": f"{TEST[0]}/IM000004", "patient_id": TEST[0], "width": 64, "height": 48,
                                   "coco_id": 1, "lateral_offset_mm": None, "side_of_spine": None}  # no DICOM here
    assert [c["name"] for c in public["coco_categories"]][:2] == ["L1-L2/left", "L1-L2/right"]
    gt = load_ground_truth(bundle / "public.json")
    full = load_ground_truth(bundle)
    assert not gt.has_labels and gt.boxes is None and gt.grades is None and gt.coco is None
    assert gt.fingerprint == full.fingerprint and gt.patients == full.patients and gt.cases == full.cases
    assert gt.images.equals(full.images)
    with pytest.raises(UsageError):
        gt.mask(TEST[0])


def test_overwrite_rules(tmp_path, bundle):
    data = make_dataset(tmp_path / "data")
    assert prepare_ground_truth(data, "train", bundle, definition=DEFINITION) == bundle  # a bundle: replaced
    assert load_ground_truth(bundle).patients == TRAIN
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(UsageError, match="refusing"):
        prepare_ground_truth(data, "test", other, definition=DEFINITION)
    assert (other / "keep.txt").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_mask_size_mismatch_is_a_data_error(tmp_path):
    data = make_dataset(tmp_path / "data")
    write_mask(data.segmentation[TEST[0]].mask_path, 32, 32)
    with pytest.raises(DataError, match="mask"):
        prepare_ground_truth(data, "test", tmp_path / "GT", definition=DEFINITION)
    assert not (tmp_path / "GT").exists()


def test_empty_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="val"):
        prepare_ground_truth(make_dataset(tmp_path / "data"), "val", tmp_path / "GT", definition=DEFINITION)


def test_load_is_fast_for_100_patients(tmp_path):
    patients = [f"PATIENT{30000 + n}" for n in range(100)]
    definition = SplitDefinition(name="all", kind="lists", lists={"train": (), "val": (), "test": tuple(patients)},
                                 folds=((),) * 5)
    bundle = prepare_ground_truth(make_dataset(tmp_path / "data", patients), "test",
                                  tmp_path / "GT", definition=definition)
    start = time.perf_counter()
    gt = load_ground_truth(bundle)
    assert time.perf_counter() - start < 0.5
    assert len(gt.patients) == 100 and len(gt.images) == 200


def test_synthetic_end_to_end(synthetic_dataset_dir, synthetic_dataset, tmp_path):
    """Reader -> prepare -> load on the shared small synthetic dataset, every split."""
    from lssbench.groundtruth import prepare_from_folder
    from lssbench.splits import split_patients

    dataset = synthetic_dataset
    for split in ("train", "val", "test"):
        patients = split_patients(dataset.patients, split)
        if split == "test":
            bundle = prepare_from_folder(synthetic_dataset_dir, split, tmp_path / split)
        else:
            bundle = prepare_ground_truth(dataset, split, tmp_path / split)
        gt = load_ground_truth(bundle)
        assert gt.patients == patients and list(gt.cases) == [p for p in patients if p in dataset.segmentation]
        assert len(gt.images) == sum(s.patient_id in patients for s in dataset.slices)
        assert len(gt.boxes) == sum(len(s.boxes) for s in dataset.slices if s.patient_id in patients)
        assert len(gt.grades) == len(gt.boxes.drop_duplicates(["patient_id", "level", "side"]))
        for pid in gt.cases:
            series = dataset.series[pid]
            case = gt.cases[pid]
            assert gt.mask(pid).shape == (case["height"], case["width"])
            assert case["spacing_mm"] == pytest.approx(series.spacing_for(case["width"], case["height"]))
