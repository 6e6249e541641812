"""The click layer: messages, exit codes (0 ok, 1 invalid, 2 usage) and files written."""

import json
import shutil

import pytest
from click.testing import CliRunner

from lssbench import __version__
from lssbench.cli import main


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def test_version_and_help(run):
    assert run("--version").output.strip() == f"lssbench, version {__version__}"
    help_text = run("--help").output
    for command in ("demo", "evaluate", "validate", "leaderboard", "prepare", "synth", "check-data", "splits",
                    "template"):
        assert command in help_text


def test_validate_accepts_a_valid_submission(run, sample_submissions, test_bundle):
    result = run("validate", sample_submissions["jittered"], "--gt", test_bundle)
    assert result.exit_code == 0, result.output
    assert "valid for the test split" in result.output
    assert "tasks: detection, grading, segmentation" in result.output


def test_validate_lists_every_problem_and_exits_1(run, sample_submissions, test_bundle, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(sample_submissions["weak"], bad)
    (bad / "detections.csv").write_text(
        "image_id,level,side,score,xmin,ymin,xmax,ymax\nPATIENT0000001/IM000001,L3-L4,left,1.5,30,10,20,20\n")
    (bad / "grades.csv").write_text("patient_id,level,side\n")
    result = run("validate", bad, "--gt", test_bundle)
    assert result.exit_code == 1
    assert "INVALID" in result.output
    assert "detections.csv: row 2: score: 1.5 is outside [0, 1]" in result.output
    assert "grades.csv: header: missing column 'severity'" in result.output
    assert "Traceback" not in result.output


def test_validate_usage_errors_exit_2(run, test_bundle, tmp_path):
    missing = run("validate", tmp_path / "nope", "--gt", test_bundle)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    no_gt = run("validate", tmp_path, "--gt", tmp_path / "no-gt")
    assert no_gt.exit_code == 2 and "no-gt does not exist" in no_gt.output


def test_validate_against_public_json_and_template(run, test_bundle, tmp_path):
    out = tmp_path / "start"
    made = run("template", "--gt", test_bundle / "public.json", "--out", out)
    assert made.exit_code == 0, made.output
    checked = run("validate", out, "--gt", test_bundle / "public.json")
    assert checked.exit_code == 0, checked.output


def test_evaluate_prints_tables_and_writes_results_atomically(run, sample_submissions, test_bundle, tmp_path):
    out = tmp_path / "results.json"
    result = run("evaluate", sample_submissions["perfect"], "--gt", test_bundle, "--out", out, "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    for text in ("detection.AP50", "L3-L4/left", "grading", "truth \\ predicted", "segmentation", "vertebra"):
        assert text in result.output
    results = json.loads(out.read_text())
    assert results["detection"]["AP50"] == 1.0 and results["bootstrap"]["resamples"] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_evaluate_invalid_submission_writes_nothing(run, test_bundle, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "grades.csv").write_bytes(b"\x00\x01binary")
    out = tmp_path / "results.json"
    result = run("evaluate", sub, "--gt", test_bundle, "--out", out)
    assert result.exit_code == 1
    assert "grades.csv: binary file" in result.output
    assert not out.exists()


def test_evaluate_refuses_public_json(run, sample_submissions, test_bundle):
    result = run("evaluate", sample_submissions["perfect"], "--gt", test_bundle / "public.json")
    assert result.exit_code == 2 and "has no labels" in result.output


def test_dataset_folder_with_split_works_as_ground_truth(run, synthetic_dataset_dir, sample_submissions):
    result = run("validate", sample_submissions["perfect"], "--gt", synthetic_dataset_dir, "--split", "test")
    assert result.exit_code == 0, result.output
    needs_split = run("validate", sample_submissions["perfect"], "--gt", synthetic_dataset_dir)
    assert needs_split.exit_code == 2 and "--split" in needs_split.output


def test_leaderboard_writes_json_markdown_latex(run, sample_submissions, test_bundle, tmp_path):
    result = run("leaderboard", *sample_submissions.values(), "--gt", test_bundle, "--out", tmp_path / "lb.json",
                 "--markdown", tmp_path / "lb.md", "--latex", tmp_path / "lb.tex", "--bootstrap", "10", "--jobs", "1")
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "lb.json").read_text())
    assert [e["name"] for e in board["entries"]][:3] == ["perfect", "jittered", "weak"]
    assert "**1.000" in (tmp_path / "lb.md").read_text()
    assert "\\bottomrule" in (tmp_path / "lb.tex").read_text()


def test_data_commands_on_the_synthetic_dataset(run, synthetic_dataset_dir, tmp_path):
    checked = run("check-data", synthetic_dataset_dir)
    assert checked.exit_code == 0, checked.output
    assert "no problems found" in checked.output
    shown = run("splits", "show", synthetic_dataset_dir)
    assert shown.exit_code == 0, shown.output
    assert '"test"' in shown.output and '"train"' in shown.output
    prepared = run("prepare", synthetic_dataset_dir, "--split", "val", "--out", tmp_path / "gt-val")
    assert prepared.exit_code == 0, prepared.output
    assert (tmp_path / "gt-val" / "public.json").exists()
    frozen = run("splits", "freeze", synthetic_dataset_dir, "--out", tmp_path / "split.json")
    assert frozen.exit_code == 0, frozen.output
    assert json.loads((tmp_path / "split.json").read_text())


def test_check_data_reports_problems_with_exit_1(run, tmp_path):
    for folder in ("DICOM", "Foramina_Detection/Images", "Foramina_Detection/Annotations"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "Foramina_Detection" / "Annotations" / "PATIENT12345_IM000003.xml").write_text("<annotation>")
    result = run("check-data", tmp_path)
    assert result.exit_code == 1
    assert "PATIENT12345_IM000003.xml" in result.output
    assert "Traceback" not in result.output


def test_dataset_commands_refuse_a_ground_truth_bundle(test_bundle, tmp_path):
    expected = (f"error: {test_bundle} is a ground-truth bundle (from `lssbench prepare`); this command reads the "
                "dataset folder itself (DICOM/, Foramina_Detection/, Segmentation/), e.g. the `data` folder the "
                "bundle was prepared from\n")
    for args in (["check-data", test_bundle], ["splits", "show", test_bundle],
                 ["splits", "freeze", test_bundle, "--out", tmp_path / "s.json"],
                 ["prepare", test_bundle, "--split", "val", "--out", tmp_path / "gt"]):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 2, args
        assert result.output == expected, args
