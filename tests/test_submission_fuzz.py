"""Hostile inputs: random and truncated bytes never raise anything but a report."""

from __future__ import annotations

import random
import zipfile

import pytest
from test_submission_support import TEST, make_reference, template

from lssbench.problems import SubmissionError
from lssbench.submission import load_submission, validate_submission

TARGETS = ["detections.csv", "grades.csv", "meta.json", f"segmentation/{TEST[0]}.png"]


def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    flipped = bytearray(data)
    for _ in range(max(1, len(data) // 50)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    return [
        rng.randbytes(rng.randrange(1, 400)),
        data[: rng.randrange(len(data))],
        bytes(flipped),
        data + rng.randbytes(50),
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzzed_files_give_reports_not_tracebacks(tmp_path, target):
    rng = random.Random(target)
    sub = template(tmp_path)
    original = (sub / target).read_bytes()
    reference = make_reference()
    for data in _mutations(original, rng) * 2:
        (sub / target).write_bytes(data)
        report = validate_submission(sub, reference)
        assert report.ok == (report.submission is not None)
        assert all(str(p) for p in report.problems)


def test_fuzzed_zips_give_reports_not_tracebacks(tmp_path):
    rng = random.Random(0)
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(template(tmp_path).rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(tmp_path / "sub").as_posix())
    original = archive.read_bytes()
    for data in _mutations(original, rng) * 3:
        archive.write_bytes(data)
        try:
            load_submission(archive, make_reference())
        except SubmissionError as exc:
            assert exc.problems
