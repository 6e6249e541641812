"""Near-miss formats through the CLI: each makes the submission invalid (exit 1) with a message
naming what was found and what is expected; detections.json scores like detections.csv."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from lssbench.cli import main
from lssbench.groundtruth import load_ground_truth
from lssbench.interop.coco import write_coco_results
from lssbench.submission import write_template

HEADER = "image_id,level,side,score,xmin,ymin,xmax,ymax\n"
CONVERT = "`lssbench convert yolo LABELS --gt public.json --out SUBMISSION`"
COCO_ITEM = '{"image_id", "category_id", "bbox": [x, y, width, height], "score"}'


@pytest.fixture()
def run():
    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture()
def sub(ground_truth, tmp_path):
    """A valid template submission to spoil."""
    return write_template(ground_truth, tmp_path / "sub")


def _image(gt):
    row = gt.images.iloc[0]
    return row["image_id"], int(row["width"]), int(row["height"])


def _only_problem(run, sub, bundle) -> str:
    result = run("validate", sub, "--gt", bundle)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith(": INVALID for the test split from " f"{bundle} (--gt): 1 problem"), lines
    assert len(lines) == 2, lines
    return lines[1].removeprefix("  - ")


def test_normalised_boxes(run, sub, ground_truth, test_bundle):
    image, width, height = _image(ground_truth)
    (sub / "detections.csv").write_text(HEADER + f"{image},L3-L4,left,0.9,0.41,0.30,0.46,0.36\n"
                                        f"{image},L4-L5,left,0.8,0.40,0.45,0.45,0.52\n")
    smallest = int(ground_truth.images[["width", "height"]].loc[[0]].min(axis=1).iloc[0])
    assert _only_problem(run, sub, test_bundle) == (
        f"detections.csv: all 2 boxes lie within [0, 1] on images of {smallest} pixels and more: they look "
        "normalised; lssbench expects pixels of the slice PNG: multiply x by the image width and y by its "
        f"height (public.json images[].width, height), or convert YOLO predictions with {CONVERT}")


def test_boxes_as_x_y_width_height_get_a_hint(run, sub, ground_truth, test_bundle):
    image, width, height = _image(ground_truth)
    (sub / "detections.csv").write_text(HEADER + f"{image},L3-L4,left,0.9,200,150,24,30\n")
    assert _only_problem(run, sub, test_bundle) == (
        "detections.csv: row 2: box xmin 200, ymin 150, xmax 24, ymax 30: corners must satisfy xmin < xmax and "
        "ymin < ymax; as x, y, width, height this box would be valid: write xmax = x + width and ymax = y + height "
        "(or submit detections.json, whose COCO bbox is [x, y, width, height])")


def test_task_file_in_upper_case(run, sub, test_bundle):
    (sub / "detections.csv").rename(sub / "Detections.CSV")
    assert _only_problem(run, sub, test_bundle) == (
        "found 'Detections.CSV'; expected 'detections.csv' (file names are lower-case)")


def test_detection_file_in_another_format(run, sub, test_bundle):
    (sub / "detections.csv").rename(sub / "detections.xlsx")
    assert _only_problem(run, sub, test_bundle) == (
        "found 'detections.xlsx'; expected detections.csv (or detections.json, the COCO results format)")


def test_detections_json_of_the_wrong_shape(run, sub, test_bundle):
    (sub / "detections.csv").unlink()
    (sub / "detections.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert _only_problem(run, sub, test_bundle) == (
        "detections.json: holds a COCO dataset (images/annotations/categories); expected the COCO results "
        f"format: a JSON list of {COCO_ITEM}")
    (sub / "detections.json").write_text('{"detections": []}')
    assert _only_problem(run, sub, test_bundle) == (
        f"detections.json: a JSON object; expected the COCO results format: a JSON list of {COCO_ITEM}")


def test_yolo_labels_folder(run, sub, ground_truth, test_bundle):
    image, _, _ = _image(ground_truth)
    (sub / "detections.csv").unlink()
    (sub / "labels").mkdir()
    (sub / "labels" / f"{image.replace('/', '_')}.txt").write_text("4 0.5 0.5 0.1 0.1 0.9\n")
    assert _only_problem(run, sub, test_bundle) == (
        "found 'labels/', a folder of 1 YOLO label file; lssbench reads detections.csv or detections.json: "
        f"convert it with {CONVERT}")


def test_task_files_one_folder_down(run, sub, test_bundle):
    (sub / "preds").mkdir()
    for name in ("detections.csv", "grades.csv"):
        (sub / name).rename(sub / "preds" / name)
    assert _only_problem(run, sub, test_bundle) == (
        "found task files one folder down (preds/detections.csv, preds/grades.csv); put them at the top of the "
        "submission (zip the files, not the folder holding them)")


def test_task_files_two_folders_down_in_a_zip(run, sub, tmp_path, test_bundle):
    archive = shutil.make_archive(str(tmp_path / "preds"), "zip", root_dir=tmp_path, base_dir="sub")
    wrapped = tmp_path / "outer"
    shutil.unpack_archive(archive, wrapped / "preds")
    zipped = shutil.make_archive(str(tmp_path / "twice"), "zip", root_dir=wrapped)  # preds/sub/<files>
    assert _only_problem(run, zipped, test_bundle) == (
        "found task files one folder down (sub/detections.csv, sub/grades.csv, sub/meta.json, sub/segmentation); "
        "put them at the top of the submission (zip the files, not the folder holding them)")


def test_masks_as_nifti(run, sub, ground_truth, test_bundle):
    pid = sorted(ground_truth.cases)[0]
    (sub / "segmentation" / f"{pid}.png").rename(sub / "segmentation" / f"{pid}.nii.gz")
    result = run("validate", sub, "--gt", test_bundle)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        f"  - segmentation/: found '{pid}.nii.gz', a NIfTI volume; masks are 8-bit PNG files "
        "segmentation/<patient_id>.png of class indices 0-5",
        f"  - segmentation/: missing mask {pid}.png; every segmentation case of the test split needs one"]


def test_both_detection_files(run, sub, test_bundle):
    (sub / "detections.json").write_text("[]")
    assert _only_problem(run, sub, test_bundle) == (
        "both detections.csv and detections.json found; a submission holds exactly one detection file: remove one")


def test_coco_items_are_named_by_list_index(run, sub, test_bundle):
    (sub / "detections.csv").unlink()
    (sub / "detections.json").write_text(json.dumps([
        {"image_id": 1, "category_id": 11, "bbox": [1, 2, 3, 4], "score": 0.5},
        {"image_id": 1, "category_id": 5, "bbox": [1, 2, 3, 4], "score": 1.5},
        [1, 2, 3, 4], {"image_id": 99999, "category_id": "L3-L4/left", "bbox": [1, 2, 0, 4], "score": 0.5}]))
    result = run("validate", sub, "--gt", test_bundle)
    assert result.exit_code == 1
    count = len(load_ground_truth(test_bundle).images)
    assert result.output.splitlines()[1:] == [
        "  - detections.json: item 0: category_id 11 is not a COCO category id 1-10 (public.json coco_categories) "
        "nor a category name like 'L3-L4/left'",
        f"  - detections.json: item 2: expected an object {COCO_ITEM}, got a JSON list",
        f"  - detections.json: item 3: image_id 99999 is not a COCO image id of this split (1-{count}, public.json "
        "images[].coco_id) nor an image ID <patient_id>/<slice>",
        "  - detections.json: item 1: score: 1.5 is outside [0, 1]"]


def _with_json_detections(source, target, bundle):
    import pandas as pd

    shutil.copytree(source, target)
    detections = pd.read_csv(target / "detections.csv")
    (target / "detections.csv").unlink()
    write_coco_results(detections, load_ground_truth(bundle).images["image_id"], target / "detections.json")
    return target


def test_detections_json_scores_like_detections_csv(run, sample_submissions, test_bundle, tmp_path):
    as_json = _with_json_detections(sample_submissions["jittered"], tmp_path / "json", test_bundle)
    outputs = {}
    for name, preds in (("csv", sample_submissions["jittered"]), ("json", as_json)):
        result = run("evaluate", preds, "--gt", test_bundle, "--bootstrap", "200", "--out", tmp_path / f"{name}.json")
        assert result.exit_code == 0, result.output
        outputs[name] = json.loads((tmp_path / f"{name}.json").read_text())
        outputs[name].pop("submission_fingerprint")
    assert outputs["csv"] == outputs["json"]
    assert outputs["json"]["detection"]["num_detections"] > 0


def test_image_ids_and_names_are_accepted_in_coco_results(run, sub, ground_truth, test_bundle):
    image, _, _ = _image(ground_truth)
    (sub / "detections.csv").unlink()
    (sub / "detections.json").write_text(json.dumps([
        {"image_id": image, "category_id": "L3-L4/left", "bbox": [10, 10, 20, 20], "score": 0.5}]))
    result = run("validate", sub, "--gt", test_bundle / "public.json")
    assert result.exit_code == 0, result.output


def test_tasks_line_before_any_table(run, sample_submissions, test_bundle, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(sample_submissions["weak"] / "grades.csv", partial)
    (partial / "notes.txt").write_text("x")
    result = run("validate", partial, "--gt", test_bundle)
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        "warning: unknown file 'notes.txt' ignored",
        "tasks submitted: grading; not submitted: detection, segmentation"]
    result = run("evaluate", partial, "--gt", test_bundle, "--bootstrap", "0")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()  # progress lines go to stderr
    assert lines[1:3] == ["warning: unknown file 'notes.txt' ignored",
                          "tasks submitted: grading; not submitted: detection, segmentation"]
    assert lines[3].startswith("lssbench ") and "warning" not in "\n".join(lines[3:])


def test_coco_bbox_written_as_corners_gets_a_hint(run, sub, ground_truth, test_bundle):
    image, width, height = _image(ground_truth)
    (sub / "detections.csv").unlink()
    (sub / "detections.json").write_text(json.dumps([
        {"image_id": image, "category_id": 5, "bbox": [300, 200, 330, 240], "score": 0.5}]))
    assert _only_problem(run, sub, test_bundle) == (
        f"detections.json: item 0: box xmin 300, ymin 200, xmax 630, ymax 440 lies outside the {width}x{height} "
        "image (0 <= x <= width, 0 <= y <= height); as corners [xmin, ymin, xmax, ymax] this bbox would fit: the "
        "COCO bbox is [x, y, width, height], so write [xmin, ymin, xmax - xmin, ymax - ymin]")


def test_a_near_miss_beside_the_real_task_file_is_only_a_warning(run, sub, ground_truth, test_bundle):
    image, _, _ = _image(ground_truth)
    (sub / "labels").mkdir()
    (sub / "labels" / f"{image.replace('/', '_')}.txt").write_text("4 0.5 0.5 0.1 0.1 0.9\n")
    (sub / "grades.xlsx").write_text("x")
    result = run("validate", sub, "--gt", test_bundle)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "warning: found 'grades.xlsx'; expected grades.csv; ignored, since grades.csv is there",
        "warning: found 'labels/', a folder of 1 YOLO label file; lssbench reads detections.csv or detections.json: "
        f"convert it with {CONVERT}; ignored, since detections.csv is there"]
