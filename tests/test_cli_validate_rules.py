"""Every validation rule through the command line: the message a participant reads and exit code 1."""

import io
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lssbench.cli import main
from lssbench.submission import write_template

HEADER = "image_id,level,side,score,xmin,ymin,xmax,ymax\n"


def _first(ground_truth):
    image = ground_truth.images.iloc[0]
    return image["image_id"], int(image["width"]), int(image["height"])


def _detections(rows):
    return lambda sub, gt: (sub / "detections.csv").write_text(HEADER + "".join(r + "\n" for r in rows(gt)))


def _grades(edit):
    def apply(sub, gt):
        lines = (sub / "grades.csv").read_text().splitlines()
        (sub / "grades.csv").write_text("\n".join(edit(lines)) + "\n")
    return apply


def _mask(make):
    def apply(sub, gt):
        pid = sorted(gt.cases)[0]
        case = gt.cases[pid]
        make(sub / "segmentation" / f"{pid}.png", int(case["width"]), int(case["height"]))
    return apply


def _train_patient_row(gt):
    from lssbench.splits import assign_split

    pid = next(f"PATIENT{n:07d}" for n in range(1000000, 1100000) if assign_split(f"PATIENT{n:07d}") == "train")
    return [f"{pid}/IM000001,L3-L4,left,0.5,10,10,30,30"]


def _drop_all_masks(sub, gt):
    for png in (sub / "segmentation").iterdir():
        png.unlink()
    (sub / "segmentation").rmdir()
    (sub / "detections.csv").unlink()
    (sub / "grades.csv").unlink()


RULES = {
    "missing column": (lambda sub, gt: (sub / "detections.csv").write_text("image_id,level,side,xmin,ymin,xmax,ymax\n"),
                       "header: missing column 'score'"),
    "unparsable number": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,high,10,10,30,30"]),
                          "score: 'high' is not a number"),
    "NaN": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,0.5,nan,10,30,30"]),
            "xmin: 'nan' is NaN or infinite"),
    "score outside [0, 1]": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,1.5,10,10,30,30"]),
                             "score: 1.5 is outside [0, 1]"),
    "inverted box": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,0.5,30,10,20,30"]),
                     "corners must satisfy xmin < xmax and ymin < ymax"),
    "box outside the image": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,0.5,10,10,{_first(gt)[1] + 5},30"]),
                              "lies outside the"),
    "unknown level": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L6,left,0.5,10,10,30,30"]),
                      "unknown level 'L3-L6'"),
    "train patient": (_detections(_train_patient_row), "belongs to the train split, not test"),
    "duplicated row": (_detections(lambda gt: [f"{_first(gt)[0]},L3-L4,left,0.5,10,10,30,30"] * 2),
                       "duplicate of row 2"),
    "missing foramina": (_grades(lambda lines: lines[:-1]), "all ten are required"),
    "severity out of range": (_grades(lambda lines: [lines[0], lines[1].replace(",0,1,0,0,0", ",4,1,0,0,0")] + lines[2:]),
                              "'4' is not a grade"),
    "probabilities do not sum to 1": (
        _grades(lambda lines: [lines[0], lines[1].replace(",0,1,0,0,0", ",0,0.5,0,0,0")] + lines[2:]),
        "probabilities sum to 0.5"),
    "mask of the wrong size": (_mask(lambda path, w, h: Image.fromarray(np.zeros((h, w + 1), np.uint8)).save(path)),
                               "expected"),
    "mask values": (_mask(lambda path, w, h: Image.fromarray(np.full((h, w), 7, np.uint8)).save(path)),
                    "mask values must be class indices 0-5"),
    "RGB mask": (_mask(lambda path, w, h: Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path)),
                 "mode 'RGB' refused"),
    "not a PNG": (_mask(lambda path, w, h: path.write_text("hello")), "not a PNG file"),
    "binary CSV": (lambda sub, gt: (sub / "grades.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"),
                   "grades.csv: binary file"),
    "empty submission": (_drop_all_masks, "empty submission"),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_gives_its_message_and_exit_code_1(rule, ground_truth, test_bundle, tmp_path):
    edit, expected = RULES[rule]
    sub = write_template(ground_truth, tmp_path / "sub")
    edit(sub, ground_truth)
    result = CliRunner().invoke(main, ["validate", str(sub), "--gt", str(test_bundle)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output


def _zip(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name, payload, expected", [
    ("slip.zip", _zip([("../evil.csv", "x")]), "path escape"),
    ("bomb.zip", None, "zip bomb"),
    ("fake.zip", b"not a zip at all", "not a readable zip archive"),
])
def test_hostile_archives_are_refused_with_exit_code_1(name, payload, expected, test_bundle, tmp_path):
    if payload is None:  # 100 MB of zeros compressed to about 100 kB
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("grades.csv", b"\0" * (100 << 20))
        payload = buffer.getvalue()
    path = tmp_path / name
    path.write_bytes(payload)
    result = CliRunner().invoke(main, ["validate", str(path), "--gt", str(test_bundle)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
