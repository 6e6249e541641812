"""Validation rules, one test each, asserting the message a participant sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_submission_support import IMAGE, MASK_SIZE, TEST, TRAIN, make_reference, messages, png_bytes, template

from lssbench.domain import PROBABILITY_COLUMNS
from lssbench.problems import SubmissionError
from lssbench.submission import Limits, load_submission, validate_submission, write_submission

DET_HEADER = "image_id,level,side,score,xmin,ymin,xmax,ymax\n"
GOOD_DET = f"{IMAGE},L3-L4,left,0.9,10,10,20,20\n"


def _problems(sub, limits=Limits()) -> list[str]:
    report = validate_submission(sub, make_reference(), limits)
    assert report.submission is None and not report.ok
    return messages(report)


def _detections(tmp_path, *rows: str, header: str = DET_HEADER):
    sub = template(tmp_path)
    (sub / "detections.csv").write_text(header + "".join(rows))
    return sub


def _grades_with(tmp_path, edit):
    """A template whose grades.csv lines are changed by ``edit(lines)``."""
    sub = template(tmp_path)
    lines = (sub / "grades.csv").read_text().splitlines()
    (sub / "grades.csv").write_text("\n".join(edit(lines)) + "\n")
    return sub


# --- valid submissions -------------------------------------------------------------------


def test_template_is_valid(tmp_path):
    report = validate_submission(template(tmp_path), make_reference())
    assert report.ok and report.warnings == []
    sub = report.submission
    assert sub.tasks == ("detection", "grading", "segmentation")
    assert len(sub.grades) == 30 and sub.detections.empty and set(sub.masks) == set(TEST[:2])
    assert sub.meta["team"] == "your team" and sub.fingerprint.startswith("sha256:")


@pytest.mark.parametrize("keep, tasks", [("grades.csv", ("grading",)), ("detections.csv", ("detection",)),
                                         ("segmentation", ("segmentation",))])
def test_one_task_folder(tmp_path, keep, tasks):
    sub = template(tmp_path)
    for name in ("detections.csv", "grades.csv", "meta.json"):
        if name != keep:
            (sub / name).unlink()
    if keep != "segmentation":
        for mask in (sub / "segmentation").iterdir():
            mask.unlink()
        (sub / "segmentation").rmdir()
    assert load_submission(sub, make_reference()).tasks == tasks


def test_round_trip_through_writer_and_zip(tmp_path):
    detections = pd.DataFrame([[IMAGE, "l3/l4", "R", 0.123456789, 1.5, 2, 30, 40]],
                              columns=["image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax"])
    reference = make_reference()
    grades = load_submission(template(tmp_path), reference).grades.assign(severity=2, p_normal=0.0, p_moderate=1.0)
    masks = {pid: np.full(MASK_SIZE[::-1], 4, dtype=np.uint8) for pid in TEST[:2]}
    out = write_submission(tmp_path / "s.zip", detections=detections, grades=grades, masks=masks)
    sub = load_submission(out, reference)
    assert sub.detections.iloc[0].tolist() == [IMAGE, "L3-L4", "right", 0.123457, 1.5, 2.0, 30.0, 40.0]
    assert (sub.grades["severity"] == 2).all() and (sub.grades["p_moderate"] == 1.0).all()
    assert all((sub.masks[pid] == 4).all() for pid in masks) and sub.meta == {}


def test_fingerprint_ignores_unknown_files_but_not_content(tmp_path):
    sub = template(tmp_path)
    first = load_submission(sub, make_reference()).fingerprint
    (sub / "notes.txt").write_text("hello")
    report = validate_submission(sub, make_reference())
    assert report.submission.fingerprint == first
    assert report.warnings == ["unknown file 'notes.txt' ignored"]
    (sub / "detections.csv").write_text(DET_HEADER + GOOD_DET)
    assert load_submission(sub, make_reference()).fingerprint != first


def test_load_submission_raises_with_all_problems(tmp_path):
    sub = _detections(tmp_path, f"{IMAGE},L9,left,2,1,1,2,2\n")
    with pytest.raises(SubmissionError, match="2 problems") as caught:
        load_submission(sub, make_reference())
    assert len(caught.value.problems) == 2


# --- structure ---------------------------------------------------------------------------


def test_empty_submission(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("x")
    report = validate_submission(tmp_path / "sub", make_reference())
    assert messages(report) == ["empty submission: no detections.csv, detections.json, grades.csv or "
                                "segmentation/<patient_id>.png found"]
    assert report.warnings == ["unknown file 'notes.txt' ignored"]
    (tmp_path / "sub" / "Grades.csv").write_text("x")  # a task file under another name: named, not ignored
    report = validate_submission(tmp_path / "sub", make_reference())
    assert messages(report) == ["found 'Grades.csv'; expected 'grades.csv' (file names are lower-case)"]


def test_task_name_of_the_wrong_kind(tmp_path):
    sub = template(tmp_path)
    (sub / "grades.csv").unlink()
    (sub / "grades.csv").mkdir()
    assert _problems(sub) == ["grades.csv: expected a file, found a folder"]


def test_missing_and_extra_columns(tmp_path):
    sub = _detections(tmp_path, header="image_id,level,side,confidence,xmin,ymin,xmax,ymax\n")
    assert _problems(sub) == [
        "detections.csv: header: missing column 'score'; expected columns image_id, level, side, score, xmin, ymin, xmax, ymax",
        "detections.csv: header: unexpected column 'confidence'; allowed columns image_id, level, side, score, xmin, ymin, xmax, ymax",
    ]


def test_duplicated_column(tmp_path):
    sub = _detections(tmp_path, header=DET_HEADER.strip() + ",score\n")
    assert _problems(sub) == ["detections.csv: header: column 'score' appears 2 times"]


def test_wrong_field_count(tmp_path):
    sub = _detections(tmp_path, GOOD_DET, f"{IMAGE},L3-L4,left,0.9,10,10,20\n")
    assert _problems(sub) == ["detections.csv: row 3: 7 fields, expected 8 as in the header"]


def test_empty_csv(tmp_path):
    sub = _detections(tmp_path, header="")
    assert _problems(sub) == ["detections.csv: row 1: empty file; expected the header image_id,level,side,score,xmin,ymin,xmax,ymax"]


def test_binary_and_non_utf8_csv(tmp_path):
    sub = template(tmp_path)
    (sub / "detections.csv").write_bytes(b"\x89PNG\x00\x00")
    (sub / "grades.csv").write_bytes(b"patient_id,level\xff\n")
    assert _problems(sub) == [
        "detections.csv: binary file (NUL bytes), not UTF-8 text",
        "grades.csv: byte 16: not UTF-8 text (invalid byte 0xff)",
    ]


def test_csv_size_and_row_caps_refuse_unread(tmp_path):
    sub = _detections(tmp_path, GOOD_DET * 5)
    limits = Limits(max_detection_rows=3, max_csv_bytes=10_000)
    assert _problems(sub, limits) == ["detections.csv: more than 3 data rows; refused unread"]
    size = (sub / "detections.csv").stat().st_size
    assert _problems(sub, Limits(max_csv_bytes=size - 1, max_grade_rows=10))[0] == (
        f"detections.csv: file is {size} bytes, over the {size - 1}-byte limit; refused unread"
    )


# --- detections cells --------------------------------------------------------------------


def test_level_and_side_spellings(tmp_path):
    sub = _detections(tmp_path, f"{IMAGE},l3_l4,R,0.9,10,10,20,20\n", f"{IMAGE},L3-4,right,0.9,10,10,20,20\n",
                      f"{IMAGE},L3-L4,links,0.9,10,10,20,20\n")
    assert _problems(sub) == [
        "detections.csv: row 3: level: unknown level 'L3-4'; write L3-L4; expected one of L1-L2, L2-L3, L3-L4, L4-L5, L5-S1 "
        "(also written L3/L4, L3_L4 or l3-l4)",
        "detections.csv: row 4: side: unknown side 'links'; expected left or right (also Left, L, Right, R)",
    ]


def test_unparsable_nan_infinite_and_empty_numbers(tmp_path):
    sub = _detections(tmp_path, f"{IMAGE},L3-L4,left,abc,nan,inf,,20\n")
    assert _problems(sub) == [
        "detections.csv: row 2: score: 'abc' is not a number",
        "detections.csv: row 2: xmin: 'nan' is NaN or infinite; expected a finite number",
        "detections.csv: row 2: ymin: 'inf' is NaN or infinite; expected a finite number",
        "detections.csv: row 2: xmax: empty cell; expected a number",
    ]


def test_score_outside_unit_interval(tmp_path):
    sub = _detections(tmp_path, f"{IMAGE},L3-L4,left,1.5,10,10,20,20\n", f"{IMAGE},L3-L4,left,-0.1,10,10,20,20\n")
    assert _problems(sub) == [
        "detections.csv: row 2: score: 1.5 is outside [0, 1]",
        "detections.csv: row 3: score: -0.1 is outside [0, 1]",
    ]


def test_inverted_and_outside_boxes(tmp_path):
    sub = _detections(tmp_path, f"{IMAGE},L3-L4,left,0.5,50,10,20,20\n", f"{IMAGE},L3-L4,left,0.5,10,10,70,20\n")
    assert _problems(sub) == [  # 50, 10, 20, 20 is no valid x, y, width, height either (50 + 20 > 64): no hint
        "detections.csv: row 2: box xmin 50, ymin 10, xmax 20, ymax 20: corners must satisfy xmin < xmax and ymin < ymax",
        "detections.csv: row 3: box xmin 10, ymin 10, xmax 70, ymax 20 lies outside the 64x48 image "
        "(0 <= x <= width, 0 <= y <= height)",
    ]


def test_unknown_images_and_patients_of_other_splits(tmp_path):
    sub = _detections(tmp_path, f"{TEST[0]}/IM000099,L3-L4,left,0.5,1,1,2,2\n", f"{TRAIN}/IM000001,L3-L4,left,0.5,1,1,2,2\n",
                      "PATIENT1/IM1,L3-L4,left,0.5,1,1,2,2\n")
    assert _problems(sub) == [
        f"detections.csv: row 2: image_id: unknown image {TEST[0]}/IM000099: IM000099 is not an annotated slice of {TEST[0]}",
        f"detections.csv: row 3: image_id: {TRAIN} belongs to the train split, not test",
        "detections.csv: row 4: image_id: 'PATIENT1/IM1' is not an image ID <patient_id>/<slice>, e.g. PATIENT1000513/IM000003",
    ]


def test_duplicate_detections(tmp_path):
    sub = _detections(tmp_path, GOOD_DET, GOOD_DET.replace("0.9", "0.8"), GOOD_DET)
    assert _problems(sub) == ["detections.csv: row 4: duplicate of row 2 (identical detection)"]


def test_problems_capped_per_kind(tmp_path):
    sub = _detections(tmp_path, *[f"{IMAGE},L3-L4,left,{2 + i},10,10,20,20\n" for i in range(25)])
    problems = _problems(sub, Limits(max_problems_per_kind=3))
    assert problems == [
        "detections.csv: row 2: score: 2 is outside [0, 1]",
        "detections.csv: row 3: score: 3 is outside [0, 1]",
        "detections.csv: row 4: score: 4 is outside [0, 1]",
        "detections.csv: ... and 22 more score problems",
    ]


# --- grades ------------------------------------------------------------------------------


def test_grades_without_probabilities_are_valid(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: [line.rsplit(",", 4)[0] for line in lines])
    grades = load_submission(sub, make_reference()).grades
    assert list(grades.columns) == ["patient_id", "level", "side", "severity"]


def test_missing_foramina_and_missing_patient(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: [line for line in lines if TEST[2] not in line][:-1])
    assert _problems(sub) == [
        f"grades.csv: patient {TEST[1]} lacks foramina L5-S1/right; all ten are required",
        f"grades.csv: patient {TEST[2]} is missing; all ten foramina of every patient of the test split are required",
    ]


def test_duplicate_foramen(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: lines + [lines[1].replace(",0,1,", ",2,1,")])
    assert _problems(sub) == [f"grades.csv: row 32: duplicate foramen {TEST[0]} L1-L2 left (first at row 2)"]


def test_bad_severity_and_patient(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: lines + [f"{TRAIN},L1-L2,left,4,1,0,0,0", f"{TEST[0]}x,L1-L2,left,2.5,1,0,0,0"])
    assert _problems(sub) == [
        f"grades.csv: row 32: patient_id: {TRAIN} belongs to the train split, not test",
        f"grades.csv: row 33: patient_id: '{TEST[0]}x' is not a patient ID (PATIENT and 5-7 digits)",
        "grades.csv: row 32: severity: '4' is not a grade; expected one of 0, 1, 2, 3",
        "grades.csv: row 33: severity: '2.5' is not a grade; expected one of 0, 1, 2, 3",
    ]


def test_probabilities_sum_and_range(tmp_path):
    def edit(lines):
        lines[1] = lines[1].replace(",1,0,0,0", ",0.5,0.2,0,0")
        lines[2] = lines[2].replace(",1,0,0,0", ",1.5,-0.5,0,0")
        return lines

    assert _problems(_grades_with(tmp_path, edit)) == [
        "grades.csv: row 3: p_normal: 1.5 is outside [0, 1]",
        "grades.csv: row 3: p_mild: -0.5 is outside [0, 1]",
        "grades.csv: row 2: probabilities sum to 0.7; p_normal + p_mild + p_moderate + p_severe must be 1 within 0.001",
    ]


def test_probability_within_tolerance_accepted(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: [lines[0]] + [l.replace(",1,0,0,0", ",0.9995,0,0,0") for l in lines[1:]])
    assert validate_submission(sub, make_reference()).ok


def test_probability_columns_all_or_none(tmp_path):
    sub = _grades_with(tmp_path, lambda lines: [line.rsplit(",", 1)[0] for line in lines])
    assert _problems(sub) == ["grades.csv: header: probability columns come all four or none; missing p_severe"]
    assert PROBABILITY_COLUMNS[-1] == "p_severe"


# --- masks -------------------------------------------------------------------------------


def _mask_file(sub, pid=TEST[0]):
    return sub / "segmentation" / f"{pid}.png"


def test_missing_and_extra_masks(tmp_path):
    sub = template(tmp_path)
    _mask_file(sub).unlink()
    _mask_file(sub, TRAIN).write_bytes(_mask_file(sub, TEST[1]).read_bytes())
    _mask_file(sub, TEST[2]).write_bytes(_mask_file(sub, TEST[1]).read_bytes())
    assert _problems(sub) == [
        f"segmentation/{TRAIN}.png: extra mask: {TRAIN} belongs to the train split, not test",
        f"segmentation/{TEST[2]}.png: extra mask: {TEST[2]} has no segmentation case",
        f"segmentation/: missing mask {TEST[0]}.png; every segmentation case of the test split needs one",
    ]


def test_mask_wrong_size(tmp_path):
    sub = template(tmp_path)
    _mask_file(sub).write_bytes(png_bytes(np.zeros((10, 20), np.uint8)))
    assert _problems(sub) == [
        f"segmentation/{TEST[0]}.png: mask is 20x10 (width x height), expected 32x24 like the middle slice"
    ]


def test_mask_values_outside_classes(tmp_path):
    sub = template(tmp_path)
    mask = np.zeros(MASK_SIZE[::-1], np.uint8)
    mask[0, :3], mask[1, 0] = 7, 255
    _mask_file(sub).write_bytes(png_bytes(mask))
    assert _problems(sub) == [
        f"segmentation/{TEST[0]}.png: pixel value 7: 3 pixels hold 7; mask values must be class indices 0-5",
        f"segmentation/{TEST[0]}.png: pixel value 255: 1 pixels hold 255; mask values must be class indices 0-5",
    ]


def test_mask_rgb_refused_palette_and_16_bit_accepted(tmp_path):
    sub = template(tmp_path)
    zeros = np.zeros(MASK_SIZE[::-1], np.uint8)
    _mask_file(sub).write_bytes(png_bytes(np.stack([zeros] * 3, axis=-1)))
    assert _problems(sub) == [
        f"segmentation/{TEST[0]}.png: mode 'RGB' refused: a mask holds class indices 0-5 in one channel "
        "(8-bit grayscale 'L'; 'P' is read as raw indices), not colours"
    ]
    _mask_file(sub).write_bytes(png_bytes(zeros + 2, mode="P"))
    _mask_file(sub, TEST[1]).write_bytes(png_bytes(zeros.astype(np.uint16) + 3))
    masks = load_submission(sub, make_reference()).masks
    assert masks[TEST[0]].max() == 2 and masks[TEST[1]].max() == 3 and masks[TEST[1]].dtype == np.uint8


def test_png_that_is_not_a_png(tmp_path):
    sub = template(tmp_path)
    _mask_file(sub).write_bytes(b"GIF89a....")
    _mask_file(sub, TEST[1]).write_bytes(png_bytes(np.zeros(MASK_SIZE[::-1], np.uint8))[:45])
    problems = _problems(sub)
    assert problems[0] == f"segmentation/{TEST[0]}.png: not a PNG file (it does not start with the PNG signature)"
    assert problems[1].startswith(f"segmentation/{TEST[1]}.png: cannot be decoded as a PNG (")


def test_png_pixel_bomb_refused_before_decoding(tmp_path):
    sub = template(tmp_path)
    _mask_file(sub).write_bytes(png_bytes(np.zeros((300, 400), np.uint8)))
    assert _problems(sub, Limits(max_image_pixels=100_000)) == [
        f"segmentation/{TEST[0]}.png: declares 400x300 pixels, over the 100000-pixel limit; refused before decoding"
    ]


# --- meta.json ---------------------------------------------------------------------------


def test_meta_checked_against_schema(tmp_path):
    sub = template(tmp_path)
    (sub / "meta.json").write_text('{"team": "a\\nb", "url": "javascript:alert(1)", "method": 3, "logo": "x"}')
    assert _problems(sub) == [
        "meta.json: team: character 2 is U+000A (a control character); refused: team name: one line of "
        "1-100 characters, no control characters (C0, DEL, C1), line separators or lone surrogates",
        "meta.json: url: url: an http:// or https:// address without spaces",
        "meta.json: method: expected a string, got int",
        "meta.json: unknown key 'logo'; allowed keys team, method, url, description",
    ]


def test_meta_not_json(tmp_path):
    sub = template(tmp_path)
    (sub / "meta.json").write_text('{"team": NaN}')
    assert _problems(sub) == ["meta.json: not valid JSON (NaN is not valid JSON)"]


def test_meta_schema_is_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from lssbench.submission.parse import meta_schema

    jsonschema.Draft202012Validator.check_schema(meta_schema())
    jsonschema.validate({"team": "A", "url": "https://x.org", "description": "two\nlines"}, meta_schema())


# --- against a real ground truth (when the ground-truth module is there) -----------------


def test_template_of_ground_truth_is_valid(tmp_path, request):
    pytest.importorskip("lssbench.groundtruth")
    pytest.importorskip("lssbench.synth")
    from lssbench.submission import write_template

    ground_truth = request.getfixturevalue("ground_truth")
    report = validate_submission(write_template(ground_truth, tmp_path / "t.zip"), ground_truth)
    assert report.ok, messages(report)
