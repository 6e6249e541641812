"""COCO and YOLO in and out: export coco / yolo, convert yolo, public.json's id maps and sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lssbench.cli import main
from lssbench.domain import CATEGORIES, LEVELS, SPLITS
from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
from lssbench.scoring import Evaluator
from lssbench.submission import load_submission


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def val_bundle(synthetic_dataset, tmp_path_factory):
    return prepare_ground_truth(synthetic_dataset, "val", tmp_path_factory.mktemp("gt-val") / "gt")


@pytest.fixture(scope="module")
def yolo_export(synthetic_dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("yolo") / "yolo"
    result = CliRunner().invoke(main, ["export", "yolo", str(synthetic_dataset_dir), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.iterdir()}


def _score(preds, bundle) -> dict:
    gt = load_ground_truth(bundle)
    return Evaluator(gt).evaluate(load_submission(preds, gt), n_bootstrap=0)


# --- COCO ---------------------------------------------------------------------------------


def test_export_coco_is_the_prepare_writer(run, synthetic_dataset_dir, test_bundle, tmp_path):
    out = tmp_path / "test.json"
    result = run("export", "coco", synthetic_dataset_dir, "--split", "test", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote the COCO ground truth of the test split to {out}\n"
    assert out.read_bytes() == (test_bundle / "detection.json").read_bytes()
    assert run("export", "coco", synthetic_dataset_dir, "--split", "test", "--out", tmp_path).exit_code == 2


def test_public_json_publishes_the_coco_id_maps(test_bundle):
    public = json.loads((test_bundle / "public.json").read_text())
    coco = json.loads((test_bundle / "detection.json").read_text())
    assert {i["image_id"]: i["coco_id"] for i in public["images"]} == {i["file_name"]: i["id"] for i in coco["images"]}
    assert public["coco_categories"] == [{"id": c["id"], "name": c["name"]} for c in coco["categories"]]
    assert [c["name"] for c in public["coco_categories"]] == list(CATEGORIES)


def test_side_of_spine_from_dicom_geometry_matches_every_box(synthetic_dataset, test_bundle):
    # +x is the patient's left (DICOM LPS); the synthetic left foramina sit on slices with x > 0
    gt = load_ground_truth(test_bundle)
    assert gt.image_sides == load_ground_truth(test_bundle / "public.json").image_sides
    sides = {(row.image_id, row.side) for row in gt.boxes.itertuples()}
    assert len(sides) > 10
    assert all(gt.image_sides[image] == side for image, side in sides)
    series = next(iter(synthetic_dataset.series.values()))
    middle = series.slice_names[len(series.slice_names) // 2]
    if len(series.slice_names) % 2:
        assert series.side_of_spine(middle) is None and series.lateral_offset_mm(middle) == pytest.approx(0)
    assert series.side_of_spine("IM999999") is None


# --- YOLO export --------------------------------------------------------------------------


def test_export_yolo_layout_and_splits(yolo_export, synthetic_dataset):
    from lssbench.splits import assign_splits

    data = yaml.safe_load((yolo_export / "data.yaml").read_text())
    assert data["path"] == str(yolo_export.resolve())
    assert (data["train"], data["val"], data["test"]) == ("images/train", "images/val", "images/test")
    assert data["names"] == dict(enumerate(CATEGORIES))
    assert sorted(p.name for p in (yolo_export / "labels").iterdir()) == ["train", "val"]  # no test labels
    patients = {split: {s.rpartition("_")[0] for s in _stems(yolo_export / "images" / split)} for split in SPLITS}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"]
                or patients["val"] & patients["test"])
    splits = assign_splits(synthetic_dataset.patients)
    assert all(splits[pid] == split for split in SPLITS for pid in patients[split])
    for split in ("train", "val"):
        assert _stems(yolo_export / "labels" / split) == _stems(yolo_export / "images" / split)
    assert sum(len(_stems(yolo_export / "images" / s)) for s in SPLITS) == len(synthetic_dataset.slices)


def test_export_yolo_test_labels_only_when_asked_and_overwrite_rules(run, synthetic_dataset_dir, tmp_path):
    out = tmp_path / "yolo"
    result = run("export", "yolo", synthetic_dataset_dir, "--out", out, "--with-test-labels", "--classes", "levels")
    assert result.exit_code == 0, result.output
    assert _stems(out / "labels" / "test") == _stems(out / "images" / "test")
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == dict(enumerate(LEVELS))
    assert run("export", "yolo", synthetic_dataset_dir, "--out", out).exit_code == 0  # an earlier export: replaced
    assert not (out / "labels" / "test").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = run("export", "yolo", synthetic_dataset_dir, "--out", other)
    assert refused.exit_code == 2
    assert "refusing to overwrite" in refused.output and (other / "keep.txt").read_text() == "mine"


def test_label_lines_are_normalised_centres(yolo_export, synthetic_dataset):
    item = next(s for s in synthetic_dataset.slices if s.boxes
                and (yolo_export / "labels" / "train" / f"{s.patient_id}_{s.slice_name}.txt").exists())
    lines = (yolo_export / "labels" / "train" / f"{item.patient_id}_{item.slice_name}.txt").read_text().splitlines()
    box = sorted(item.boxes, key=lambda b: (b.level, b.side, b.xmin, b.ymin))[0]
    cls, cx, cy, w, h = lines[0].split()
    assert int(cls) == CATEGORIES.index(box.category)
    assert float(cx) == pytest.approx((box.xmin + box.xmax) / 2 / item.width, abs=1e-6)
    assert float(h) == pytest.approx((box.ymax - box.ymin) / item.height, abs=1e-6)


# --- YOLO convert -------------------------------------------------------------------------


def _as_predictions(labels: Path, out: Path) -> Path:
    """Label files with a confidence of 1 appended, like predict(save_conf=True) output."""
    out.mkdir()
    for path in labels.iterdir():
        (out / path.name).write_text("".join(f"{line} 1\n" for line in path.read_text().splitlines()))
    return out


def test_round_trip_export_then_convert_val_labels_gives_ap50_1(run, yolo_export, val_bundle, tmp_path):
    preds = _as_predictions(yolo_export / "labels" / "val", tmp_path / "pred")
    result = run("convert", "yolo", preds, "--gt", val_bundle, "--data", yolo_export / "data.yaml",
                 "--out", tmp_path / "sub")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    results = _score(tmp_path / "sub", val_bundle)
    assert results["detection"]["AP50"] == 1.0 and results["detection"]["mAP"] == pytest.approx(1.0)


def test_round_trip_levels_with_side_from_slice(run, synthetic_dataset_dir, val_bundle, tmp_path):
    out = tmp_path / "yolo5"
    assert run("export", "yolo", synthetic_dataset_dir, "--out", out, "--classes", "levels").exit_code == 0
    preds = _as_predictions(out / "labels" / "val", tmp_path / "pred")
    refused = run("convert", "yolo", preds, "--gt", val_bundle, "--data", out / "data.yaml", "--out", tmp_path / "s")
    assert refused.exit_code == 2
    assert refused.output == ("error: the class names are levels without a side (L1-L2, L2-L3, L3-L4, L4-L5, "
                              "L5-S1): give --side-from-slice to take each box's side from the side of the spine "
                              "its slice lies on (public.json side_of_spine)\n")
    result = run("convert", "yolo", preds, "--gt", val_bundle / "public.json", "--data", out / "data.yaml",
                 "--side-from-slice", "--out", tmp_path / "sub")
    assert result.exit_code == 0, result.output
    assert _score(tmp_path / "sub", val_bundle)["detection"]["AP50"] == 1.0


def test_labels_without_conf_score_1_with_a_warning(run, yolo_export, val_bundle, tmp_path):
    result = run("convert", "yolo", yolo_export / "labels" / "val", "--gt", val_bundle, "--out", tmp_path / "sub")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: 14 boxes without a confidence were scored 1.0; "
                                    "predict with save_conf=True for a meaningful AP\n")
    assert "warning" not in result.stdout


def test_side_from_slice_is_refused_when_the_classes_name_their_side(run, yolo_export, val_bundle, tmp_path):
    preds = _as_predictions(yolo_export / "labels" / "val", tmp_path / "pred")
    result = run("convert", "yolo", preds, "--gt", val_bundle, "--side-from-slice", "--out", tmp_path / "sub")
    assert result.exit_code == 2
    assert result.output == ("error: --side-from-slice applies to levels-only class names (--classes levels); "
                             "these classes name their side already\n")
    assert not (tmp_path / "sub").exists()


def test_convert_yolo_names_every_bad_file_and_line(run, val_bundle, tmp_path):
    gt = load_ground_truth(val_bundle)
    stem = gt.images["image_id"].iloc[0].replace("/", "_")
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / f"{stem}.txt").write_text("3 0.5 0.5 0.1 0.1 0.9\n12 0.5 0.5 0.1 0.1 0.9\n1 0.5 0.5 0.1\n"
                                        "2 250 260 20 30 0.9\n")
    (labels / "PATIENT0000001_IM000001.txt").write_text("1 0.5 0.5 0.1 0.1 0.9\n")
    result = run("convert", "yolo", labels, "--gt", val_bundle, "--out", tmp_path / "sub")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: YOLO labels in {labels}: 4 problems",
        f"  - PATIENT0000001_IM000001.txt: PATIENT0000001_IM000001 is not an image of the val split "
        f"(expected <patient_id>_<slice>.txt of its {len(gt.images)} images)",
        f"  - {stem}.txt: line 2: class 12 outside 0-9 (the names of data.yaml)",
        f"  - {stem}.txt: line 3: 4 fields; expected 'class cx cy w h conf' (or 'class cx cy w h')",
        f"  - {stem}.txt: line 4: cx 250, cy 260, w 20, h 30: expected normalised values in [0, 1] "
        "with positive w and h",
    ]
    assert not (tmp_path / "sub").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("convert", "yolo", empty, "--gt", val_bundle, "--out", tmp_path / "sub").exit_code == 2


def test_read_names_accepts_lists_and_maps_and_refuses_the_rest(tmp_path):
    from lssbench.interop.yolo import class_table, read_names
    from lssbench.problems import DataError

    (tmp_path / "a.yaml").write_text("names: ['L1/L2', 'l2-l3/Right']\n")
    assert class_table(read_names(tmp_path / "a.yaml")) == [("L1-L2", None), ("L2-L3", "right")]
    (tmp_path / "b.yaml").write_text("names: {1: L1-L2, 0: L2-L3}\n")
    assert read_names(tmp_path / "b.yaml") == ["L2-L3", "L1-L2"]
    (tmp_path / "c.yaml").write_text("nc: 3\n")
    with pytest.raises(DataError, match="has no class names"):
        read_names(tmp_path / "c.yaml")
    with pytest.raises(DataError) as error:
        class_table(["L1-L2", "disc"])
    assert [str(p) for p in error.value.problems] == [
        "names: class 1: 'disc' is neither a level (L1-L2, L2-L3, L3-L4, L4-L5, L5-S1) nor a category like 'L1-L2/left'"]


def test_convert_yolo_refuses_a_file_as_out(run, yolo_export, val_bundle, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run("convert", "yolo", yolo_export / "labels" / "val", "--gt", val_bundle, "--out", tmp_path / "file")
    assert result.exit_code == 2
    assert result.output == f"error: --out {tmp_path / 'file'} is a file; give the submission folder (or a .zip) to write\n"


def test_side_from_slice_on_a_midline_slice_is_reported(tmp_path):
    from types import SimpleNamespace

    import pandas as pd

    from lssbench.interop.yolo import convert_yolo
    from lssbench.problems import SubmissionError

    images = pd.DataFrame({"image_id": ["PATIENT0000001/IM000003", "PATIENT0000001/IM000009"],
                           "width": [100, 100], "height": [50, 50]})
    reference = SimpleNamespace(split="val", images=images,
                                image_sides={"PATIENT0000001/IM000003": "right", "PATIENT0000001/IM000009": None})
    (tmp_path / "PATIENT0000001_IM000003.txt").write_text("2 0.5 0.5 0.2 0.4 0.75\n")
    (tmp_path / "PATIENT0000001_IM000009.txt").write_text("2 0.5 0.5 0.2 0.4 0.75\n")
    with pytest.raises(SubmissionError) as error:
        convert_yolo(tmp_path, reference, names=list(LEVELS), side_from_slice=True)
    assert [str(p) for p in error.value.problems] == [
        "PATIENT0000001_IM000009.txt: line 1: class 2 has no side and the side of the spine of "
        "PATIENT0000001/IM000009 is unknown (midline slice, or public.json without side_of_spine)"]
    (tmp_path / "PATIENT0000001_IM000009.txt").unlink()
    converted = convert_yolo(tmp_path, reference, names=list(LEVELS), side_from_slice=True)
    assert converted.detections.values.tolist() == [
        ["PATIENT0000001/IM000003", "L3-L4", "right", 0.75, 40.0, 15.0, 60.0, 35.0]]
