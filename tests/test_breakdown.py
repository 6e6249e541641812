"""Breakdown tables, multi-seed aggregation, per-case export and the grade views of the report."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lssbench.aggregate import aggregate_results, metric_values
from lssbench.cli import main
from lssbench.domain import GRADE_NAMES, LEVELS, SIDES
from lssbench.metrics.grading import per_grade_metrics, reliability_curves
from lssbench.problems import UsageError
from lssbench.report.breakdown import breakdown_table, collect_rows

FP = "sha256:" + "a" * 64


def hand_results(ap50=0.5, qwk=0.25, dice=0.75, meta=None, ci=True, fingerprint=FP, split="test"):
    """A hand-made results dict with every field the tables read."""
    per_level = {lv: {"AP50": ap50 + i / 100, "mAP": ap50 / 2, "AP75": 0.1, "AR100": 0.9} for i, lv in enumerate(LEVELS)}
    per_side = {s: {"AP50": ap50 - 0.1 * i, "mAP": 0.2, "AP75": 0.1, "AR100": 0.9} for i, s in enumerate(SIDES)}
    results = {
        "schema_version": 1, "lssbench_version": "0.1.0", "metrics_version": "1", "split": split,
        "gt_fingerprint": fingerprint, "submission_fingerprint": "sha256:" + hashlib.sha256(f"{ap50} {qwk} {dice}".encode()).hexdigest(),
        "tasks": ["detection", "grading", "segmentation"], "meta": meta if meta is not None else {},
        "detection": {"mAP": ap50 / 2, "AP50": ap50, "AP75": 0.1, "AR100": 0.9, "per_level": per_level,
                      "per_side": per_side, "per_class": {}, "num_detections": 7},
        "grading": {"qwk": qwk, "accuracy": 0.6, "n": 10,
                    "confusion_matrix": [[4, 1, 0, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 1, 0]],
                    "per_level": {lv: {"qwk": qwk + i / 10, "accuracy": 0.5, "n": 2} for i, lv in enumerate(LEVELS)},
                    "per_side": {s: {"qwk": None if i else qwk, "accuracy": 0.5, "n": 5} for i, s in enumerate(SIDES)}},
        "segmentation": {"mean_dice": dice, "mean_hd95_mm": 3.0,
                         "per_class": {c: {"dice": dice, "hd95_mm": 2.5, "n_cases": 3}
                                       for c in ("anterior", "posterior_a", "posterior_b", "vertebra", "disc", "sacrum")}},
        "warnings": [],
    }
    if ci:
        results["ci95"] = {"detection.AP50": [ap50 - 0.1, ap50 + 0.1], "detection.mAP": None,
                           "grading.qwk": [qwk - 0.2, qwk + 0.2], "segmentation.mean_dice": [dice - 0.05, dice + 0.05],
                           "segmentation.mean_hd95_mm": [2.0, 4.0]}
    return results


def test_markdown_by_task_cells_and_escaping():
    rows = collect_rows([("a.json", hand_results(meta={"method": "net|<b>", "team": "t"})),
                         ("b.json", hand_results(0.25, 0.5, 0.5, ci=False))])
    text = breakdown_table(rows, "task", "md")
    lines = text.splitlines()
    assert lines[0] == "| method | AP50 | mAP | QWK | Dice | HD95 (mm) |"
    assert lines[2] == ("| net\\|&lt;b&gt; (t) | 0.500 [0.400, 0.600] | 0.250 | 0.250 [0.050, 0.450] "
                        "| 0.750 [0.700, 0.800] | 3.000 [2.000, 4.000] |")
    assert lines[3] == "| b.json | 0.250 | 0.125 | 0.500 | 0.500 | 3.000 |"


def test_latex_by_level_is_booktabs_and_escaped():
    rows = collect_rows([("runs/x_1.json", hand_results(meta={"method": "50% & more_"}))])
    text = breakdown_table(rows, "level", "latex")
    assert text.splitlines()[0].startswith("% lssbench table: booktabs (\\usepackage{booktabs})")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    assert ("50\\% \\& more\\_ & 0.500 & 0.510 & 0.520 & 0.530 & 0.540 & 0.250 & 0.350 & 0.450 & 0.550 & 0.650 \\\\"
            in text)
    assert "method & AP50 L1-L2 & AP50 L2-L3" in text


def test_csv_by_side_has_numbers_and_defuses_formulas():
    rows = collect_rows([("a.json", hand_results(meta={"method": "=HYPERLINK(1)"}))])
    parsed = list(csv.reader(io.StringIO(breakdown_table(rows, "side", "csv"))))
    assert parsed[0] == ["method", "AP50 left", "AP50 left lo", "AP50 left hi", "AP50 right", "AP50 right lo",
                         "AP50 right hi", "QWK left", "QWK left lo", "QWK left hi"]  # QWK right: undefined, dropped
    assert parsed[1] == ["'=HYPERLINK(1)", "0.5", "", "", "0.4", "", "", "0.25", "", ""]


def test_grade_columns_match_sklearn():
    from sklearn.metrics import precision_recall_fscore_support

    confusion = hand_results()["grading"]["confusion_matrix"]
    y_true = np.repeat(np.repeat(np.arange(4), 4), np.ravel(confusion))
    y_pred = np.repeat(np.tile(np.arange(4), 4), np.ravel(confusion))
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2, 3], zero_division=0)
    per_grade = per_grade_metrics(confusion)
    for g, name in enumerate(GRADE_NAMES):
        assert per_grade[name]["recall"] == pytest.approx(recall[g])
        assert per_grade[name]["f1"] == pytest.approx(f1[g])
    assert per_grade["severe"]["precision"] is None  # never predicted: undefined, not 0
    text = breakdown_table(collect_rows([("a.json", hand_results())]), "grade", "md")
    assert text.splitlines()[2] == "| a.json | 0.800 | 0.500 | 1.000 | 0.000 | 0.800 | 0.500 | 0.800 | 0.000 |"


def test_class_columns_and_columns_of_absent_tasks_are_dropped():
    results = hand_results()
    del results["segmentation"]
    results["tasks"] = ["detection", "grading"]
    with pytest.raises(UsageError, match="no file holds a metric of the class breakdown"):
        breakdown_table(collect_rows([("a.json", results)]), "class", "md")
    header = breakdown_table(collect_rows([("a.json", results)]), "task", "md").splitlines()[0]
    assert header == "| method | AP50 | mAP | QWK |"
    header = breakdown_table(collect_rows([("a.json", hand_results())]), "class", "md").splitlines()[0]
    assert header.startswith("| method | Dice posterior A | Dice posterior B | Dice vertebral bodies |")


def test_different_ground_truths_are_refused():
    with pytest.raises(UsageError, match="different ground truths"):
        collect_rows([("a.json", hand_results()), ("b.json", hand_results(fingerprint="sha256:" + "c" * 64))])
    with pytest.raises(UsageError, match="b.json: not a results, aggregate or leaderboard JSON"):
        collect_rows([("b.json", {"hello": 1})])


def test_duplicate_names_are_told_apart():
    rows = collect_rows([("a.json", hand_results(meta={"method": "m"})), ("b.json", hand_results(meta={"method": "m"}))])
    assert [r.name for r in rows] == ["m [a.json]", "m [b.json]"]


# --- aggregate -------------------------------------------------------------------------------
def test_aggregate_mean_and_sample_std_equal_numpy():
    runs = [hand_results(ap50=a, qwk=q, dice=d) for a, q, d in ((0.5, 0.2, 0.7), (0.6, 0.4, 0.8), (0.9, 0.3, 0.75))]
    aggregate = aggregate_results(runs, ["s0.json", "s1.json", "s2.json"])
    assert aggregate["runs"] == 3 and aggregate["gt_fingerprint"] == FP
    for name in ("detection.AP50", "detection.per_level.L3-L4.AP50", "grading.qwk", "segmentation.per_class.disc.dice",
                 "grading.per_grade.normal.recall"):
        values = np.array([metric_values(r)[name] for r in runs])
        entry = aggregate["metrics"][name]
        assert entry["values"] == pytest.approx(list(values))
        assert entry["mean"] == pytest.approx(np.mean(values), abs=1e-15)
        assert entry["std"] == pytest.approx(np.std(values, ddof=1), abs=1e-15)
    assert aggregate["metrics"]["detection.AP50"]["std"] == pytest.approx(0.2081665999466133)
    # undefined in every run: null, kept as values
    assert aggregate["metrics"]["grading.per_side.right.qwk"] == {"mean": None, "std": None, "values": [None] * 3}
    assert "grading.n" not in aggregate["metrics"] and "segmentation.per_class.disc.n_cases" not in aggregate["metrics"]
    json.dumps(aggregate, allow_nan=False)


def test_aggregate_refuses_mixed_runs():
    with pytest.raises(UsageError, match=r"different ground truths and cannot be aggregated \(a: sha256:a+; b: sha256:c+\)"):
        aggregate_results([hand_results(), hand_results(fingerprint="sha256:" + "c" * 64)], ["a", "b"])
    with pytest.raises(UsageError, match="different splits"):
        aggregate_results([hand_results(), hand_results(split="val")], ["a", "b"])
    with pytest.raises(UsageError, match="at least two runs, got 1"):
        aggregate_results([hand_results()], ["a"])
    with pytest.raises(UsageError, match=r"^a and b score the same predictions \(submission fingerprint sha256:"):
        aggregate_results([hand_results(), hand_results()], ["a", "b"])
    with pytest.raises(UsageError, match=r"different methods and cannot be aggregated as seeds of one method "
                                         r"\(a: 'jittered'; b: 'weak'\)"):
        aggregate_results([hand_results(meta={"method": "jittered"}), hand_results(ap50=0.1, meta={"method": "weak"})],
                          ["a", "b"])


def test_table_prints_an_aggregate_as_mean_pm_std():
    runs = [hand_results(ap50=0.5, meta={"method": "seeded"}), hand_results(ap50=0.7, meta={"method": "seeded"})]
    rows = collect_rows([("agg.json", aggregate_results(runs, ["a", "b"]))])
    line = breakdown_table(rows, "task", "md").splitlines()[2]
    assert line.startswith("| seeded (2 runs) | 0.600 ± 0.141 | 0.300 ± 0.071 | 0.250 ± 0.000 |")
    assert r"0.600 $\pm$ 0.141" in breakdown_table(rows, "task", "latex")


# --- CLI ------------------------------------------------------------------------------------
def test_cli_table_and_aggregate(tmp_path):
    paths = []
    for i, ap in enumerate((0.5, 0.7)):
        paths.append(tmp_path / f"seed{i}.json")
        paths[-1].write_text(json.dumps(hand_results(ap50=ap)))
    runner = CliRunner()
    out = tmp_path / "agg.json"
    result = runner.invoke(main, ["aggregate", *map(str, paths), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["metrics"]["detection.AP50"]["mean"] == pytest.approx(0.6)
    result = runner.invoke(main, ["table", str(out), str(paths[0]), "--by", "side", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "| agg.json (2 runs) | 0.600 ± 0.141 | 0.500 ± 0.141 |" in result.output
    table = tmp_path / "t.tex"
    result = runner.invoke(main, ["table", str(paths[0]), "--format", "latex", "--out", str(table)])
    assert result.exit_code == 0 and result.output == f"table written to {table}\n"
    assert "\\toprule" in table.read_text()


def test_cli_errors(tmp_path):
    runner = CliRunner()
    good = tmp_path / "r.json"
    good.write_text(json.dumps(hand_results()))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(main, ["table", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'missing.json'} does not exist or is not a file" in result.output
    result = runner.invoke(main, ["table", str(bad)])
    assert result.exit_code == 2 and f"error: {bad}: not readable JSON" in result.output
    result = runner.invoke(main, ["aggregate", str(good), str(good), str(bad), "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2
    other = tmp_path / "o.json"
    other.write_text(json.dumps(hand_results(split="val")))
    result = runner.invoke(main, ["aggregate", str(good), str(other), "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "different splits" in result.output
    assert not (tmp_path / "a.json").exists()
    result = runner.invoke(main, ["table", str(good), "--by", "patient"])
    assert result.exit_code == 2 and "Invalid value for '--by'" in result.output


# --- per case, confusion, calibration ------------------------------------------------------
@pytest.fixture(scope="module")
def jittered(ground_truth, sample_submissions):
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    submission = load_submission(sample_submissions["jittered"], ground_truth)
    return submission, Evaluator(ground_truth).evaluate(submission, n_bootstrap=0)


def test_confusion_matrix_counts_every_graded_foramen(ground_truth, jittered):
    _, results = jittered
    matrix = np.array(results["grading"]["confusion_matrix"])
    assert matrix.sum() == len(ground_truth.grades) == results["grading"]["n"]
    assert list(matrix.sum(axis=1)) == [int((ground_truth.grades["severity"] == g).sum()) for g in range(4)]


def test_evaluate_per_case_and_report_cli(ground_truth, test_bundle, sample_submissions, jittered, tmp_path):
    _, results = jittered
    csv_path, report = tmp_path / "cases.csv", tmp_path / "rep"
    result = CliRunner().invoke(main, ["evaluate", str(sample_submissions["jittered"]), "--gt", str(test_bundle),
                                       "--bootstrap", "0", "--quiet", "--per-case", str(csv_path),
                                       "--report", str(report)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(csv_path)
    seg = frame[frame.task == "segmentation"]
    grading = frame[frame.task == "grading"]
    assert len(seg) == len(ground_truth.cases) * 6 and len(grading) == len(ground_truth.grades)
    first = results["segmentation"]["per_case"][0]
    row = seg[(seg.patient_id == first["patient_id"]) & (seg["class"] == "disc")].iloc[0]
    assert row.dice == pytest.approx(first["metrics"]["disc"]["dice"], rel=1e-5)
    assert row.hd95_mm == pytest.approx(first["metrics"]["disc"]["hd95_mm"], rel=1e-5)
    truth = ground_truth.grades.set_index(["patient_id", "level", "side"])["severity"]
    assert (grading.set_index(["patient_id", "level", "side"])["severity_true"] == truth).all()
    assert grading[["p_normal", "p_mild", "p_moderate", "p_severe"]].sum(axis=1).round(6).eq(1).all()
    assert (report / "index.html").is_file()
    assert sorted(p.name for p in (report / "figures").iterdir()) == [
        "confusion.svg", "dice-per-class.svg", "hd95-per-class.svg", "pr-per-level.svg", "pr-per-side.svg",
        "reliability.svg", "worst-cases.svg"]


def test_report_refuses_a_folder_that_is_not_a_report(test_bundle, sample_submissions, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["report", str(sample_submissions["weak"]), "--gt", str(test_bundle),
                                       "--out", str(tmp_path), "--bootstrap", "0"])
    assert result.exit_code == 2
    assert result.output.endswith(f"error: refusing to overwrite {tmp_path}: it exists and is not an lssbench "
                                  "report (give a new or empty folder)\n")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_reliability_bins_equal_sklearn_calibration_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), 300)
    y = np.array([rng.choice(4, p=p) for p in proba])
    curves = reliability_curves(y, proba, n_bins=10)
    observed, predicted = calibration_curve(y >= 2, proba[:, 2:].sum(axis=1), n_bins=10)
    np.testing.assert_allclose(curves["moderate_or_worse"]["observed"], observed, atol=1e-12)
    np.testing.assert_allclose(curves["moderate_or_worse"]["predicted"], predicted, atol=1e-12)
    observed, predicted = calibration_curve(proba.argmax(axis=1) == y, proba.max(axis=1), n_bins=10)
    np.testing.assert_allclose(curves["top_label"]["observed"], observed, atol=1e-12)
    assert sum(curves["top_label"]["count"]) == 300
    gap = np.abs(np.array(curves["top_label"]["observed"]) - predicted) @ np.array(curves["top_label"]["count"]) / 300
    assert curves["top_label"]["ece"] == pytest.approx(gap)


def test_demo_writes_a_report_of_each_sample(ground_truth, sample_submissions, tmp_path):
    from lssbench.demo import write_sample_reports
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    evaluator = Evaluator(ground_truth)
    scored = {name: evaluator.evaluate(load_submission(path, ground_truth), n_bootstrap=0)
              for name, path in sample_submissions.items()}
    (tmp_path / "reports" / "weak").mkdir(parents=True)
    (tmp_path / "reports" / "weak" / "mine.txt").write_text("not a report")
    written = write_sample_reports(ground_truth, sample_submissions, scored, tmp_path / "reports")
    assert [(r.output.label, r.error is None) for r in written] == [
        ("report 'perfect'", True), ("report 'jittered'", True), ("report 'weak'", False)]
    assert "refusing to overwrite" in str(written[2].error)
    page = (tmp_path / "reports" / "jittered" / "index.html").read_text()
    assert '<h1 class="name" id="submission-name">jittered</h1>' in page


def test_caption_claims_intervals_only_when_a_cell_has_one():
    rows = collect_rows([("a.json", hand_results())])
    by_task = breakdown_table(rows, "task", "md")
    assert "[0.4" in by_task and "bootstrap interval over patients\\] where the results hold one" in by_task
    by_level = breakdown_table(rows, "level", "latex")
    assert "[" not in by_level.split(r"\midrule")[1].split(r"\bottomrule")[0]  # no cell shows an interval
    assert "point values (these results hold no interval for this breakdown)" in by_level
    assert "bootstrap interval" not in by_level
