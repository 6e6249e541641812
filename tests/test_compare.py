"""Per-resample scoring, re-weighted parts, and the paired comparison of two submissions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lssbench import jsonio
from lssbench.cli import main
from lssbench.comparison import compare, compare_results, paired_difference
from lssbench.metrics.bootstrap import bootstrap_counts, subset_counts
from lssbench.metrics.detection import evaluate_detection
from lssbench.metrics.grading import evaluate_grading
from lssbench.metrics.segmentation import summarize_cases
from lssbench.problems import UsageError
from lssbench.ranking import public_bucket
from lssbench.scoring import HEADLINES, Evaluator
from lssbench.submission import load_submission

B = 40


@pytest.fixture(scope="module")
def scored(sample_submissions, ground_truth):
    evaluator = Evaluator(ground_truth)
    return {name: evaluator.evaluate(load_submission(path, ground_truth), n_bootstrap=B, seed=3,
                                     keep_resamples=True)
            for name, path in sample_submissions.items()}


def test_subset_counts_draw_within_the_subset():
    counts = subset_counts(6, [1, 4], n_resamples=30, seed=2)
    assert counts.shape == (30, 6) and np.all(counts.sum(axis=1) == 2)
    assert np.all(counts[:, [0, 2, 3, 5]] == 0)
    np.testing.assert_array_equal(counts[:, [1, 4]], bootstrap_counts(2, 30, seed=2))
    np.testing.assert_array_equal(subset_counts(6, range(6), 30, seed=2), bootstrap_counts(6, 30, seed=2))


def test_resamples_are_kept_without_changing_the_cis(scored, sample_submissions, ground_truth):
    results = scored["jittered"]
    plain = Evaluator(ground_truth).evaluate(load_submission(sample_submissions["jittered"], ground_truth),
                                             n_bootstrap=B, seed=3)
    assert "resamples" not in plain and plain["ci95"] == results["ci95"]
    assert sorted(results["resamples"]) == sorted(h.name for h in HEADLINES)
    for name, values in results["resamples"].items():
        assert len(values) == B
        finite = np.array([v for v in values if v is not None])
        low, high = results["ci95"][name]
        assert low == pytest.approx(np.quantile(finite, 0.025)) and high == pytest.approx(np.quantile(finite, 0.975))


def test_parts_are_the_scores_on_those_patients_alone(ground_truth, sample_submissions):
    buckets = sorted(public_bucket(p) for p in ground_truth.patients)
    private = [p for p in ground_truth.patients if public_bucket(p) >= buckets[1]]
    public = [p for p in ground_truth.patients if p not in private]
    submission = load_submission(sample_submissions["jittered"], ground_truth)
    results = Evaluator(ground_truth).evaluate(submission, n_bootstrap=B, seed=0, keep_resamples=True,
                                               parts={"public": public, "private": private})
    part = results["parts"]["private"]
    assert part["patients"] == len(private) and results["parts"]["public"]["patients"] == len(public)
    # independently: each metric on the private patients' rows only
    images = ground_truth.images[ground_truth.images["patient_id"].isin(private)]
    boxes = ground_truth.boxes[ground_truth.boxes["image_id"].isin(images["image_id"])]
    detections = submission.detections[submission.detections["image_id"].isin(images["image_id"])]
    detection = evaluate_detection(boxes, detections, list(images["image_id"]))
    grading = evaluate_grading(ground_truth.grades[ground_truth.grades["patient_id"].isin(private)],
                               submission.grades[submission.grades["patient_id"].isin(private)])
    per_case = {c["patient_id"]: c["metrics"] for c in results["segmentation"]["per_case"]
                if c["patient_id"] in private}
    segmentation = summarize_cases(per_case)
    expected = {"detection.AP50": detection["AP50"], "detection.mAP": detection["mAP"], "grading.qwk": grading["qwk"],
                "segmentation.mean_dice": segmentation["mean_dice"],
                "segmentation.mean_hd95_mm": segmentation["mean_hd95_mm"]}
    assert part["headlines"] == pytest.approx(expected, abs=1e-12)
    assert part["headlines"]["grading.qwk"] != pytest.approx(results["grading"]["qwk"])  # really a part
    assert len(part["resamples"]["grading.qwk"]) == B and len(part["ci95"]) == 5
    with pytest.raises(UsageError, match="patient PATIENT9999999 of a board part is not in the test"):
        Evaluator(ground_truth).evaluate(submission, n_bootstrap=0, parts={"x": ["PATIENT9999999"]})


def test_paired_difference_by_hand():
    found = paired_difference(0.5, 0.7, [0.4, 0.5, 0.6, None], [0.6, 0.5, 0.9, 0.8])
    # d = [0.2, 0, 0.3] on the 3 paired resamples: #(d<=0)=1, #(d>=0)=3 -> p = 2 * (1+1)/(3+1) = 1.0
    assert found["difference"] == pytest.approx(0.2) and found["p_value"] == 1.0
    assert found["ci95"] == pytest.approx(list(np.quantile([0.2, 0.0, 0.3], [0.025, 0.975])))
    clear = paired_difference(0.1, 0.9, [0.1] * 99, [0.9] * 99)
    assert clear["p_value"] == pytest.approx(2 / 100) and clear["ci95"] == pytest.approx([0.8, 0.8])
    assert paired_difference(None, 0.3, [None] * 4, [0.3] * 4) == {
        "a": None, "b": 0.3, "difference": None, "ci95": None, "p_value": None}


def test_a_submission_compared_with_itself(sample_submissions, ground_truth):
    found = compare(sample_submissions["jittered"], sample_submissions["jittered"], ground_truth.path,
                    n_bootstrap=B, seed=1)
    assert sorted(found["differences"]) == sorted(h.name for h in HEADLINES)
    for d in found["differences"].values():
        assert d["difference"] == 0 and d["ci95"] == [0.0, 0.0] and d["p_value"] == 1.0
    assert found["bootstrap"]["resamples"] == B and found["gt_fingerprint"] == ground_truth.fingerprint


def test_perfect_beats_weak_and_json_inputs_give_the_same_answer(scored, sample_submissions, ground_truth, tmp_path):
    weak, perfect = tmp_path / "weak.json", tmp_path / "perfect.json"
    jsonio.write_json_atomic(weak, scored["weak"])
    jsonio.write_json_atomic(perfect, scored["perfect"])
    from_json = compare(weak, perfect)
    from_folders = compare(sample_submissions["weak"], sample_submissions["perfect"], ground_truth.path,
                           n_bootstrap=B, seed=3)
    mixed = compare(weak, sample_submissions["perfect"], ground_truth.path)  # settings taken from weak.json
    for name in ("detection.AP50", "grading.qwk", "segmentation.mean_dice"):
        d = from_json["differences"][name]
        assert d["difference"] > 0 and d["ci95"][0] > 0
        assert d == from_folders["differences"][name] == mixed["differences"][name]
    assert from_json["differences"]["segmentation.mean_hd95_mm"]["difference"] < 0


def test_different_settings_ground_truths_and_missing_resamples_are_refused(scored):
    a, b = scored["weak"], json.loads(jsonio.dumps(scored["perfect"]))
    other = dict(b, bootstrap=dict(b["bootstrap"], seed=4))
    with pytest.raises(UsageError, match="different bootstrap settings: seed is 3 for A but 4 for B"):
        compare_results(a, other)
    with pytest.raises(UsageError, match="bootstrap settings: A with 40 resamples, B with 20 resamples"):
        compare_results(a, dict(b, bootstrap=dict(b["bootstrap"], resamples=20)))
    with pytest.raises(UsageError, match="different ground truths: A has sha256:.* B has sha256:0000"):
        compare_results(a, dict(b, gt_fingerprint="sha256:" + "0" * 64))
    with pytest.raises(UsageError, match="different splits: A has test, B has val"):
        compare_results(a, dict(b, split="val"))
    with pytest.raises(UsageError, match="B has no per-resample values to pair"):
        compare_results(a, {k: v for k, v in b.items() if k != "resamples"})


def test_cli_compare(sample_submissions, ground_truth, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cmp.json"
    result = runner.invoke(main, ["compare", str(sample_submissions["weak"]), str(sample_submissions["perfect"]),
                                  "--gt", str(ground_truth.path), "--bootstrap", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "B - A [95% CI]" in result.output and f"comparison written to {out}" in result.output
    written = json.loads(out.read_text())
    assert written["differences"]["grading.qwk"]["difference"] > 0
    assert written["a"]["name"] == str(sample_submissions["weak"])
    # a results JSON without resamples, and a missing file
    plain = tmp_path / "plain.json"
    assert runner.invoke(main, ["evaluate", str(sample_submissions["weak"]), "--gt", str(ground_truth.path),
                                "--bootstrap", "20", "--quiet", "--out", str(plain)]).exit_code == 0
    result = runner.invoke(main, ["compare", str(plain), str(plain)])
    assert result.exit_code == 2
    assert result.output == (f"error: {plain} has no per-resample values to pair (scored with --bootstrap 0, or "
                             "written without `lssbench evaluate --keep-resamples`)\n")
    kept = tmp_path / "kept.json"
    assert runner.invoke(main, ["evaluate", str(sample_submissions["weak"]), "--gt", str(ground_truth.path),
                                "--bootstrap", "20", "--quiet", "--keep-resamples", "--out", str(kept)]).exit_code == 0
    result = runner.invoke(main, ["compare", str(kept), str(kept)])
    assert result.exit_code == 0 and "1.000" in result.output
    result = runner.invoke(main, ["compare", str(tmp_path / "nope"), str(kept)])
    assert result.exit_code == 2 and "nope does not exist" in result.output


def test_a_leaderboard_or_foreign_json_is_refused(tmp_path):
    board, other = tmp_path / "board.json", tmp_path / "other.json"
    board.write_text(json.dumps({"entries": [], "gt_fingerprint": "sha256:0", "tasks": []}))
    other.write_text("[1, 2]")
    with pytest.raises(UsageError, match="board.json is a leaderboard JSON, not a results JSON"):
        compare(board, board)
    with pytest.raises(UsageError, match="other.json: not an lssbench results JSON"):
        compare(other, other)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UsageError, match="bad.json: not a readable results JSON"):
        compare(tmp_path / "bad.json", other)
