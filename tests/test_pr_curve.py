"""The interpolated precision-recall curve behind AP: pycocotools' precision array, area == AP50."""

from __future__ import annotations

import numpy as np
import pytest

from lssbench.domain import CATEGORIES, LEVELS, SIDES, category_name
from lssbench.metrics.detection import RECALL_THRESHOLDS, match_detections
from test_detection import coco_dicts, random_case, run_cocoeval


@pytest.mark.parametrize("seed", range(40))
def test_curve_equals_cocoeval_precision_per_category(seed):
    gt, dt, image_ids = random_case(seed)
    dataset, results = coco_dicts(gt, dt, image_ids)
    if not results:
        pytest.skip("pycocotools cannot load an empty result list")
    precision = run_cocoeval(dataset, results).eval["precision"][0, :, :, 0, -1]  # IoU 0.5, R, K
    matches = match_detections(gt, dt, image_ids)
    for k, name in enumerate(CATEGORIES):
        recall, curve = matches.precision_curve([name])
        assert np.array_equal(recall, RECALL_THRESHOLDS)
        if precision[0, k] == -1:
            assert curve is None
        else:
            np.testing.assert_allclose(curve, precision[:, k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_area_equals_ap50_of_levels_sides_and_overall(seed):
    gt, dt, image_ids = random_case(seed)
    matches = match_detections(gt, dt, image_ids)
    weights = np.random.default_rng(seed).integers(0, 3, len(image_ids))
    for w in (None, weights):
        summary = matches.summary(w)
        groups = [(summary, CATEGORIES)]
        groups += [(summary["per_level"][lv], [category_name(lv, s) for s in SIDES]) for lv in LEVELS]
        groups += [(summary["per_side"][s], [category_name(lv, s) for lv in LEVELS]) for s in SIDES]
        for block, categories in groups:
            _, curve = matches.precision_curve(categories, image_weights=w)
            if block is None or block["AP50"] is None:
                assert curve is None
            else:
                assert abs(curve.mean() - block["AP50"]) <= 1e-9


def test_area_at_075_is_ap75_and_bad_arguments_are_refused():
    gt, dt, image_ids = random_case(5)
    matches = match_detections(gt, dt, image_ids)
    summary = matches.summary()
    assert abs(matches.precision_curve(iou_threshold=0.75)[1].mean() - summary["AP75"]) <= 1e-9
    with pytest.raises(ValueError, match="iou_threshold must be one of COCO's"):
        matches.precision_curve(iou_threshold=0.4)
    with pytest.raises(ValueError, match=r"unknown categories \['L9-L9/left'\]"):
        matches.precision_curve(["L9-L9/left"])


def test_area_equals_ap50_of_a_scored_submission(ground_truth, sample_submissions):
    """The curves drawn by the report have the AP50 written in the results, level by level."""
    from lssbench.report.submission import detection_curves
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    submission = load_submission(sample_submissions["jittered"], ground_truth)
    results = Evaluator(ground_truth).evaluate(submission, n_bootstrap=0)
    curves = detection_curves(ground_truth, submission)
    detection = results["detection"]
    expected = {("overall", "all"): detection["AP50"]}
    expected.update({("level", lv): detection["per_level"][lv]["AP50"] for lv in LEVELS})
    expected.update({("side", s): detection["per_side"][s]["AP50"] for s in SIDES})
    assert set(curves) == set(expected)
    for key, ap50 in expected.items():
        assert abs(curves[key].mean() - ap50) <= 1e-9, key
