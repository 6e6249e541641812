"""The reference baseline: model shapes, CenterNet decoding, crops and the ordinal grader, the grade
rule, augmentation, a tiny run, and the README's commands against a wheel."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from baselines.augment import augment, transform_boxes, warp  # noqa: E402
from baselines.config import TINY, AugmentConfig, config_from_dict, get_config  # noqa: E402
from baselines.decode import decode, detections_table, encode_targets, grades_from_detections  # noqa: E402
from baselines.grading import class_weights, crop_boxes, cumulative_probs, jitter_boxes, severity_from_probs  # noqa: E402
from baselines.losses import ordinal_loss  # noqa: E402
from baselines.models import CenterNet, Grader, UNet, build_models  # noqa: E402
from lssbench.domain import CATEGORIES, LEVELS, PROBABILITY_COLUMNS, SIDES  # noqa: E402

torch.set_num_threads(2)

GEOMETRY_ONLY = AugmentConfig(rotate_deg=15, scale=0.15, translate=0.08, gamma=0, contrast=0, brightness=0, noise=0)


# --- models ------------------------------------------------------------------------------------

def test_model_output_shapes():
    detector, segmenter, grader = build_models(TINY)
    size = TINY.input_size
    out = detector(torch.rand(2, TINY.det_in_channels, size, size))
    cells = size // TINY.det_stride
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "heatmap": (2, len(CATEGORIES), cells, cells), "wh": (2, 2, cells, cells), "offset": (2, 2, cells, cells)}
    assert segmenter(torch.rand(2, 1, size, size)).shape == (2, 6, size, size)
    logits = grader(torch.rand(5, TINY.grade_in_channels, TINY.grade_crop, TINY.grade_crop))
    assert logits.shape == (5, 3)
    assert bool((logits.diff(dim=1) > 0).all())  # ordered cut points: P(grade <= k) grows with k


def test_grader_cutpoints_stay_ordered_whatever_the_weights():
    grader = Grader(in_ch=1, widths=(4, 8))
    with torch.no_grad():
        grader.first_cut.fill_(2.0)
        grader.cut_steps.copy_(torch.tensor([-30.0, 5.0]))  # a step far below zero: softplus keeps it > 0
    cuts = grader.cutpoints().detach()
    assert float(cuts[0]) == pytest.approx(2.0) and bool((cuts.diff() > 0).all())
    assert float(cuts[2] - cuts[1]) == pytest.approx(5.0 + 1e-3 + float(np.log1p(np.exp(-5.0))), rel=1e-5)


def test_model_strides_and_untrained_heatmap_prior():
    net = CenterNet(in_ch=3, widths=(4, 8, 8), stride=2)
    with torch.no_grad():
        heat = torch.sigmoid(net(torch.rand(1, 3, 32, 32))["heatmap"])
    assert heat.shape == (1, 10, 16, 16)
    assert float(heat.mean()) < 0.2  # focal-loss prior init: few false peaks at start
    assert UNet(1, (4, 8, 8))(torch.rand(1, 1, 32, 32)).shape == (1, 6, 32, 32)
    with pytest.raises(ValueError):
        CenterNet(widths=(4, 8), stride=4)


def test_config_round_trip():
    assert config_from_dict(TINY.as_dict()) == TINY


# --- decoding ----------------------------------------------------------------------------------

def _outputs(cells: int = 16) -> dict[str, torch.Tensor]:
    return {
        "heatmap": torch.full((1, len(CATEGORIES), cells, cells), -10.0),
        "wh": torch.zeros(1, 2, cells, cells),
        "offset": torch.zeros(1, 2, cells, cells),
        "grade": torch.zeros(1, 4, cells, cells),
    }


def test_decode_known_peak_gives_known_box():
    out = _outputs()
    out["heatmap"][0, 3, 6, 10] = 4.0  # the peak: category 3, cell x=10, y=6
    out["heatmap"][0, 3, 6, 11] = 3.0  # its shoulder, removed by the 3x3 max-pool NMS
    out["wh"][0, :, 6, 10] = torch.tensor([5.0, 8.0])
    out["offset"][0, :, 6, 10] = torch.tensor([0.25, 0.5])
    found = decode(out, stride=4, top_k=5, score_threshold=0.1)[0]
    assert found["category"].tolist() == [3]
    assert found["score"][0] == pytest.approx(float(torch.sigmoid(torch.tensor(4.0))))
    # centre (10.25, 6.5) cells * 4 = (41, 26) px; size (20, 32) px
    np.testing.assert_allclose(found["boxes"][0], [31, 10, 51, 42], atol=1e-5)

    table = detections_table("PATIENT10001/IM000003", found, 512 / 64, 512 / 64, 512, 512)
    assert table[["level", "side"]].iloc[0].tolist() == list(CATEGORIES[3].split("/"))
    np.testing.assert_allclose(table[["xmin", "ymin", "xmax", "ymax"]].to_numpy()[0], [248, 80, 408, 336])


def test_encode_then_decode_recovers_boxes():
    boxes = torch.tensor([[40.0, 20.0, 62.0, 58.0], [80.0, 90.0, 101.0, 121.0]])
    targets = encode_targets(boxes, torch.tensor([1, 8]), input_size=128, stride=4)
    out = _outputs(32)
    out["heatmap"] = torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6))[None]
    for k in range(2):
        y, x = divmod(int(targets["index"][k]), 32)
        out["wh"][0, :, y, x] = targets["wh"][k]
        out["offset"][0, :, y, x] = targets["offset"][k]
    found = decode(out, stride=4, top_k=10, score_threshold=0.5)[0]
    order = np.argsort(found["category"])
    assert found["category"][order].tolist() == [1, 8]
    np.testing.assert_allclose(found["boxes"][order], boxes.numpy(), atol=1e-4)


# --- grades from detections ----------------------------------------------------------------------

def _det(image_id, level, side, score, probs):
    return {"image_id": image_id, "level": level, "side": side, "score": score,
            "xmin": 1.0, "ymin": 1.0, "xmax": 9.0, "ymax": 9.0, **dict(zip(PROBABILITY_COLUMNS, probs))}


def test_grades_come_from_the_most_confident_box_else_the_prior():
    prior = [0.7, 0.15, 0.1, 0.05]
    detections = pd.DataFrame([
        _det("PATIENT10001/IM000003", "L4-L5", "left", 0.6, [0.1, 0.1, 0.7, 0.1]),
        _det("PATIENT10001/IM000004", "L4-L5", "left", 0.9, [0.1, 0.1, 0.1, 0.7]),  # most confident
        _det("PATIENT10001/IM000004", "L3-L4", "right", 0.3, [0.2, 0.6, 0.1, 0.1]),
        _det("PATIENT10001/IM000004", "L2-L3", "right", 0.3, [0.4, 0.0, 0.0, 0.6]),
    ])
    grades = grades_from_detections(detections, ["PATIENT10002", "PATIENT10001"], prior)
    assert len(grades) == 2 * len(LEVELS) * len(SIDES)
    assert grades["patient_id"].tolist() == sorted(grades["patient_id"])
    rows = grades.set_index(["patient_id", "level", "side"])
    # expected grade 0.1 + 0.2 + 2.1 = 2.4 -> 2 (argmax would say 3)
    assert rows.loc[("PATIENT10001", "L4-L5", "left"), "severity"] == 2
    assert rows.loc[("PATIENT10001", "L4-L5", "left"), "p_severe"] == pytest.approx(0.7)
    assert rows.loc[("PATIENT10001", "L3-L4", "right"), "severity"] == 1  # 0.6 + 0.2 + 0.3 = 1.1
    assert rows.loc[("PATIENT10001", "L2-L3", "right"), "severity"] == 2  # 1.8; argmax: 3
    argmax = grades_from_detections(detections, ["PATIENT10001"], prior, rule="argmax").set_index(
        ["patient_id", "level", "side"])
    assert argmax.loc[("PATIENT10001", "L4-L5", "left"), "severity"] == 3
    assert argmax.loc[("PATIENT10001", "L2-L3", "right"), "severity"] == 3
    fallback = rows.loc[("PATIENT10002", "L1-L2", "left")]
    assert fallback["severity"] == 0
    assert fallback[list(PROBABILITY_COLUMNS)].tolist() == pytest.approx(prior)
    empty = grades_from_detections(detections.iloc[:0], ["PATIENT10001"], prior)
    assert (empty["severity"] == 0).all() and len(empty) == 10


def test_worst_pool_takes_the_worst_graded_confident_box():
    from baselines.decode import candidate_boxes

    prior = [0.7, 0.15, 0.1, 0.05]
    detections = pd.DataFrame([
        _det("PATIENT10001/IM000003", "L4-L5", "left", 0.6, [0.1, 0.1, 0.1, 0.7]),  # worst: expected 2.4
        _det("PATIENT10001/IM000004", "L4-L5", "left", 0.9, [0.9, 0.1, 0.0, 0.0]),  # most confident
        _det("PATIENT10001/IM000005", "L4-L5", "left", 0.2, [0.0, 0.0, 0.0, 1.0]),  # below 0.5 x 0.9
        _det("PATIENT10001/IM000004", "L3-L4", "right", 0.3, [0.2, 0.6, 0.1, 0.1]),
        # both grade 1 as written (expected 1.2 and 1.45): the more confident one is kept
        _det("PATIENT10001/IM000004", "L1-L2", "left", 0.8, [0.0, 0.8, 0.2, 0.0]),
        _det("PATIENT10001/IM000005", "L1-L2", "left", 0.7, [0.05, 0.45, 0.5, 0.0]),
        # argmax: [.5, 0, 0, .5] is grade 0 (expected 1.5), [.1, .9, 0, 0] grade 1 -> 1 is the worst
        _det("PATIENT10001/IM000004", "L5-S1", "left", 0.8, [0.5, 0.0, 0.0, 0.5]),
        _det("PATIENT10001/IM000005", "L5-S1", "left", 0.7, [0.1, 0.9, 0.0, 0.0]),
    ])
    kept = candidate_boxes(detections.iloc[:4], 0.5)
    assert kept[["image_id", "level", "score"]].values.tolist() == [
        ["PATIENT10001/IM000004", "L4-L5", 0.9], ["PATIENT10001/IM000003", "L4-L5", 0.6],
        ["PATIENT10001/IM000004", "L3-L4", 0.3]]
    assert candidate_boxes(detections.iloc[:4], 1.0)["score"].tolist() == [0.9, 0.3]
    worst = grades_from_detections(kept, ["PATIENT10001"], prior, pool="worst").set_index(["patient_id", "level",
                                                                                            "side"])
    assert worst.loc[("PATIENT10001", "L4-L5", "left"), "severity"] == 2
    assert worst.loc[("PATIENT10001", "L4-L5", "left"), "p_severe"] == pytest.approx(0.7)
    assert worst.loc[("PATIENT10001", "L3-L4", "right"), "severity"] == 1
    best = grades_from_detections(kept, ["PATIENT10001"], prior, pool="best").set_index(["patient_id", "level",
                                                                                          "side"])
    assert best.loc[("PATIENT10001", "L4-L5", "left"), "severity"] == 0
    with pytest.raises(ValueError, match="unknown grade pool 'mean'"):
        grades_from_detections(kept, ["PATIENT10001"], prior, pool="mean")
    ties = grades_from_detections(detections.iloc[4:6], ["PATIENT10001"], prior, pool="worst").set_index(
        ["patient_id", "level", "side"]).loc[("PATIENT10001", "L1-L2", "left")]
    assert ties["severity"] == 1 and ties["p_mild"] == pytest.approx(0.8)
    argmax = grades_from_detections(detections.iloc[6:], ["PATIENT10001"], prior, rule="argmax",
                                    pool="worst").set_index(["patient_id", "level", "side"])
    assert argmax.loc[("PATIENT10001", "L5-S1", "left"), "severity"] == 1


def test_configs_check_their_grade_rule_and_old_checkpoints_keep_theirs():
    assert get_config("cpu").grade_pool == "worst"
    for bad in ({"grade_pool": "mean"}, {"grade_pool_ratio": 1.5}, {"grade_decode": "median"}):
        with pytest.raises(ValueError):
            get_config("tiny", **bad)
    old = {k: v for k, v in TINY.as_dict().items() if k not in ("grade_pool", "grade_pool_ratio")}
    restored = config_from_dict(old)
    assert (restored.grade_pool, restored.grade_pool_ratio) == ("best", 1.0)


def test_best_boxes_one_per_foramen_and_none_from_nothing():
    from baselines.decode import best_boxes

    detections = pd.DataFrame([
        _det("PATIENT10001/IM000003", "L4-L5", "left", 0.6, [1, 0, 0, 0]),
        _det("PATIENT10001/IM000004", "L4-L5", "left", 0.9, [1, 0, 0, 0]),
        _det("PATIENT10002/IM000004", "L4-L5", "left", 0.2, [1, 0, 0, 0]),
    ])
    best = best_boxes(detections)
    assert best[["patient_id", "image_id", "score"]].values.tolist() == [
        ["PATIENT10001", "PATIENT10001/IM000004", 0.9], ["PATIENT10002", "PATIENT10002/IM000004", 0.2]]
    nothing = best_boxes(detections.iloc[:0])
    assert len(nothing) == 0 and "patient_id" in nothing.columns


# --- augmentation ------------------------------------------------------------------------------

def _bright_box_bounds(image: torch.Tensor) -> np.ndarray:
    ys, xs = np.nonzero(image.numpy() > 0.5)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)


@pytest.mark.parametrize("seed", range(5))
def test_augmentation_keeps_boxes_and_masks_on_the_image(seed):
    size = 96
    box = torch.tensor([[30.0, 24.0, 54.0, 60.0]])
    image = torch.zeros(2, size, size)
    image[:, 24:60, 30:54] = 1.0
    mask = torch.zeros(size, size, dtype=torch.long)
    mask[24:60, 30:54] = 4
    generator = torch.Generator().manual_seed(seed)
    out, boxes, keep, out_mask = augment(image, GEOMETRY_ONLY, boxes=box, mask=mask, generator=generator)
    assert keep.tolist() == [True]
    np.testing.assert_allclose(boxes[0].numpy(), _bright_box_bounds(out[0]), atol=1.5)
    np.testing.assert_allclose(boxes[0].numpy(), _bright_box_bounds((out_mask == 4).float()), atol=1.5)
    assert set(out_mask.unique().tolist()) <= {0, 4}


def test_boxes_pushed_off_the_image_are_dropped():
    forward = torch.tensor([[1.0, 0.0, 1.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # shift right by 3/4 of the side
    boxes, keep = transform_boxes(torch.tensor([[10.0, 10.0, 20.0, 20.0], [60.0, 10.0, 70.0, 20.0]]), forward, 80)
    assert keep.tolist() == [True, False]
    np.testing.assert_allclose(boxes.numpy(), [[70, 10, 80, 20]])
    assert warp(torch.ones(1, 8, 8), torch.eye(3)).allclose(torch.ones(1, 8, 8))


def test_intensity_augmentation_stays_in_range():
    image = torch.rand(3, 32, 32)
    out, boxes, keep, mask = augment(image, AugmentConfig(), generator=torch.Generator().manual_seed(0))
    assert out.shape == image.shape and boxes is None and keep is None and mask is None
    assert float(out.min()) >= 0 and float(out.max()) <= 1


# --- crops and the ordinal grader ------------------------------------------------------------------

def test_a_crop_around_a_box_holds_that_boxes_pixels():
    image = torch.rand(3, 64, 80)
    box = torch.tensor([[20.0, 10.0, 36.0, 26.0]])  # 16 x 16 pixels: columns 20..35, rows 10..25
    crop = crop_boxes(image, box, size=16)
    assert crop.shape == (1, 3, 16, 16)
    torch.testing.assert_close(crop[0], image[:, 10:26, 20:36], rtol=0, atol=1e-5)
    # a margin of 0.25 of the side on every side: 24 x 24 pixels from (16, 6)
    grown = crop_boxes(image, box, size=24, margin=0.25)
    torch.testing.assert_close(grown[0], image[:, 6:30, 16:40], rtol=0, atol=1e-5)
    # half outside the image: zeros there, the pixels inside
    edge = crop_boxes(image, torch.tensor([[-8.0, 0.0, 8.0, 16.0]]), size=16)[0]
    assert float(edge[:, :, :8].abs().max()) == 0.0
    torch.testing.assert_close(edge[:, :, 8:], image[:, 0:16, 0:8], rtol=0, atol=1e-5)
    # a box twice the crop: each crop pixel is the mean of a 2 x 2 block (bilinear at its centre)
    half = crop_boxes(image, torch.tensor([[0.0, 0.0, 32.0, 32.0]]), size=16)[0]
    blocks = image[:, :32, :32].reshape(3, 16, 2, 16, 2).mean((2, 4))
    torch.testing.assert_close(half, blocks, rtol=0, atol=1e-5)


def test_item_crops_read_the_full_size_slice_and_its_neighbours():
    from baselines.data import DetectionItem, item_crops

    full = (np.arange(3 * 40 * 50) % 251).astype(np.uint8).reshape(3, 40, 50)
    item = DetectionItem("P/IM1", "P", 50, 40, np.zeros((3, 8, 8), np.uint8), full, 0.0,
                         np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32),
                         np.zeros(0, np.int64), np.zeros(0, np.int64))
    config = get_config("tiny", grade_crop=12, grade_margin=0.25)
    boxes = np.array([[10, 8, 18, 16], [44, 34, 52, 42]], dtype=np.float32)  # 8 x 8, grown to 12 x 12
    crops = item_crops(item, boxes, config)
    expected = torch.from_numpy(full).float() / 255
    torch.testing.assert_close(crops[0], expected[:, 6:18, 8:20], rtol=0, atol=1e-5)
    # the second one reaches past the corner: rows 32..39 and columns 42..49 lie on the image
    torch.testing.assert_close(crops[1, :, :8, :8], expected[:, 32:40, 42:50], rtol=0, atol=1e-5)
    assert float(crops[1, :, 8:, :].abs().max()) == 0.0 and float(crops[1, :, :, 8:].abs().max()) == 0.0
    torch.testing.assert_close(crops, crop_boxes(expected, torch.from_numpy(boxes), 12, 0.25), rtol=0, atol=1e-5)


def test_jittered_boxes_stay_near_their_box():
    boxes = torch.tensor([[100.0, 50.0, 120.0, 90.0]])
    jittered = jitter_boxes(boxes.expand(200, 4), 0.1, generator=torch.Generator().manual_seed(0))
    centre = (jittered[:, :2] + jittered[:, 2:]) / 2
    size = jittered[:, 2:] - jittered[:, :2]
    assert float((centre - torch.tensor([110.0, 70.0])).abs().max(0).values[0]) <= 2.0 + 1e-5
    assert float((centre - torch.tensor([110.0, 70.0])).abs().max(0).values[1]) <= 4.0 + 1e-5
    assert float(size[:, 0].min()) >= 18.0 - 1e-5 and float(size[:, 0].max()) <= 22.0 + 1e-5
    assert not torch.equal(jittered[0], jittered[1])
    assert torch.equal(jitter_boxes(boxes, 0.0), boxes)


def test_cumulative_link_probabilities_and_ordinal_loss_by_hand():
    # score 0, cut points (-1, 0, 1): P(<=0) = s(-1) = 0.26894, P(<=1) = 0.5, P(<=2) = s(1) = 0.73106
    logits = torch.tensor([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    probs = cumulative_probs(logits)
    torch.testing.assert_close(probs[0], torch.tensor([0.268941, 0.231059, 0.231059, 0.268941]), atol=1e-6, rtol=0)
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    grades = torch.tensor([1, 3, 0])
    # -log 0.231059 = 1.465084; -log 0.268941 = 1.313262; -log s(1) = 0.313262
    assert float(ordinal_loss(logits, grades)) == pytest.approx((1.465084 + 1.313262 + 0.313262) / 3, abs=1e-5)
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0])
    expected = (2 * 1.465084 + 4 * 1.313262 + 1 * 0.313262) / 7
    assert float(ordinal_loss(logits, grades, weights)) == pytest.approx(expected, abs=1e-5)
    # ordinal: with the score moved towards severe, grade 3 gets likelier and grade 0 less likely
    shifted = cumulative_probs(logits - 1.0)
    assert float(shifted[0, 3]) > float(probs[0, 3]) and float(shifted[0, 0]) < float(probs[0, 0])


def test_class_weights_for_the_grade_mix():
    weights = class_weights([70, 15, 9, 6], power=0.5)
    freq = np.array([0.70, 0.15, 0.09, 0.06])
    raw = freq ** -0.5
    np.testing.assert_allclose(weights.numpy(), raw / (freq * raw).sum(), rtol=1e-6)
    assert float((torch.tensor(freq, dtype=torch.float32) * weights).sum()) == pytest.approx(1.0)
    assert weights.argsort().tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(class_weights([70, 15, 9, 6], power=0.0).numpy(), [1, 1, 1, 1])
    unseen = class_weights([8, 2, 0, 0], power=1.0)  # unseen grades weigh as the rarest seen one
    # 1 / 0.8 = 1.25 and 1 / 0.2 = 5, over 0.8 * 1.25 + 0.2 * 5 = 2
    np.testing.assert_allclose(unseen.numpy(), [0.625, 2.5, 2.5, 2.5], rtol=1e-6)


def test_severity_rules():
    probs = np.array([[0.1, 0.1, 0.1, 0.7], [0.5, 0.1, 0.1, 0.3], [0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]])
    assert severity_from_probs(probs, "argmax").tolist() == [3, 0, 0, 0]
    assert severity_from_probs(probs, "expected").tolist() == [2, 1, 2, 0]  # 2.4, 1.2, 1.5 (half up), 0
    with pytest.raises(ValueError, match="unknown grade_decode rule 'median'"):
        severity_from_probs(probs, "median")


def test_interleave_spreads_three_tasks_over_an_epoch():
    from baselines.train import interleave

    order = [kind for kind, _ in interleave({"det": [1, 2, 3, 4], "seg": [5, 6], "grade": [7, 8]})]
    assert order == ["det", "seg", "grade", "det", "det", "seg", "grade", "det"]
    assert [k for k, _ in interleave({"det": [1, 2], "seg": [], "grade": [3]}, limit=2)] == ["det", "grade"]


# --- end to end --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from lssbench.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("baseline") / "data", n_patients=10, seed=0)


def test_tiny_run_end_to_end(tmp_path, tiny_data):
    from baselines.__main__ import main
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
    from lssbench.scoring import evaluate
    from lssbench.submission import write_template
    from lssbench.submission.validate import validate_submission

    data = tiny_data
    run, preds = tmp_path / "run", tmp_path / "preds"
    assert main(["train", "--data", str(data), "--out", str(run), "--config", "tiny", "--device", "cpu"]) == 0
    checkpoint = torch.load(run / "model.pt", weights_only=False)
    assert checkpoint["epoch"] == TINY.epochs and checkpoint["config"]["name"] == "tiny"
    assert checkpoint["split"]["train"] and checkpoint["split"]["val"]
    assert {"detector", "segmenter", "grader"} <= set(checkpoint)
    assert main(["predict", "--data", str(data), "--split", "test", "--run", str(run), "--out", str(preds),
                 "--device", "cpu"]) == 0

    # grades.csv: all ten foramina of every test patient, with probabilities; a foramen with a
    # detection has the grader's, one without has the train prior (and grade 0)
    grades = pd.read_csv(preds / "grades.csv")
    detections = pd.read_csv(preds / "detections.csv")
    assert len(grades) == 10 * grades["patient_id"].nunique()
    np.testing.assert_allclose(grades[list(PROBABILITY_COLUMNS)].sum(axis=1), 1.0, atol=1e-4)
    detected = set(zip(detections["image_id"].str.partition("/")[0], detections["level"], detections["side"]))
    keyed = grades.set_index(["patient_id", "level", "side"])
    without = [key for key in keyed.index if key not in detected]
    prior = np.asarray(checkpoint["grade_prior"])
    for key in without:
        assert keyed.loc[key, "severity"] == 0
        np.testing.assert_allclose(keyed.loc[key, list(PROBABILITY_COLUMNS)].to_numpy(float), prior, atol=1e-5)
    with_box = [key for key in keyed.index if key in detected]
    assert with_box and not np.allclose(keyed.loc[with_box, list(PROBABILITY_COLUMNS)].to_numpy(float), prior)

    gt_dir = prepare_ground_truth(read_dataset(data), "test", tmp_path / "gt")
    gt = load_ground_truth(gt_dir)
    report = validate_submission(preds, gt)
    assert not report.problems, [str(p) for p in report.problems]
    template = write_template(gt, tmp_path / "empty")
    ours, empty = (evaluate(path, str(gt_dir), n_bootstrap=0) for path in (preds, template))

    def headline(results, task, key):
        return results[task][key] or 0.0

    assert headline(ours, "segmentation", "mean_dice") > headline(empty, "segmentation", "mean_dice")
    assert headline(ours, "detection", "AP50") >= headline(empty, "detection", "AP50")


def test_split_definition_val_split_or_cv_fold():
    from baselines.data import split_definition
    from lssbench.splits import assign_fold, assign_split

    patients = [f"PATIENT{100000 + i}" for i in range(60)]
    default = split_definition(patients)
    assert all(assign_split(p) == "train" for p in default["train"])
    assert all(assign_split(p) == "val" for p in default["val"]) and default["val"]
    fold = split_definition(patients, fold=2)
    assert fold["val"] and all(assign_split(p) == "train" and assign_fold(p) == 2 for p in fold["val"])
    assert not set(fold["train"]) & set(fold["val"])
    assert sorted(fold["train"] + fold["val"]) == default["train"]


# --- the README's commands against a wheel ------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: What a wheel is built from (the rest of the checkout is not packaged).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "lssbench", "baselines", "splits")


def _run(args: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(map(str, args))} in {cwd} failed ({done.returncode}):\n" \
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_readme_baseline_commands_run_from_the_checkout_and_elsewhere_against_a_wheel(tmp_path, tiny_data):
    """``pip install .`` then the README's baseline tour, run in the repository root (where the
    checkout's ``lssbench/`` and ``baselines/`` shadow the installed ones) and in another folder
    (where the installed ones are used)."""
    source = tmp_path / "source"  # built from a copy: the build writes build/ and *.egg-info beside its sources
    source.mkdir()
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "LSSBENCH_GT")}
    env["PIP_NO_INDEX"] = "1"  # everything the build needs is installed: no network
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)],
         tmp_path, env)
    wheel = next((tmp_path / "dist").glob("lssbench-*.whl"))
    target = tmp_path / "target"
    _run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], tmp_path, env)
    env["PYTHONPATH"] = str(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    where = ("import json, lssbench, baselines, lssbench.splits as s; print(json.dumps([lssbench.__file__, "
             "baselines.__file__, s.available_split_definitions()]))")
    at_root = json.loads(_run([sys.executable, "-c", where], ROOT, env))
    assert at_root[:2] == [str(ROOT / "lssbench" / "__init__.py"), str(ROOT / "baselines" / "__init__.py")]
    outside = json.loads(_run([sys.executable, "-c", where], elsewhere, env))
    assert outside[:2] == [str(target / "lssbench" / "__init__.py"), str(target / "baselines" / "__init__.py")]
    assert at_root[2] == outside[2] and "lssbench-v1" in at_root[2]

    run, preds, data = tmp_path / "run", tmp_path / "preds", str(tiny_data)
    # in the repository root: the checkout's lssbench (and its splits/ folder) shadows the wheel
    _run([sys.executable, "-m", "baselines", "train", "--data", data, "--out", str(run), "--config", "tiny"],
         ROOT, env)
    # anywhere else: the installed copy, whose split definitions live in lssbench.splitdefs
    out = _run([sys.executable, "-m", "baselines", "predict", "--data", data, "--split", "test", "--run", str(run),
                "--out", str(preds)], elsewhere, env)
    assert f"-> {preds}" in out
    lssbench_script = target / "bin" / "lssbench"
    _run([str(lssbench_script), "validate", str(preds), "--gt", data, "--split", "test"], ROOT, env)
    scores = _run([sys.executable, "-m", "lssbench", "evaluate", str(preds), "--gt", data, "--split", "test",
                   "--out", str(tmp_path / "results.json")], ROOT, env)
    assert "mean over the five structures" in scores
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["split"] == "test" and set(results["tasks"]) == {"detection", "grading", "segmentation"}


# --- run records -------------------------------------------------------------------------------

def _record(**overrides):
    from baselines.record import build_record

    results = {"split": "test", "gt_fingerprint": "sha256:ab",
               "detection": {"AP50": 0.75, "mAP": 0.4}, "grading": {"qwk": 0.8},
               "segmentation": {"mean_dice": 0.93, "mean_hd95_mm": 3.25}}
    fields = dict(command="python -m baselines bench --data d --work w --config cpu", device="cpu", config="cpu",
                  compiled=False, wall_s=600.4, train_s=550.0, predict_s=50.4, cpu_s=1100.0,
                  load_before=[1.5, 1.0, 0.5], load_after=[2.25, 1.0, 0.5], train_images_per_s=20.0,
                  inference_images_per_s=40.0, peak_gpu_memory_mib=None, results=results,
                  data={"patients": 60}, date="2026-12-01")
    fields.update(overrides)
    return build_record(**fields)


def test_record_holds_the_run_and_its_summary():
    from baselines.record import record_filename, results_summary, training_rate

    record = _record()
    assert record["results"] == {"AP50": 0.75, "mAP": 0.4, "qwk": 0.8, "mean_dice": 0.93, "mean_hd95_mm": 3.25}
    assert (record["device"], record["split"], record["wall_s"], record["peak_gpu_memory_mib"]) == ("cpu", "test",
                                                                                                     600.4, None)
    assert results_summary({"detection": None, "grading": {"qwk": None}}) == {
        "AP50": None, "mAP": None, "qwk": None, "mean_dice": None, "mean_hd95_mm": None}
    assert record_filename("2026-12-01", "NVIDIA H200") == "2026-12-01-nvidia-h200.json"
    assert record_filename("2026-12-01", "cpu", compiled=True) == "2026-12-01-cpu-compile.json"
    history = [{"train_s": 2.0, "train_images": 30}, {"train_s": 3.0, "train_images": 70}]
    assert training_rate(history) == pytest.approx(20.0) and training_rate([]) is None


def test_results_md_table_comes_from_the_records():
    from baselines.record import RESULTS_MD, TABLE_BEGIN, TABLE_END, load_records, render_results_md

    records = [("2026-12-01-cpu.json", _record()),
               ("2026-12-02-nvidia-h200.json", _record(device="NVIDIA H200", config="default", compiled=True,
                                                       peak_gpu_memory_mib=20480.0))]
    text = render_results_md(f"intro\n{TABLE_BEGIN}\nstale\n{TABLE_END}\noutro\n", records)
    rows = text.split(TABLE_BEGIN)[1].split(TABLE_END)[0].strip().splitlines()
    assert rows[2] == ("| [2026-12-01-cpu.json](results/2026-12-01-cpu.json) | cpu | cpu | 600 | 1100 | 1.5 / 2.2 | "
                       "20.0 | 40.0 | - | 0.750 | 0.400 | 0.800 | 0.930 | 3.25 |")
    assert "| NVIDIA H200 | default + compile |" in rows[3] and "| 20480 |" in rows[3]
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "stale" not in text
    with pytest.raises(ValueError, match="lacks the marker lines"):
        render_results_md("no markers", records)
    # the shipped RESULTS.md agrees with the shipped records
    on_record = load_records()
    assert on_record, "baselines/results/ holds no record"
    assert render_results_md(RESULTS_MD.read_text("utf-8"), on_record) == RESULTS_MD.read_text("utf-8")


def test_cli_errors_are_one_line_and_an_exit_code(tmp_path, capsys):
    from baselines.__main__ import main

    assert main(["predict", "--data", str(tmp_path), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "p"),
                 "--device", "cpu"]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'run' / 'model.pt'}: no checkpoint; train first "
                                       f"(python -m baselines train --out {tmp_path / 'run'})\n")
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"), "--config", "tiny",
                 "--device", "cpu"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nowhere'}: 1 problem")
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--data", "d", "--work", "w", "--config", "huge"])
    assert exit_info.value.code == 2


# --- a record as the board's reference row ------------------------------------------------------

@pytest.fixture(scope="module")
def jittered_record(tmp_path_factory, sample_submissions, test_bundle):
    """A record whose scores are the jittered sample's results (default bootstrap, resamples kept)."""
    from lssbench.jsonio import write_json_atomic
    from lssbench.scoring import evaluate

    results = evaluate(sample_submissions["jittered"], str(test_bundle), keep_resamples=True)
    path = tmp_path_factory.mktemp("record") / "2026-12-01-cpu.json"
    write_json_atomic(path, _record(results=results))
    return path


def test_a_record_is_the_boards_reference_row_with_the_scores_it_holds(jittered_record, sample_submissions,
                                                                     ground_truth):
    from lssbench.board import BASELINE_REFERENCE, leaderboard

    from_record = leaderboard([sample_submissions["weak"]], ground_truth, baseline=jittered_record, workers=1)
    from_preds = leaderboard([sample_submissions["weak"]], ground_truth, baseline=sample_submissions["jittered"],
                             workers=1)
    rows = [{e["name"]: e for e in board["entries"]}[BASELINE_REFERENCE] for board in (from_record, from_preds)]
    assert [row["kind"] for row in rows] == ["reference", "reference"]
    assert [row["ranks"]["detection"] for row in rows] == [None, None]
    # the record's scores are the predictions' scores, to the digit the JSON holds
    for task, key in (("detection", "AP50"), ("grading", "qwk"), ("segmentation", "mean_dice")):
        assert rows[0]["results"][task][key] == rows[1]["results"][task][key] is not None
    assert rows[0]["results"]["ci95"] == rows[1]["results"]["ci95"] and rows[0]["results"]["ci95"]["grading.qwk"]
    assert "resamples" not in rows[0]["results"] and "per_case" not in rows[0]["results"]["segmentation"]
    # the weak submission is ranked alone, whichever way the baseline came
    assert [e["overall_rank"] for e in from_record["entries"] if e["kind"] == "submission"] == [1]


def test_a_record_from_elsewhere_is_refused_naming_what_differs(jittered_record, tmp_path, ground_truth):
    from lssbench.board import leaderboard
    from lssbench.problems import UsageError

    record = json.loads(jittered_record.read_text())
    for change, message in (
        ({"gt_fingerprint": "sha256:other"}, f"cannot show a baseline record from different ground truths: "
                                             f"{tmp_path / 'r.json'} has sha256:other, this board has "
                                             f"{ground_truth.fingerprint}"),
        ({"split": "val"}, "from different splits"),
        ({"metrics_version": "0"}, "from different metrics versions"),
    ):
        edited = dict(record, scores=dict(record["scores"], **change))
        (tmp_path / "r.json").write_text(json.dumps(edited))
        with pytest.raises(UsageError, match=re.escape(message)):
            leaderboard([], ground_truth, baseline=tmp_path / "r.json", workers=1)
    with pytest.raises(UsageError, match="cannot show a baseline record with different bootstrap settings: "
                                         ".* with 1000 resamples, this board with 10 resamples"):
        leaderboard([], ground_truth, baseline=jittered_record, n_bootstrap=10, workers=1)
    with pytest.raises(UsageError, match="holds scores of the whole split, not of a public share"):
        leaderboard([], ground_truth, baseline=jittered_record, public_share=0.5, workers=1)
    old = {k: v for k, v in record.items() if k != "scores"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(UsageError, match="a baseline record without its scores"):
        leaderboard([], ground_truth, baseline=tmp_path / "old.json", workers=1)


def test_cli_board_and_compare_take_a_record(jittered_record, sample_submissions, test_bundle, tmp_path):
    from click.testing import CliRunner

    from lssbench.cli import main

    runner = CliRunner()
    out = tmp_path / "board.json"
    done = runner.invoke(main, ["leaderboard", str(sample_submissions["weak"]), "--gt", str(test_bundle),
                                "--out", str(out), "--baseline", str(jittered_record), "--jobs", "1"])
    assert done.exit_code == 0, done.output
    names = [e["name"] for e in json.loads(out.read_text())["entries"]]
    assert names == ["weak", "reference: lssbench baseline", "reference: no detections, all normal, background masks"]
    refused = runner.invoke(main, ["leaderboard", str(sample_submissions["weak"]), "--gt", str(test_bundle),
                                   "--out", str(tmp_path / "b2.json"), "--baseline", str(jittered_record),
                                   "--bootstrap", "0"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert ("cannot show a baseline record with different bootstrap settings: "
            f"{jittered_record} with 1000 resamples, this board was scored without bootstrap (--bootstrap 0)"
            in " ".join(refused.output.split()))
    assert not (tmp_path / "b2.json").exists()
    compared = runner.invoke(main, ["compare", str(jittered_record), str(sample_submissions["jittered"]),
                                    "--gt", str(test_bundle), "--out", str(tmp_path / "compare.json")])
    assert compared.exit_code == 0, compared.output
    differences = json.loads((tmp_path / "compare.json").read_text())["differences"]
    assert differences and all(d["difference"] == 0 and d["ci95"] == [0, 0] and d["p_value"] == 1
                               for d in differences.values())
    # a leaderboard JSON or a results JSON scored without bootstrap, each named
    wrong = runner.invoke(main, ["leaderboard", str(sample_submissions["weak"]), "--gt", str(test_bundle),
                                 "--out", str(tmp_path / "b3.json"), "--baseline", str(out)])
    assert wrong.exit_code == 2 and f"{out} is a leaderboard JSON, not a results JSON: give the baseline's " \
        "predictions (a folder or zip), its record (baselines/results/*.json) or its results JSON" in \
        " ".join(wrong.output.split())
    plain = tmp_path / "plain.json"
    assert runner.invoke(main, ["evaluate", str(sample_submissions["jittered"]), "--gt", str(test_bundle),
                                "--bootstrap", "0", "--out", str(plain)]).exit_code == 0
    unpaired = runner.invoke(main, ["leaderboard", str(sample_submissions["weak"]), "--gt", str(test_bundle),
                                    "--out", str(tmp_path / "b4.json"), "--baseline", str(plain)])
    assert unpaired.exit_code == 2 and (f"cannot show a results JSON with different bootstrap settings: {plain} "
                                        "was scored without bootstrap (--bootstrap 0), this board with 1000 "
                                        "resamples") in " ".join(unpaired.output.split())
