"""Both scoring programs, run in temporary folders laid out as each platform mounts them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import lssbench
from lssbench.cli import main
from lssbench.scoring import HEADLINES

REPO = Path(lssbench.__file__).resolve().parent.parent
INVALID_CSV = "image_id,level,side,score,xmin,ymin,xmax,ymax\nX,L3-L4,left,2,1,1,2,2\n"
INVALID_LAST_LINE = ("invalid submission: detections.csv: row 2: image_id: 'X' is not an image ID "
                     "<patient_id>/<slice>, e.g. PATIENT1000513/IM000003 (and 1 more problems listed above)")


def _evaluate(preds, bundle) -> dict:
    """The results JSON of `lssbench evaluate` of the same submission."""
    out = Path(str(preds).rstrip("/") + "-results.json")
    result = CliRunner().invoke(main, ["evaluate", str(preds), "--gt", str(bundle), "--bootstrap", "0",
                                       "--out", str(out), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _invalid(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "detections.csv").write_text(INVALID_CSV)
    return folder


# --- Codabench ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle_zip(test_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("codabench") / "competition.zip"
    result = CliRunner().invoke(main, ["codabench", "bundle", "--gt", str(test_bundle), "--out", str(out),
                                       "--start", "2027-01-01", "--bootstrap", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _worker_layout(bundle_zip: Path, root: Path, submission: Path) -> Path:
    """/app/program, /app/input/ref, /app/input/res as the Codabench compute worker mounts them."""
    bundle = root / "bundle"
    with zipfile.ZipFile(bundle_zip) as archive:
        archive.extractall(bundle)
    app = root / "app"
    shutil.copytree(bundle / "scoring_program", app / "program")
    shutil.copytree(bundle / "reference_data", app / "input" / "ref")
    if submission.is_dir():
        shutil.copytree(submission, app / "input" / "res")
    else:
        (app / "input" / "res").mkdir(parents=True)
        shutil.copy(submission, app / "input" / "res")
    (app / "output").mkdir()
    return app


def _run_metadata_command(app: Path) -> subprocess.CompletedProcess:
    command = yaml.safe_load((app / "program" / "metadata.yaml").read_text())["command"]
    for var, path in (("$program", app / "program"), ("$input", app / "input"), ("$output", app / "output")):
        command = command.replace(var, str(path))
    argv = command.split()
    argv[0] = sys.executable
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, cwd=app / "program", env=env, capture_output=True, text=True, timeout=300)


def test_bundle_contents_and_competition_yaml(bundle_zip, test_bundle):
    with zipfile.ZipFile(bundle_zip) as archive:
        names = set(archive.namelist())
        document = yaml.safe_load(archive.read("competition.yaml"))
        metadata = yaml.safe_load(archive.read("scoring_program/metadata.yaml"))
        public = archive.read("public_data/public.json")
    assert {"competition.yaml", "logo.png", "README.md", "scoring_program/score.py", "public_data/template.zip",
            "starting_kit/README.md", "reference_data/manifest.json", "reference_data/detection.json"} <= names
    assert public == (test_bundle / "public.json").read_bytes()
    assert document["version"] == 2 and document["docker_image"] == f"lssbench-eval:{lssbench.__version__}"
    assert document["enable_detailed_results"] is True
    assert document["tasks"] == [{"index": 0, "name": "lssbench test", "description": "The test split",
                                  "reference_data": "reference_data", "scoring_program": "scoring_program"}]
    assert document["phases"][0]["start"] == "2027-01-01" and document["phases"][0]["tasks"] == [0]
    columns = document["leaderboards"][0]["columns"]
    assert [(c["key"], c["sorting"]) for c in columns] == [
        ("detection_AP50", "desc"), ("detection_mAP", "desc"), ("grading_qwk", "desc"),
        ("segmentation_mean_dice", "desc"), ("segmentation_mean_hd95_mm", "asc")]
    assert metadata["command"] == "python3 $program/score.py $input $output --bootstrap 0"


def test_bundle_is_byte_identical_for_the_same_inputs(bundle_zip, test_bundle, tmp_path):
    again = tmp_path / "again.zip"
    result = CliRunner().invoke(main, ["codabench", "bundle", "--gt", str(test_bundle), "--out", str(again),
                                       "--start", "2027-01-01", "--bootstrap", "0"], catch_exceptions=False)
    assert result.exit_code == 0
    assert again.read_bytes() == bundle_zip.read_bytes()


def test_codabench_scoring_program_matches_evaluate(bundle_zip, sample_submissions, test_bundle, tmp_path):
    app = _worker_layout(bundle_zip, tmp_path, sample_submissions["jittered"])
    done = _run_metadata_command(app)
    assert done.returncode == 0, done.stderr
    scores = json.loads((app / "output" / "scores.json").read_text())
    results = _evaluate(sample_submissions["jittered"], test_bundle)
    assert scores == {h.name.replace(".", "_"): results[h.task][h.key] for h in HEADLINES}
    assert "tasks submitted: detection, grading, segmentation; not submitted: none" in done.stdout
    html = (app / "output" / "detailed_results.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "AP50" in html
    assert not (app / "output" / "metadata").exists()  # the worker writes that name itself


def test_codabench_partial_submission_leaves_other_columns_out(bundle_zip, sample_submissions, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(sample_submissions["weak"] / "grades.csv", partial)
    app = _worker_layout(bundle_zip, tmp_path / "w", partial)
    done = _run_metadata_command(app)
    assert done.returncode == 0, done.stderr
    assert list(json.loads((app / "output" / "scores.json").read_text())) == ["grading_qwk"]
    assert "tasks submitted: grading; not submitted: detection, segmentation" in done.stdout


def test_codabench_invalid_submission_fails_without_scores(bundle_zip, tmp_path):
    app = _worker_layout(bundle_zip, tmp_path, _invalid(tmp_path / "bad"))
    done = _run_metadata_command(app)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == INVALID_LAST_LINE
    assert not (app / "output" / "scores.json").exists()


def test_codabench_zip_submission_and_version_check(bundle_zip, sample_submissions, tmp_path):
    from lssbench.platforms.codabench import score_main

    archive = shutil.make_archive(str(tmp_path / "preds"), "zip", sample_submissions["perfect"])
    app = _worker_layout(bundle_zip, tmp_path / "w", Path(archive))
    assert _run_metadata_command(app).returncode == 0
    assert json.loads((app / "output" / "scores.json").read_text())["detection_AP50"] == 1.0
    assert score_main([str(app / "input"), str(tmp_path / "o")], expected_version="0.0.0") == 3


def test_bundle_refuses_a_public_json(test_bundle, tmp_path):
    result = CliRunner().invoke(main, ["codabench", "bundle", "--gt", str(test_bundle / "public.json"),
                                       "--out", str(tmp_path / "c.zip")])
    assert result.exit_code == 2
    assert result.output == (f"error: {test_bundle / 'public.json'} is a public.json, not the private ground "
                             "truth (the folder written by `lssbench prepare`)\n")


# --- Grand Challenge ----------------------------------------------------------------------


def _gc(args, tmp_path):
    return CliRunner().invoke(main, ["grand-challenge", "evaluate", *map(str, args),
                                                     "--bootstrap", "0"], catch_exceptions=False)


def _gc_layout(tmp_path: Path, test_bundle: Path) -> tuple[Path, Path, Path]:
    """/input, /output and /opt/ml/input/data/ground_truth (a tarball's one top folder kept)."""
    gt = tmp_path / "opt" / "ml" / "input" / "data" / "ground_truth"
    shutil.copytree(test_bundle, gt / "gt-test")
    return tmp_path / "input", tmp_path / "output", gt


def test_grand_challenge_metrics_match_evaluate(sample_submissions, test_bundle, tmp_path):
    input_dir, output_dir, gt = _gc_layout(tmp_path, test_bundle)
    shutil.copytree(sample_submissions["weak"], input_dir)
    result = _gc(["--input", input_dir, "--output", output_dir, "--gt", gt], tmp_path)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((output_dir / "metrics.json").read_text())
    results = _evaluate(sample_submissions["weak"], test_bundle)
    assert set(metrics) == {"case", "aggregates"}
    for h in HEADLINES:
        assert metrics["aggregates"][h.task][h.key] == results[h.task][h.key]
    per_case = {row["patient_id"]: row["metrics"] for row in results["segmentation"]["per_case"]}
    assert metrics["case"] == {pid: {"segmentation": m} for pid, m in per_case.items()}
    assert "per_case" not in metrics["aggregates"]["segmentation"]


def test_grand_challenge_zip_in_input(sample_submissions, test_bundle, tmp_path):
    input_dir, output_dir, gt = _gc_layout(tmp_path, test_bundle)
    input_dir.mkdir()
    shutil.make_archive(str(input_dir / "preds"), "zip", sample_submissions["perfect"])
    result = _gc(["--input", input_dir, "--output", output_dir, "--gt", gt], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads((output_dir / "metrics.json").read_text())["aggregates"]["detection"]["AP50"] == 1.0


def test_grand_challenge_invalid_submission_last_stderr_line(test_bundle, tmp_path):
    input_dir, output_dir, gt = _gc_layout(tmp_path, test_bundle)
    result = _gc(["--input", _invalid(input_dir), "--output", output_dir, "--gt", gt], tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == INVALID_LAST_LINE
    assert not (output_dir / "metrics.json").exists()


def test_grand_challenge_missing_ground_truth_is_not_the_participants_fault(sample_submissions, tmp_path):
    result = _gc(["--input", sample_submissions["weak"], "--output", tmp_path / "o", "--gt", tmp_path / "none"],
                 tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: reference data: {tmp_path / 'none'} is not a folder"


def test_dockerfile_installs_the_package_and_runs_the_evaluation():
    text = (REPO / "lssbench" / "platforms" / "Dockerfile").read_text()
    assert "RUN pip install ." in text
    assert 'CMD ["lssbench", "grand-challenge", "evaluate"' in text and "ENTRYPOINT" not in text.replace(
        "not ENTRYPOINT", "")


def test_grand_challenge_damaged_zip_is_named_not_called_empty(test_bundle, tmp_path):
    input_dir, output_dir, gt = _gc_layout(tmp_path, test_bundle)
    input_dir.mkdir()
    (input_dir / "bad.zip").write_bytes(b"garbage\n")
    result = _gc(["--input", input_dir, "--output", output_dir, "--gt", gt], tmp_path)
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "not a readable zip archive" in last and "empty submission" not in last, last
    assert not (output_dir / "metrics.json").exists()


def test_codabench_bundle_refuses_an_impossible_start_date(test_bundle, tmp_path):
    from click.testing import CliRunner

    from lssbench.cli import main

    result = CliRunner().invoke(main, ["codabench", "bundle", "--gt", str(test_bundle), "--out",
                                       str(tmp_path / "c.zip"), "--start", "2027-13-45"])
    assert result.exit_code == 2
    assert "Invalid value for '--start': '2027-13-45' does not match the format '%Y-%m-%d'." in result.output
    assert not (tmp_path / "c.zip").exists()
