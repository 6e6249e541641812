"""Grand Challenge: the evaluation container's entry point.

``lssbench grand-challenge evaluate [--input /input] [--output /output]
[--gt /opt/ml/input/data/ground_truth]`` writes ``/output/metrics.json``::

    {"case": {"<patient_id>": {per-case segmentation metrics}},
     "aggregates": {"detection": {"AP50": ..., "mAP": ...}, "grading": {"qwk": ...},
                    "segmentation": {"mean_dice": ..., "mean_hd95_mm": ...},
                    "ci95": {...}, "tasks": [...], "split": ..., "gt_fingerprint": ..., ...}}

so every headline is a simple JSONPath: ``aggregates.detection.AP50``,
``aggregates.grading.qwk``, ``aggregates.segmentation.mean_dice``,
``aggregates.segmentation.mean_hd95_mm`` (a task not submitted has no key).

Conventions followed (grand-challenge.org evaluation docs): a prediction submission is
extracted into /input (a folder, or a single zip in it is opened here); the ground truth
uploaded separately from the container is extracted into /opt/ml/input/data/ground_truth;
the container runs with its default command and must write /output/metrics.json; on an
error the platform shows the participant the last non-empty line of stderr, so an invalid
submission lists every problem on stderr and ends with one summary line, exit code 1.
"""

from __future__ import annotations

import os
from pathlib import Path

from lssbench.jsonio import write_json_atomic
from lssbench.platforms.common import find_submission, load_reference, run_guarded, score, tasks_line
from lssbench.problems import UsageError
from lssbench.scoring import DEFAULT_RESAMPLES

DEFAULT_INPUT = Path("/input")
DEFAULT_OUTPUT = Path("/output")
DEFAULT_GT = Path("/opt/ml/input/data/ground_truth")
METRICS_FILE = "metrics.json"
#: Written by Grand Challenge for algorithm-submission phases, which this container does not score.
ALGORITHM_INPUTS = "predictions.json"


def metrics_document(results: dict) -> dict:
    """``{"case": ..., "aggregates": ...}`` from a results dict (per-case rows moved to ``case``)."""
    aggregates, case = {}, {}
    for key, value in results.items():
        if isinstance(value, dict) and "per_case" in value:
            value = dict(value)
            for row in value.pop("per_case"):
                case.setdefault(row["patient_id"], {})[key] = row["metrics"]
        aggregates[key] = value
    return {"case": case, "aggregates": aggregates}


def evaluate(input_dir: str | os.PathLike = DEFAULT_INPUT, output_dir: str | os.PathLike = DEFAULT_OUTPUT,
             gt_dir: str | os.PathLike = DEFAULT_GT, *, n_bootstrap: int = DEFAULT_RESAMPLES,
             seed: int = 0) -> Path:
    """Score the submission in ``input_dir`` and write ``output_dir/metrics.json``; return its path."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if (input_dir / ALGORITHM_INPUTS).is_file():
        raise UsageError(f"{input_dir / ALGORITHM_INPUTS} found: this evaluation scores prediction "
                         "submissions (a zip of lssbench submission files), not algorithm outputs")
    gt = load_reference(gt_dir)
    scored = score(find_submission(input_dir), gt, n_bootstrap=n_bootstrap, seed=seed)
    for warning in scored.warnings:
        print(f"warning: {warning}")
    print(tasks_line(scored.results))
    output_dir.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(output_dir / METRICS_FILE, metrics_document(scored.results))


def evaluate_main(input_dir, output_dir, gt_dir, *, n_bootstrap: int, seed: int) -> int:
    """:func:`evaluate` with the platform's error convention; returns the exit code."""
    def body():
        path = evaluate(input_dir, output_dir, gt_dir, n_bootstrap=n_bootstrap, seed=seed)
        print(f"metrics written to {path}")

    return run_guarded(body)
