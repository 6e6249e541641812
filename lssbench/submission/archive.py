"""Open a submission folder or ``.zip`` safely; the upload is treated as hostile.

A folder is used in place after a walk that refuses symbolic links and special files
(never followed) and enforces the file-count and size caps. A zip is extracted into a
temporary folder removed on exit, refusing absolute or ``..`` member names, symbolic
links, encrypted members, duplicate names, and zip bombs (declared sizes, compression
ratio and the bytes actually written are all checked against :class:`Limits`).
Nested zips are extracted as plain files and never opened. Every entry of the central
directory (folders and OS litter included) is counted against ``max_files`` by a bounded
walk before :mod:`zipfile` parses it; the end record's own count is not trusted.

A fault of the scoring machine (disk full, out of memory, permissions on the temporary
folder) raises :class:`~lssbench.problems.ScoringMachineError`, never a problem of the
submission; problem messages never carry a path of the scoring machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from lssbench.domain import SUBMISSION_NAMES
from lssbench.problems import Problem, ScoringMachineError, SubmissionError, UsageError, machine_fault

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Hard caps applied to every submission (see docs/submission.md)."""

    max_total_bytes: int = 1024 * MiB  # unpacked size of all files
    max_files: int = 10_000  # entries: files and folders
    max_directory_bytes: int = 64 * MiB  # a zip's central directory (zipfile reads it whole)
    max_compression_ratio: float = 200.0  # per zip member, above ratio_min_bytes
    ratio_min_bytes: int = 1 * MiB
    max_csv_bytes: int = 100 * MiB
    max_detection_rows: int = 1_000_000
    max_grade_rows: int = 100_000
    max_meta_bytes: int = 64 * 1024
    max_image_pixels: int = 64 * MiB  # below Pillow's default MAX_IMAGE_PIXELS
    max_problems_per_kind: int = 20


DEFAULT_LIMITS = Limits()
#: Names at a submission's root that mark it as the content root.
KNOWN_ROOT_NAMES = SUBMISSION_NAMES
#: Operating-system litter: skipped when extracting, never reported.
JUNK_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
#: Longest member name part (bytes of UTF-8, the usual NAME_MAX) and whole name (characters).
MAX_NAME_PART_BYTES = 255
MAX_NAME_CHARS = 1024
#: errno names of extraction failures caused by a member's name (the submission's fault).
_NAME_ERRNOS = frozenset({"ENAMETOOLONG", "EEXIST", "ENOTDIR", "EISDIR", "EILSEQ", "EINVAL"})


def _mb(n: int) -> str:
    return f"{n / MiB:.1f} MB" if n >= MiB // 10 else f"{n} bytes"


def _short(name: str, limit: int = 80) -> str:
    """A member name cut to ``limit`` characters for a message."""
    return name if len(name) <= limit else name[: limit - 3] + "..."


def _archive_problem(archive: Path, member: str, message: str) -> Problem:
    return Problem(archive.name, f"member {_short(member)!r}" if member else "", message)


# --- folders -----------------------------------------------------------------------------


def _check_folder(root: Path, limits: Limits) -> list[Problem]:
    """Walk ``root`` without following links; refuse links, special files, caps exceeded."""
    problems, count, total = [], 0, 0

    def fail(exc: OSError):
        raise machine_fault(exc, "reading the submission folder") or exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            count += 1  # files and folders alike
            if stat.S_ISLNK(info.st_mode):
                problems.append(Problem(rel, "", _link_message(path, root)))
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
            elif not stat.S_ISDIR(info.st_mode):
                problems.append(Problem(rel, "", "not a regular file (device, socket or pipe); refused"))
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        if count > limits.max_files or total > limits.max_total_bytes:
            break
    problems += _cap_problems(root.name, count, total, limits)
    return problems


def _link_message(path: Path, root: Path) -> str:
    target = os.readlink(path)
    resolved = os.path.realpath(path)
    inside = resolved == str(root.resolve()) or resolved.startswith(str(root.resolve()) + os.sep)
    where = "inside" if inside else "outside"
    return (
        f"symbolic link to {target!r} ({where} the submission); links are refused and never "
        "followed -- submit plain files"
    )


def _cap_problems(name: str, count: int, total: int, limits: Limits) -> list[Problem]:
    problems = []
    if count > limits.max_files:
        problems.append(Problem(name, "", f"more than {limits.max_files} entries (files and folders); refused"))
    if total > limits.max_total_bytes:
        problems.append(
            Problem(name, "", f"files total more than {_mb(limits.max_total_bytes)}; refused")
        )
    return problems


# --- zips --------------------------------------------------------------------------------


def _member_parts(name: str) -> tuple[str, ...] | None:
    """Path parts of a member name, or None when it is absolute or escapes with ``..``."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or _DRIVE.match(clean) or "\x00" in clean:
        return None
    parts = tuple(p for p in PurePosixPath(clean).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


def _member_problem(info: zipfile.ZipInfo, parts, limits: Limits) -> str | None:
    """Why one member is refused, or None."""
    if parts is None:
        return "absolute path or '..' in the name (path escape); refused"
    longest = max((len(p.encode("utf-8", "surrogatepass")) for p in parts), default=0)
    if len(info.filename) > MAX_NAME_CHARS or longest > MAX_NAME_PART_BYTES:
        return (f"name too long (over {MAX_NAME_CHARS} characters, or a part over "
                f"{MAX_NAME_PART_BYTES} bytes); refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link; links are refused -- submit plain files"
    if info.flag_bits & 0x1:
        return "encrypted member; submissions must not be password-protected"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compression method {info.compress_type} unsupported; use deflate or store"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_min_bytes and ratio > limits.max_compression_ratio:
        return (
            f"compression ratio {ratio:.0f}:1 over the {limits.max_compression_ratio:.0f}:1 "
            "limit (zip bomb?); refused"
        )
    return None


def _scan_zip(archive: Path, members, limits: Limits) -> tuple[list, list[Problem]]:
    """(members to extract with their parts, problems) from the central directory."""
    problems, keep, seen, declared = [], [], set(), 0
    for info in members:
        if len(problems) >= limits.max_problems_per_kind:
            problems.append(Problem(archive.name, "", "... and more refused members"))
            break
        parts = _member_parts(info.filename)
        if parts is not None and (not parts or any(p in JUNK_NAMES for p in parts)):
            continue
        why = _member_problem(info, parts, limits)
        key = "/".join(parts or ()).lower()
        if why is None and key in seen:
            why = "duplicate member name; refused"
        if why:
            problems.append(_archive_problem(archive, info.filename, why))
            continue
        seen.add(key)
        declared += info.file_size
        keep.append((info, parts))
    problems += _cap_problems(archive.name, 0, declared, limits)
    return keep, problems


class DamagedMember(Exception):
    """A member's data cannot be read back; ``str()`` says why."""


#: Errors of the zip reader while decompressing a member.
_READ_ERRORS = (zlib.error, zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError)


def _extract_member(zf, info, target: Path, budget: int) -> int:
    """Copy one member, counting real bytes; OverflowError past ``budget``, DamagedMember
    when its data is corrupt, fails its CRC-32 or ends early."""
    written, source = 0, None
    with open(target, "xb") as sink:
        try:
            with zf.open(info) as source:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > budget or written > info.file_size:
                        raise OverflowError(written)
                    sink.write(chunk)
        except _READ_ERRORS as exc:
            raise DamagedMember(_damage(exc, short=_stream_cut(source))) from None
    return written


def _stream_cut(source) -> bool:
    """True when a member's compressed bytes ran out before its deflate stream ended."""
    decompressor = getattr(source, "_decompressor", None)  # zipfile.ZipExtFile internals, 3.8-3.13
    used_up = getattr(source, "_compress_left", 1) <= 0
    return used_up and decompressor is not None and not getattr(decompressor, "eof", True)


def _damage(exc: BaseException, short: bool) -> str:
    """What is wrong with a member whose data cannot be read back."""
    text = str(exc)
    if isinstance(exc, zlib.error):
        why = "its compressed data is corrupt"
    elif isinstance(exc, EOFError) or short and "CRC" in text:
        why = "its data ends before its declared size: the zip is truncated"
    elif "CRC" in text:
        why = "its CRC-32 checksum does not match its content"
    else:
        why = text[:120]
    return f"the zip member is damaged ({why}); make the zip again and upload it again"


def _extract(archive: Path, zf: zipfile.ZipFile, dest: Path, limits: Limits) -> list[Problem]:
    keep, problems = _scan_zip(archive, zf.infolist(), limits)
    if problems:
        return problems
    budget = limits.max_total_bytes
    for info, parts in keep:
        target = dest.joinpath(*parts)
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            budget -= _extract_member(zf, info, target, budget)
        except OverflowError:
            return [_archive_problem(archive, info.filename, (
                "expands beyond its declared size or the "
                f"{_mb(limits.max_total_bytes)} limit (zip bomb?); extraction stopped"))]
        except DamagedMember as exc:
            return [Problem(_short(info.filename), "", str(exc))]
        except _READ_ERRORS as exc:  # a bad local header, found when the member is opened
            return [Problem(_short(info.filename), "", _damage(exc, short=False))]
        except OSError as exc:
            return [_extraction_oserror(archive, info.filename, exc)]
    return []


def _extraction_oserror(archive: Path, member: str, exc: OSError) -> Problem:
    """A problem when the member's name caused ``exc``; else the scoring machine failed."""
    name = errno.errorcode.get(exc.errno or -1, "")
    if name in _NAME_ERRNOS:
        return _archive_problem(archive, member, (
            f"cannot be extracted: {exc.strerror or name} (its name clashes with another member "
            "or is not a valid file name); refused"))
    raise machine_fault(exc, "extracting the submission") or ScoringMachineError(
        f"{exc.strerror or type(exc).__name__} [{name or 'no errno'}] while extracting the submission")


def count_zip_entries(archive: Path, stop: int) -> tuple[int, int]:
    """(entries, declared bytes) of the central directory, walked as :mod:`zipfile` reads it.

    Reads one fixed-size record header at a time (bounded memory, fast) and stops once
    ``stop`` is passed; the end record's own entry count is ignored. A damaged directory
    ends the count early (zipfile then reports the damage).
    """
    with open(archive, "rb") as handle:
        end = zipfile._EndRecData(handle)  # noqa: SLF001 -- stable since Python 2
        if not end:
            raise zipfile.BadZipFile("no end-of-central-directory record: not a zip, or the upload was cut short")
        size = end[zipfile._ECD_SIZE]  # noqa: SLF001
        start = end[zipfile._ECD_LOCATION] - size  # noqa: SLF001
        if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # noqa: SLF001
            start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
        if start < 0:
            raise zipfile.BadZipFile("bad offset for central directory")
        handle.seek(start)
        count = total = 0
        while total < size and count <= stop:
            head = handle.read(zipfile.sizeCentralDir)
            if len(head) != zipfile.sizeCentralDir or head[:4] != zipfile.stringCentralDir:
                break
            name, extra, comment = struct.unpack_from("<HHH", head, 28)
            handle.seek(name + extra + comment, os.SEEK_CUR)
            total += zipfile.sizeCentralDir + name + extra + comment
            count += 1
    return count, size


def _open_zip(archive: Path, dest: Path, limits: Limits) -> list[Problem]:
    size = archive.stat().st_size
    if size > limits.max_total_bytes:
        return _cap_problems(archive.name, 0, size, limits)
    try:
        entries, directory = count_zip_entries(archive, limits.max_files)
        if entries > limits.max_files:
            return _cap_problems(archive.name, limits.max_files + 1, 0, limits)
        if directory > limits.max_directory_bytes:
            return [Problem(archive.name, "", f"central directory of {_mb(directory)} is over the "
                                              f"{_mb(limits.max_directory_bytes)} limit; refused")]
        with zipfile.ZipFile(archive) as zf:
            return _extract(archive, zf, dest, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error) as exc:
        return [Problem(archive.name, "", f"not a readable zip archive ({str(exc)[:200]})")]
    except OSError as exc:
        raise machine_fault(exc, "reading the uploaded zip") or ScoringMachineError(
            f"{exc.strerror or type(exc).__name__} while reading the uploaded zip") from None


# --- both --------------------------------------------------------------------------------


def content_root(folder: Path) -> Path:
    """``folder``, or its single top folder when the files sit one level down."""
    entries = [p for p in folder.iterdir() if p.name not in JUNK_NAMES]
    if any(p.name in KNOWN_ROOT_NAMES for p in entries):
        return folder
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


@contextlib.contextmanager
def open_submission(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> Iterator[Path]:
    """Yield the content folder of a submission folder or ``.zip``; SubmissionError if unsafe."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"submission not found: {path}")
    if path.is_dir() and not path.is_symlink():
        problems = _check_folder(path, limits)
        if problems:
            raise SubmissionError(f"submission {path} refused", problems)
        yield content_root(path)
        return
    if path.is_symlink() or not path.is_file():
        raise SubmissionError(
            f"submission {path} refused",
            [Problem(path.name, "", "neither a folder nor a regular .zip file")],
        )
    if path.suffix.lower() != ".zip":
        raise SubmissionError(
            f"submission {path} refused",
            [Problem(path.name, "", "a submission is a folder or a .zip of one")],
        )
    try:
        scratch = tempfile.TemporaryDirectory(prefix="lssbench-sub-", ignore_cleanup_errors=True)
    except OSError as exc:  # TMPDIR full, missing or not ours: the machine's fault
        raise ScoringMachineError(
            f"cannot create a temporary folder to extract the submission: {exc.strerror or exc} "
            f"[{errno.errorcode.get(exc.errno or -1, 'no errno')}]") from None
    with scratch as tmp:
        try:
            problems = _open_zip(path, Path(tmp), limits)
        except MemoryError:
            raise ScoringMachineError("out of memory while extracting the submission") from None
        if problems:
            raise SubmissionError(f"submission {path} refused", problems)
        yield content_root(Path(tmp))


__all__ = ["DEFAULT_LIMITS", "JUNK_NAMES", "Limits", "content_root", "count_zip_entries", "open_submission"]
