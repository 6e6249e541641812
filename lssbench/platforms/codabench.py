"""Codabench: a competition bundle whose scoring program is lssbench.

``lssbench codabench bundle --gt GT --out competition.zip`` writes::

    competition.yaml            version 2: one task, one phase, one leaderboard (the headlines)
    scoring_program/metadata.yaml   command: python3 $program/score.py $input $output
    scoring_program/score.py    calls score_main: $input/res (submission) against $input/ref
    reference_data/             the private ground-truth bundle (GT)
    public_data/                public.json and template.zip (a valid starting submission)
    starting_kit/README.md      what participants submit
    pages/*.md, logo.png        the competition pages
    README.md                   for the organizers: build the image, upload, test

Conventions followed (Codabench compute worker, compute_worker.py in codalab/codabench):
the scoring container runs the metadata ``command`` with ``$input`` -> /app/input,
``$output`` -> /app/output, ``$program`` -> /app/program, working directory /app/program;
the submission is unzipped in /app/input/res, the reference data in /app/input/ref. Scores
are read from /app/output/scores.json (keys = leaderboard column keys; keys of tasks not
submitted are left out, so their columns stay empty), ``detailed_results.html`` there is the
detailed-results page (``enable_detailed_results``). A missing scores.json marks the
submission failed, so an invalid one writes none and exits 1, never "finished" with empty scores.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import zipfile
from datetime import date
from pathlib import Path

from lssbench import __version__
from lssbench.jsonio import write_bytes_atomic, write_json_atomic, write_text_atomic
from lssbench.platforms.common import (EXIT_INTERNAL, detailed_results_html, find_submission, headline_values,
                                       load_reference, run_guarded, score, tasks_line)
from lssbench.problems import UsageError
from lssbench.domain import HEADLINES
from lssbench.scoring import DEFAULT_RESAMPLES

SCORES_FILE = "scores.json"
DETAILED_FILE = "detailed_results.html"
RESULTS_FILE = "results.json"
DEFAULT_IMAGE = f"lssbench-eval:{__version__}"
DEFAULT_TITLE = "lssbench: lumbar spinal stenosis MRI (LSS-MRI-AISSLab)"


def score_key(headline) -> str:
    """Leaderboard column key of a headline: ``detection.AP50 -> detection_AP50``."""
    return headline.name.replace(".", "_")


# --- the scoring program -----------------------------------------------------------------


def score_main(argv: list[str] | None = None, *, expected_version: str | None = None) -> int:
    """The scoring program: ``score.py INPUT OUTPUT [--bootstrap N] [--seed S]``.

    INPUT holds ``res/`` (the submission, a folder or one zip) and ``ref/`` (the ground-truth
    bundle); OUTPUT receives scores.json, detailed_results.html and results.json.
    """
    parser = argparse.ArgumentParser(prog="score.py", description="lssbench scoring program for Codabench")
    parser.add_argument("input", type=Path, help="folder holding res/ (submission) and ref/ (ground truth)")
    parser.add_argument("output", type=Path, help="folder to write scores.json and detailed_results.html to")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if expected_version and expected_version != __version__:
        print(f"error: this scoring program was built with lssbench {expected_version}, but the docker "
              f"image has lssbench {__version__}; rebuild the bundle or the image", file=sys.stderr)
        return EXIT_INTERNAL

    def body():
        gt = load_reference(args.input / "ref")
        print(f"lssbench {__version__}: scoring against the {gt.split} split ({gt.fingerprint})")
        scored = score(find_submission(args.input / "res"), gt, n_bootstrap=args.bootstrap, seed=args.seed)
        results = scored.results
        for warning in scored.warnings:
            print(f"warning: {warning}")
        print(tasks_line(results))
        values = headline_values(results)
        scores = {score_key(h): values[h.name] for h in HEADLINES if h.name in values}
        args.output.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.output / RESULTS_FILE, results)
        write_text_atomic(args.output / DETAILED_FILE, detailed_results_html(results))
        write_json_atomic(args.output / SCORES_FILE, scores)  # last: its presence means "scored"
        for key, value in scores.items():
            print(f"{key}: {value:.6g}")

    return run_guarded(body)


SCORE_PY = '''#!/usr/bin/env python3
"""lssbench scoring program for Codabench, written by `lssbench codabench bundle`.

Usage: python3 score.py INPUT OUTPUT [--bootstrap N] [--seed S]
INPUT holds res/ (the submission) and ref/ (the ground truth); OUTPUT gets scores.json.
Runs anywhere lssbench {version} is installed, on the platform or off it.
"""
import sys

try:
    from lssbench.platforms.codabench import score_main
except ImportError as error:
    sys.exit(f"error: lssbench is not installed in this docker image ({{error}}); "
             "build the image from lssbench's Dockerfile and set docker_image in competition.yaml")

sys.exit(score_main(sys.argv[1:], expected_version="{version}"))
'''


# --- the bundle --------------------------------------------------------------------------


def competition_yaml(*, title: str, docker_image: str, split: str, start: str) -> dict:
    """The competition.yaml document (Codabench bundle version 2)."""
    columns = [{"title": h.label, "key": score_key(h), "index": i,
                "sorting": "desc" if h.higher_is_better else "asc"} for i, h in enumerate(HEADLINES)]
    return {
        "version": 2,
        "title": title,
        "description": "Foramen detection, stenosis grading and segmentation on lumbar spine MRI, "
                       f"scored by lssbench {__version__}.",
        "image": "logo.png",
        "docker_image": docker_image,
        "enable_detailed_results": True,
        "terms": "pages/terms.md",
        "pages": [{"title": "Overview", "file": "pages/overview.md"},
                  {"title": "Evaluation", "file": "pages/evaluation.md"},
                  {"title": "Data", "file": "pages/data.md"},
                  {"title": "Terms", "file": "pages/terms.md"}],
        "tasks": [{"index": 0, "name": f"lssbench {split}", "description": f"The {split} split",
                   "reference_data": "reference_data", "scoring_program": "scoring_program"}],
        "phases": [{"index": 0, "name": split.capitalize(), "description": f"Predictions on the {split} split",
                    "start": start, "max_submissions_per_day": 5, "execution_time_limit": 1200,
                    "tasks": [0], "starting_kit": "starting_kit", "public_data": "public_data"}],
        "leaderboards": [{"index": 0, "title": "Results", "key": "main", "columns": columns}],
    }


def _pages(split: str) -> dict[str, str]:
    headline_text = "\n".join(f"- **{h.label}** (`{score_key(h)}`, {'higher' if h.higher_is_better else 'lower'} "
                              "is better)" for h in HEADLINES)
    return {
        "pages/overview.md": f"# {DEFAULT_TITLE}\n\nThree tasks on sagittal lumbar MRI: neural foramen detection, "
                             "foraminal stenosis grading and anatomical segmentation. Submit any of them; a task "
                             "you do not submit stays empty on the leaderboard.\n",
        "pages/evaluation.md": f"# Evaluation\n\nEvery submission is validated and scored by lssbench {__version__} "
                               f"against the hidden {split} labels. Leaderboard columns:\n\n{headline_text}\n\n"
                               "An invalid submission fails with the list of its problems in the scoring log. "
                               "Check yours first with `lssbench validate preds.zip --gt public.json`.\n",
        "pages/data.md": "# Data\n\nThe public data holds `public.json` (image IDs, sizes, pixel spacing, COCO ids, "
                         "no labels) and `template.zip`, a valid submission to start from. See "
                         "lssbench's docs/submission.md for the format.\n",
        "pages/terms.md": "# Terms\n\nThe organizers set the terms of this competition here.\n",
    }


def _starting_kit(split: str) -> str:
    return (f"# Starting kit\n\nSubmit a zip of: `detections.csv` (or `detections.json` in the COCO results "
            "format), `grades.csv`, `segmentation/<patient_id>.png`, optional `meta.json` -- any subset "
            "of the tasks. `template.zip` in the public data is a valid submission of the "
            f"{split} split. Validate before you submit:\n\n"
            "    pip install lssbench\n    lssbench validate preds.zip --gt public.json\n\n"
            "YOLO users: `lssbench convert yolo runs/detect/predict/labels --gt public.json --out preds`.\n")


def _organizer_readme(docker_image: str, split: str) -> str:
    return f"""# lssbench competition bundle (for organizers)

Written by lssbench {__version__} for the {split} split. Steps:

1. Build the scoring image from lssbench's source checkout and push it where the workers can pull it:

       docker build -f lssbench/platforms/Dockerfile -t {docker_image} .
       docker push {docker_image}

   If you push it under another name, edit `docker_image` in competition.yaml (or rebuild the
   bundle with `--docker-image`).
2. Upload this zip on Codabench: Benchmarks -> Management -> Upload.
3. Submit `public_data/template.zip` once: it must finish with the template's scores; then
   submit an invalid zip: it must fail, with its problems in the scoring log.

`reference_data/` is the private ground truth: keep this zip private.
Run the scoring program off the platform exactly as the worker does:

    mkdir -p work/input work/output && cp -r reference_data work/input/ref && unzip preds.zip -d work/input/res
    python3 scoring_program/score.py work/input work/output
"""


def _logo() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def _add_folder(archive: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _write(archive, f"{prefix}/{path.relative_to(folder).as_posix()}".lstrip("/"), path.read_bytes())


def _zip_bytes(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add_folder(archive, folder, "")
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes | str) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same inputs, same bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)


def build_bundle(gt_path: str | os.PathLike, out: str | os.PathLike, *, docker_image: str = DEFAULT_IMAGE,
                 title: str = DEFAULT_TITLE, start: str | None = None,
                 n_bootstrap: int = DEFAULT_RESAMPLES) -> Path:
    """Write the Codabench competition bundle of the labelled ground truth at ``gt_path`` to ``out``."""
    import yaml

    from lssbench.submission import write_template

    out = Path(out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the .zip to write")
    gt = load_reference(gt_path)
    start = start or date.today().isoformat()
    document = competition_yaml(title=title, docker_image=docker_image, split=gt.split, start=start)
    command = "python3 $program/score.py $input $output" + (
        f" --bootstrap {n_bootstrap}" if n_bootstrap != DEFAULT_RESAMPLES else "")
    metadata = {"command": command, "description": f"lssbench {__version__} scoring program"}
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="lssbench-codabench-") as tmp, \
            zipfile.ZipFile(buffer, "w") as archive:
        template = _zip_bytes(write_template(gt, Path(tmp) / "template"))
        _write(archive, "competition.yaml", yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        _write(archive, "logo.png", _logo())
        for name, text in _pages(gt.split).items():
            _write(archive, name, text)
        _write(archive, "scoring_program/metadata.yaml", yaml.safe_dump(metadata, sort_keys=False))
        _write(archive, "scoring_program/score.py", SCORE_PY.format(version=__version__))
        _add_folder(archive, gt.path, "reference_data")
        _write(archive, "public_data/public.json", (gt.path / "public.json").read_bytes())
        _write(archive, "public_data/template.zip", template)
        _write(archive, "starting_kit/README.md", _starting_kit(gt.split))
        _write(archive, "README.md", _organizer_readme(docker_image, gt.split))
    write_bytes_atomic(out, buffer.getvalue())
    return out


if __name__ == "__main__":  # pragma: no cover -- python -m lssbench.platforms.codabench INPUT OUTPUT
    sys.exit(score_main())
