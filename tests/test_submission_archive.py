"""Safe opening: folders and zips, hostile archives refused with SubmissionError."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from test_submission_support import make_reference, messages, template

from lssbench.problems import SubmissionError, UsageError
from lssbench.submission import Limits, open_submission, validate_submission
from lssbench.submission.archive import _extract_member


def _zip(path: Path, members: dict[str, bytes], **kwargs) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, **kwargs) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _refused(path, limits=Limits()) -> list[str]:
    with pytest.raises(SubmissionError) as caught:
        with open_submission(path, limits):
            pass
    return [str(p) for p in caught.value.problems]


def test_folder_opens_in_place(tmp_path):
    sub = template(tmp_path)
    with open_submission(sub) as folder:
        assert folder == sub


def test_zip_extracted_to_temp_and_removed(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"x"})
    with open_submission(archive) as folder:
        assert (folder / "grades.csv").read_bytes() == b"x"
        kept = folder
    assert not kept.exists()


def test_zip_with_one_top_folder_and_macos_litter(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"team/grades.csv": b"x", "__MACOSX/team/._grades.csv": b"y"})
    with open_submission(archive) as folder:
        assert folder.name == "team" and (folder / "grades.csv").exists()
        assert not (folder.parent / "__MACOSX").exists()


def test_missing_path_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="submission not found"):
        with open_submission(tmp_path / "nope.zip"):
            pass


def test_not_a_zip(tmp_path):
    fake = tmp_path / "s.zip"
    fake.write_bytes(b"PK but not really a zip")
    assert _refused(fake) == ["s.zip: not a readable zip archive (no end-of-central-directory record: not a zip, or the upload was cut short)"]


def test_other_file_types_refused(tmp_path):
    other = tmp_path / "s.tar"
    other.write_bytes(b"x")
    assert _refused(other) == ["s.tar: a submission is a folder or a .zip of one"]


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/evil.csv", "..\\evil.csv"])
def test_zip_slip_refused(tmp_path, name):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"x", name: b"boom"})
    assert _refused(archive) == [
        f"s.zip: member {name!r}: absolute path or '..' in the name (path escape); refused"
    ]
    assert not (tmp_path / "evil.csv").exists()


def test_zip_symlink_refused(tmp_path):
    info = zipfile.ZipInfo("grades.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        archive.writestr(info, "/etc/passwd")
    assert _refused(tmp_path / "s.zip") == [
        "s.zip: member 'grades.csv': symbolic link; links are refused -- submit plain files"
    ]


def test_encrypted_member_refused(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"x"})
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the encryption bit
        at = data.find(signature)
        data[at + offset] |= 0x1
    archive.write_bytes(bytes(data))
    assert _refused(archive) == [
        "s.zip: member 'grades.csv': encrypted member; submissions must not be password-protected"
    ]


def test_zip_bomb_ratio_refused(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"0" * 200_000})
    limits = Limits(ratio_min_bytes=1000, max_compression_ratio=50)
    (problem,) = _refused(archive, limits)
    assert problem.startswith("s.zip: member 'grades.csv': compression ratio ")
    assert problem.endswith(":1 over the 50:1 limit (zip bomb?); refused")


def test_zip_total_size_cap_from_declared_sizes(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"a.csv": b"1" * 3000, "b.csv": b"2" * 3000})
    assert _refused(archive, Limits(max_total_bytes=5000)) == ["s.zip: files total more than 5000 bytes; refused"]


def test_zip_lying_header_stopped_while_extracting(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"A" * 50_000})
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # declare 100 bytes
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert _refused(archive) == ["grades.csv: the zip member is damaged (its CRC-32 checksum does not match its "
                                 "content); make the zip again and upload it again"]


def test_extraction_counts_real_bytes_against_the_budget(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"grades.csv": b"A" * 200_000})
    with zipfile.ZipFile(archive) as handle, pytest.raises(OverflowError):
        _extract_member(handle, handle.getinfo("grades.csv"), tmp_path / "out", budget=70_000)
    assert (tmp_path / "out").stat().st_size <= 70_000


def test_zip_file_count_cap(tmp_path):
    archive = _zip(tmp_path / "s.zip", {f"segmentation/{i}.png": b"" for i in range(12)})
    assert _refused(archive, Limits(max_files=10)) == ["s.zip: more than 10 entries (files and folders); refused"]


def test_duplicate_member_refused(tmp_path):
    with pytest.warns(UserWarning):
        archive = _zip(tmp_path / "s.zip", {"grades.csv": b"x"})
        with zipfile.ZipFile(archive, "a") as handle:
            handle.writestr("grades.csv", b"y")
    assert _refused(archive) == ["s.zip: member 'grades.csv': duplicate member name; refused"]


def test_nested_zip_not_extracted(tmp_path):
    inner = _zip(tmp_path / "inner.zip", {"grades.csv": b"x"}).read_bytes()
    outer = _zip(tmp_path / "s.zip", {"inner.zip": inner})
    report = validate_submission(outer, make_reference())
    assert "nested archive 'inner.zip' not extracted; ignored" in report.warnings
    assert messages(report) == [
        "empty submission: no detections.csv, detections.json, grades.csv or segmentation/<patient_id>.png found"
    ]


def test_folder_symlink_outside_refused_never_followed(tmp_path):
    sub = template(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_text("top secret")
    (sub / "grades.csv").unlink()
    os.symlink(secret, sub / "grades.csv")
    assert _refused(sub) == [
        f"grades.csv: symbolic link to {str(secret)!r} (outside the submission); links are refused "
        "and never followed -- submit plain files"
    ]


def test_folder_file_count_cap(tmp_path):
    sub = template(tmp_path)
    assert _refused(sub, Limits(max_files=2)) == ["sub: more than 2 entries (files and folders); refused"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_folder_fifo_refused(tmp_path):
    sub = template(tmp_path)
    os.mkfifo(sub / "pipe")
    assert _refused(sub) == ["pipe: not a regular file (device, socket or pipe); refused"]


def test_zip_entries_counted_from_the_directory_not_the_end_record(tmp_path):
    archive = _zip(tmp_path / "s.zip", {f"d{i}/": b"" for i in range(12)})
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # the end record says 1 entry
    archive.write_bytes(bytes(data))
    assert _refused(archive, Limits(max_files=10)) == ["s.zip: more than 10 entries (files and folders); refused"]


def test_zip_central_directory_size_cap(tmp_path):
    archive = _zip(tmp_path / "s.zip", {f"{'x' * 200}{i}.csv": b"" for i in range(10)})
    assert _refused(archive, Limits(max_directory_bytes=1000)) == [
        "s.zip: central directory of 2510 bytes is over the 1000 bytes limit; refused"]  # 10 x (46 + 205)
