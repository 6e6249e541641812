"""End to end: sample submissions scored against the small synthetic test bundle."""

import json
import shutil
from importlib import resources

import jsonschema
import pytest

from lssbench import jsonio
from lssbench.scoring import Evaluator, evaluate
from lssbench.submission import load_submission


def _schema(name):
    return json.loads(resources.files("lssbench").joinpath(f"schemas/{name}").read_text())


@pytest.fixture(scope="module")
def perfect_results(sample_submissions, test_bundle):
    return evaluate(sample_submissions["perfect"], test_bundle, n_bootstrap=50, seed=0)


def test_perfect_submission_scores_one_everywhere(perfect_results):
    r = perfect_results
    assert r["tasks"] == ["detection", "grading", "segmentation"]
    for key in ("mAP", "AP50", "AP75", "AR100"):
        assert r["detection"][key] == pytest.approx(1.0)
    for block in r["detection"]["per_level"].values():
        assert block is None or block["AP50"] == pytest.approx(1.0)
    assert r["grading"]["qwk"] == 1.0 and r["grading"]["accuracy"] == 1.0
    assert r["grading"]["linear_kappa"] == 1.0
    assert r["segmentation"]["mean_dice"] == 1.0 and r["segmentation"]["mean_hd95_mm"] == 0.0
    for name, ci in r["ci95"].items():
        expected = 0.0 if name.endswith("hd95_mm") else 1.0
        assert ci == pytest.approx([expected, expected]), name


def test_results_follow_the_schema_and_name_version_split_and_fingerprints(perfect_results, ground_truth):
    jsonschema.validate(json.loads(jsonio.dumps(perfect_results)), _schema("results.schema.json"))
    assert perfect_results["split"] == "test"
    assert perfect_results["gt_fingerprint"] == ground_truth.fingerprint
    assert perfect_results["submission_fingerprint"].startswith("sha256:")


def test_degraded_submissions_score_in_order(sample_submissions, test_bundle, perfect_results):
    jittered = evaluate(sample_submissions["jittered"], test_bundle, n_bootstrap=0)
    weak = evaluate(sample_submissions["weak"], test_bundle, n_bootstrap=0)
    for task, key in (("detection", "AP50"), ("detection", "mAP"), ("grading", "qwk"),
                      ("segmentation", "mean_dice")):
        assert perfect_results[task][key] > jittered[task][key] > weak[task][key], (task, key)
    assert "ci95" not in jittered


def test_a_submission_with_one_task_scores_only_that_task(sample_submissions, tmp_path, test_bundle):
    only = tmp_path / "only-grades"
    only.mkdir()
    shutil.copy(sample_submissions["jittered"] / "grades.csv", only / "grades.csv")
    results = evaluate(only, test_bundle, n_bootstrap=20)
    assert results["tasks"] == ["grading"]
    assert "detection" not in results and "segmentation" not in results
    assert set(results["ci95"]) == {"grading.qwk"}


def test_identical_inputs_give_byte_identical_json(sample_submissions, test_bundle, tmp_path):
    texts = []
    for run in range(2):
        results = evaluate(sample_submissions["jittered"], test_bundle, n_bootstrap=100, seed=7)
        texts.append(jsonio.write_json_atomic(tmp_path / f"r{run}.json", results).read_bytes())
    assert texts[0] == texts[1]
    other_seed = evaluate(sample_submissions["jittered"], test_bundle, n_bootstrap=100, seed=8)
    assert jsonio.dumps(other_seed) != texts[0].decode()


def test_evaluator_refuses_a_label_free_reference(test_bundle, sample_submissions):
    from lssbench.groundtruth import load_ground_truth
    from lssbench.problems import UsageError

    public = load_ground_truth(test_bundle / "public.json")
    with pytest.raises(UsageError, match="has no labels"):
        Evaluator(public)
    # ... but it validates a submission
    assert load_submission(sample_submissions["weak"], public).tasks == ("detection", "grading", "segmentation")


def test_validator_warnings_reach_the_results(sample_submissions, tmp_path, test_bundle):
    sub = tmp_path / "with-notes"
    shutil.copytree(sample_submissions["jittered"], sub)
    (sub / "NOTES.txt").write_text("hello")
    results = evaluate(sub, test_bundle, n_bootstrap=0)
    assert any("NOTES.txt" in warning for warning in results["warnings"])
