"""Hostile submissions and ground truth through the command line: the exact problem list and exit code.

Most cases are one entry of ``CASES``: a function that spoils a valid template submission
(``sub`` folder, ``gt`` the test ground truth) and returns the path to validate, and the
exact problem lines `lssbench validate` must print (exit code 1). Faults of the scoring
machine (exit 3), the fingerprint and the ground-truth manifest have their own tests below.
See tests/hostile/README.md.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from lssbench.cli import main
from lssbench.jsonio import fingerprint
from lssbench.submission import validate_submission, write_template

DET_HEADER = "image_id,level,side,score,xmin,ymin,xmax,ymax\n"
LEVELS_TEXT = "expected one of L1-L2, L2-L3, L3-L4, L4-L5, L5-S1 (also written L3/L4, L3_L4 or l3-l4)"
ASCII_TEXT = "numbers, levels, sides and IDs are written in plain ASCII"
REMAKE = "make the zip again and upload it again"
TEAM_RULE = ("team name: one line of 1-100 characters, no control characters (C0, DEL, C1), line "
             "separators or lone surrogates")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def problem_lines(output: str) -> list[str]:
    return [line[4:] for line in output.splitlines() if line.startswith("  - ")]


def image(gt) -> str:
    return gt.images["image_id"].iloc[0]


# --- spoilers ------------------------------------------------------------------------------


def detections(*rows: str, header: str = DET_HEADER):
    def spoil(sub: Path, gt) -> Path:
        text = header + "".join(row.format(image=image(gt)) + "\n" for row in rows)
        (sub / "detections.csv").write_text(text, encoding="utf-8")
        return sub
    return spoil


def grade_row(row: int, column: int, value: str):
    """Set one cell of grades.csv (spreadsheet row numbers: the header is row 1)."""
    def spoil(sub: Path, gt) -> Path:
        lines = (sub / "grades.csv").read_text().splitlines()
        cells = lines[row - 1].split(",")
        cells[column] = value
        lines[row - 1] = ",".join(cells)
        (sub / "grades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return sub
    return spoil


def grades_text(edit):
    def spoil(sub: Path, gt) -> Path:
        (sub / "grades.csv").write_text(edit((sub / "grades.csv").read_text()), encoding="utf-8")
        return sub
    return spoil


def meta(text: str):
    def spoil(sub: Path, gt) -> Path:
        (sub / "meta.json").write_text(text, encoding="ascii")
        return sub
    return spoil


def zipped(entries, mutate=None):
    """A zip of ``entries`` [(name, bytes, compression)], its bytes changed by ``mutate``."""
    def spoil(sub: Path, gt) -> Path:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, compression in entries:
                archive.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data,
                                 compress_type=compression)
        data = bytearray(buffer.getvalue())
        if mutate:
            mutate(data)
        path = sub.parent / "s.zip"
        path.write_bytes(bytes(data))
        return path
    return spoil


def _first_data(data: bytearray) -> int:
    """Offset of the first member's data."""
    local = data.find(b"PK\x03\x04")
    name, extra = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + name + extra


def bad_deflate(data: bytearray) -> None:
    data[_first_data(data)] = 0x07  # final block of the reserved type 3


def flip_stored_byte(data: bytearray) -> None:
    data[_first_data(data) + 40] ^= 0x01


def cut_deflate_stream(data: bytearray) -> None:
    """Halve the first member's compressed size in both headers: its stream ends early."""
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    size = struct.unpack_from("<I", data, local + 18)[0]
    struct.pack_into("<I", data, local + 18, size // 2)
    struct.pack_into("<I", data, central + 20, size // 2)


def end_record_says_one(data: bytearray) -> None:
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)


GRADES = "patient_id,level,side,severity\n" + "".join(f"PATIENT{n},L1-L2,left,0\n" for n in range(2000))
DEFLATE, STORE = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED


def l45_everywhere(text: str) -> str:
    return text.replace(",L4-L5,", ",L4-5,")


def cr_rows(sub: Path, gt) -> Path:
    (sub / "detections.csv").write_bytes(DET_HEADER.encode() + b"\r" * 1_000_001)
    return sub


def escape_in_a_mask_name(sub: Path, gt) -> Path:
    (sub / "segmentation" / "\x1b]0;owned\x07.png").write_bytes(b"x")
    return sub


CASES = {
    # 1. damaged zip members
    "bad deflate data": (zipped([("grades.csv", GRADES, DEFLATE)], bad_deflate),
                         [f"grades.csv: the zip member is damaged (its compressed data is corrupt); {REMAKE}"]),
    "CRC mismatch": (zipped([("grades.csv", GRADES, STORE)], flip_stored_byte),
                     [f"grades.csv: the zip member is damaged (its CRC-32 checksum does not match its content); {REMAKE}"]),
    "truncated member": (zipped([("grades.csv", GRADES, DEFLATE)], cut_deflate_stream),
                         ["grades.csv: the zip member is damaged (its data ends before its declared size: the zip is "
                          f"truncated); {REMAKE}"]),
    "upload cut short": (zipped([("grades.csv", GRADES, DEFLATE)], lambda d: d.__delitem__(slice(len(d) // 2, None))),
                         ["s.zip: not a readable zip archive (no end-of-central-directory record: not a zip, or the "
                          "upload was cut short)"]),
    # 2. meta.json text
    "lone surrogate in meta.json": (meta('{"team": "x\\ud800y"}'), [
        f"meta.json: team: character 2 is U+D800 (a lone surrogate, not valid Unicode text); refused: {TEAM_RULE}"]),
    "C1 control in meta.json": (meta('{"team": "x\\u009b2Jy"}'), [
        f"meta.json: team: character 2 is U+009B (a control character); refused: {TEAM_RULE}"]),
    "ESC in meta.json": (meta('{"team": "x\\u001b]0;owned\\u0007"}'), [
        f"meta.json: team: character 2 is U+001B (a control character); refused: {TEAM_RULE}"]),
    "ESC in a file name": (escape_in_a_mask_name, [
        "segmentation/\\x1b]0;owned\\x07.png: extra mask: '\\x1b]0;owned\\x07' is not a patient ID (PATIENT and "
        "5-7 digits)"]),
    # 4. caps that cannot be walked around
    "rows ended by a bare CR": (cr_rows, ["detections.csv: more than 1000000 data rows; refused unread"]),
    "folder entries with an end record saying 1": (
        zipped([(f"d{i}/", b"", STORE) for i in range(10_001)], end_record_says_one),
        ["s.zip: more than 10000 entries (files and folders); refused"]),
    # 10. numbers and IDs are ASCII
    "fullwidth severity": (grade_row(2, 3, "３"), [
        f"grades.csv: row 2: severity: '３': '３' (U+FF13 FULLWIDTH DIGIT THREE) is not ASCII; {ASCII_TEXT}"]),
    "Arabic-Indic severity": (grade_row(3, 3, "٣"), [
        f"grades.csv: row 3: severity: '٣': '٣' (U+0663 ARABIC-INDIC DIGIT THREE) is not ASCII; {ASCII_TEXT}"]),
    "underscore in a number": (detections("{image},L3-L4,left,0.5,1_0,10,30,30"), [
        "detections.csv: row 2: xmin: '1_0' is not a number"]),
    "fullwidth score": (detections("{image},L3-L4,left,０.９,10,10,30,30"), [
        f"detections.csv: row 2: score: '０.９': '０' (U+FF10 FULLWIDTH DIGIT ZERO) is not ASCII; {ASCII_TEXT}"]),
    "long s in a level": (detections("{image},L5-ſ1,left,0.5,10,10,30,30"), [
        f"detections.csv: row 2: level: 'L5-ſ1': 'ſ' (U+017F LATIN SMALL LETTER LONG S) is not ASCII; {ASCII_TEXT}"]),
    "no-break space after a patient ID": (grade_row(2, 0, "PATIENT1913275\u00a0"), [
        "grades.csv: row 2: patient_id: 'PATIENT1913275\\xa0': '\\xa0' (U+00A0 NO-BREAK SPACE) is not ASCII; "
        f"{ASCII_TEXT}"]),
    # 11. extraction errors caused by the submission, without server paths
    "member name too long": (zipped([("a" * 300 + ".csv", b"x", STORE)]), [
        "s.zip: member '" + "a" * 77 + "...': name too long (over 1024 characters, or a part over 255 bytes); refused"]),
    "a file and a folder of one name": (zipped([("grades.csv", b"x", STORE), ("grades.csv/x", b"y", STORE)]), [
        "s.zip: member 'grades.csv/x': cannot be extracted: File exists (its name clashes with another member or "
        "is not a valid file name); refused"]),
    # 15. grouped problems, consequences dropped, hints
    "one bad level in many rows": (grades_text(l45_everywhere), [
        f"grades.csv: rows 8, 9, 18, ... (8 rows): level: unknown level 'L4-5'; write L4-L5; {LEVELS_TEXT}"]),
    "rows of a wrong width": (detections("{image},L3-L4,left,0.5,10,10,30", "{image},L3-L4,left,0.5,10,10,30"), [
        "detections.csv: rows 2 and 3: 7 fields, expected 8 as in the header"]),
    "semicolon-separated CSV": (detections("{image};L3-L4;left;0,5;10;10;30;30", header=DET_HEADER.replace(",", ";")), [
        "detections.csv: header: the columns are separated by ';', not commas; write a comma-separated file with "
        "the header image_id,level,side,score,xmin,ymin,xmax,ymax (pandas: to_csv(path, index=False))"]),
    "missing header row": (grades_text(lambda text: text.split("\n", 1)[1]), [
        "grades.csv: row 1: no column names found (row 1 holds 'PATIENT1913275', 'L1-L2', 'left', '0', ...): it "
        "looks like data, the header row is missing; the first row must be the header patient_id,level,side,severity"]),
    "pandas index column": (detections("0,{image},L3-L4,left,0.5,10,10,30,30", header="," + DET_HEADER), [
        "detections.csv: header: unexpected column '' (an unnamed first column: a pandas index? write with "
        "to_csv(path, index=False)); allowed columns image_id, level, side, score, xmin, ymin, xmax, ymax"]),
    "severity as a word": (grade_row(2, 3, "moderate"), [
        "grades.csv: row 2: severity: 'moderate' is not a grade; write 2 for moderate (grades are 0 normal, "
        "1 mild, 2 moderate, 3 severe)"]),
    ".png in an image_id": (detections("{image}.png,L3-L4,left,0.5,10,10,30,30"), [
        "detections.csv: row 2: image_id: 'PATIENT1913275/IM000005.png' is not an image ID <patient_id>/<slice>, "
        "e.g. PATIENT1000513/IM000003 (drop the '.png' extension: write PATIENT1913275/IM000005)"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_submission_is_invalid_with_its_exact_problems(case, ground_truth, test_bundle, tmp_path):
    spoil, expected = CASES[case]
    assert ground_truth.patients[0] == "PATIENT1913275"  # the messages above name it
    path = spoil(write_template(ground_truth, tmp_path / "sub"), ground_truth)
    code, output = run("validate", str(path), "--gt", str(test_bundle))
    assert code == 1, output
    assert problem_lines(output) == expected, output
    assert str(tmp_path) not in "\n".join(problem_lines(output))
    assert all(line.isprintable() for line in problem_lines(output))  # no raw controls or surrogates


# --- 5. faults of the scoring machine: exit 3, never "invalid" ------------------------------

MACHINE = "error: the scoring machine failed, the input was not judged: "


def _oserror(name: str, path: str = "/tmp/lssbench-sub-x1y2/grades.csv") -> OSError:
    code = getattr(errno, name)
    return OSError(code, {"ENOSPC": "No space left on device", "EDQUOT": "Disk quota exceeded",
                          "ENOMEM": "Cannot allocate memory", "EACCES": "Permission denied"}[name], path)


def _zip_submission(ground_truth, tmp_path) -> str:
    """The template as a zip whose first member is detections.csv."""
    sub = write_template(ground_truth, tmp_path / "sub")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        for path in sorted(p for p in sub.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(sub).as_posix())
    return str(tmp_path / "s.zip")


@pytest.mark.parametrize("name", ["ENOSPC", "EDQUOT", "ENOMEM", "EACCES"])
def test_fault_while_extracting_is_the_machines(name, ground_truth, test_bundle, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise _oserror(name)

    monkeypatch.setattr("lssbench.submission.archive._extract_member", fail)
    for command in ("validate", "evaluate"):
        code, output = run(command, _zip_submission(ground_truth, tmp_path), "--gt", str(test_bundle))
        assert code == 3, output
        strerror = _oserror(name).strerror
        assert output.splitlines()[-1] == f"{MACHINE}{strerror} [{name}] while extracting the submission"
        assert "/tmp/lssbench-sub" not in output and "INVALID" not in output


@pytest.mark.parametrize("name", ["ENOSPC", "EACCES"])
def test_temp_folder_that_cannot_be_made_is_the_machines(name, ground_truth, test_bundle, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise _oserror(name, "/tmp/lssbench-sub-x1y2")

    monkeypatch.setattr("lssbench.submission.archive.tempfile.TemporaryDirectory", fail)
    code, output = run("validate", _zip_submission(ground_truth, tmp_path), "--gt", str(test_bundle))
    assert code == 3, output
    assert output.splitlines()[-1] == (f"{MACHINE}cannot create a temporary folder to extract the submission: "
                                       f"{_oserror(name).strerror} [{name}]")


def test_memory_error_while_reading_is_the_machines(ground_truth, test_bundle, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("lssbench.submission.parse.decode_text", fail)
    code, output = run("validate", str(write_template(ground_truth, tmp_path / "sub")), "--gt", str(test_bundle))
    assert code == 3, output
    assert output.splitlines()[-1] == f"{MACHINE}out of memory while reading detections.csv"


def test_memory_error_while_extracting_is_the_machines(ground_truth, test_bundle, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("lssbench.submission.archive._extract_member", fail)
    code, output = run("evaluate", _zip_submission(ground_truth, tmp_path), "--gt", str(test_bundle))
    assert code == 3, output
    assert output.splitlines()[-1] == f"{MACHINE}out of memory while extracting the submission"


def test_other_extraction_errors_name_the_member_not_the_machines_path(ground_truth, test_bundle, tmp_path,
                                                                       monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.EILSEQ, "Invalid or incomplete multibyte or wide character",
                      "/tmp/lssbench-sub-x1y2/" + "x" * 3000)

    monkeypatch.setattr("lssbench.submission.archive._extract_member", fail)
    code, output = run("validate", _zip_submission(ground_truth, tmp_path), "--gt", str(test_bundle))
    assert code == 1, output
    assert problem_lines(output) == [
        "s.zip: member 'detections.csv': cannot be extracted: Invalid or incomplete multibyte or wide character "
        "(its name clashes with another member or is not a valid file name); refused"]


# --- 8. the fingerprint is that of the bytes parsed ----------------------------------------


def test_fingerprint_is_of_the_bytes_parsed_not_of_a_later_read(ground_truth, tmp_path, monkeypatch):
    from lssbench.submission import validate as validate_module

    sub = write_template(ground_truth, tmp_path / "sub")
    names = ["detections.csv", "grades.csv", "meta.json"] + [f"segmentation/{p}.png" for p in sorted(ground_truth.cases)]
    parsed = {name: hashlib.sha256((sub / name).read_bytes()).hexdigest() for name in names}
    real = validate_module.read_csv_table

    def read_then_change(path, rel, *args):
        table = real(path, rel, *args)
        Path(path).write_text(Path(path).read_text() + "\n\n")  # changed after it was parsed
        return table

    monkeypatch.setattr(validate_module, "read_csv_table", read_then_change)
    report = validate_submission(sub, ground_truth)
    assert report.ok, report.problems
    assert report.submission.files == parsed
    assert report.submission.fingerprint == fingerprint(parsed)
    assert hashlib.sha256((sub / "grades.csv").read_bytes()).hexdigest() != parsed["grades.csv"]


# --- 9. an edited ground-truth manifest is refused as damaged ------------------------------


def _edited_bundle(test_bundle, tmp_path, edit) -> Path:
    bundle = tmp_path / "gt"
    shutil.copytree(test_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


EDITED = "; the manifest was edited or damaged -- prepare the bundle again"


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["patients"].pop(), [
        f"manifest.json: patients: 3 listed, but its images and cases hold 4 (or other ones){EDITED}",
        f"manifest.json: patients: differ from those of public.json{EDITED}"]),
    (lambda m: m.update(split="val"), [
        f"manifest.json: split: 'val', but public.json says 'test'{EDITED}",
        f"manifest.json: split: 'val', but detection.json says 'test'{EDITED}"]),
    (lambda m: m.pop("patients"), [f"manifest.json: patients: missing field{EDITED}"]),
    (lambda m: m.update(patients="PATIENT1913275"), [f"manifest.json: patients: expected a JSON list, got str{EDITED}"]),
])
def test_edited_manifest_is_refused_as_damaged(edit, expected, test_bundle, sample_submissions, tmp_path):
    bundle = _edited_bundle(test_bundle, tmp_path, edit)
    code, output = run("evaluate", str(sample_submissions["perfect"]), "--gt", str(bundle), "--bootstrap", "0")
    assert code == 1, output
    assert f"error: ground-truth bundle {bundle} is damaged" in output
    assert problem_lines(output) == expected, output


def test_unlistable_folder_is_the_machines(ground_truth, test_bundle, tmp_path, monkeypatch):
    from lssbench.submission import validate as validate_module

    def fail(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/uploads/team")

    monkeypatch.setattr(validate_module, "_survey", fail)
    code, output = run("validate", str(write_template(ground_truth, tmp_path / "sub")), "--gt", str(test_bundle))
    assert code == 3, output
    assert output.splitlines()[-1] == f"{MACHINE}Permission denied [EACCES] while reading the submission"
