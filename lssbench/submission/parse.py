"""Readers for submission files: bytes -> text, CSV -> string table, PNG -> mask, JSON -> dict.

Nothing here trusts its input. Every failure becomes a :class:`Problem` in a
:class:`ProblemLog` (capped per file and kind), never an exception. CSV cells are read
as strings and converted by one helper, :meth:`Table.cells`, so each bad cell is named
by its row: the spreadsheet row, counting the header as row 1; one bad value repeated in
many rows is one problem naming those rows. Every file is read once, and the sha256 of
exactly the bytes parsed is kept in :attr:`ProblemLog.hashes` (the submission's
fingerprint is made of those). Cells are trimmed of ASCII whitespace only, and every
cell parsed (numbers, levels, sides, IDs) must be ASCII.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from lssbench.dataset.masks import value_counts
from lssbench.domain import GRADE_NAMES, GRADES, NUM_SEGMENTATION_CLASSES, PATIENT_ID_PATTERN
from lssbench.problems import Problem
from lssbench.submission.archive import DEFAULT_LIMITS, Limits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Mask modes read as raw class indices ('P' ignores its palette); colour modes are refused.
MASK_MODES = ("L", "P", "1", "I;16", "I;16B", "I;16L", "I")
MAX_CLASS = NUM_SEGMENTATION_CLASSES - 1
#: What a cell is trimmed of: ASCII whitespace only (other spaces make the cell non-ASCII).
ASCII_SPACE = " \t\r\n\x0b\x0c"
#: Rows listed by number in a grouped problem before "...".
ROWS_SHOWN = 3


# --- problems ----------------------------------------------------------------------------


class ProblemLog:
    """Collects problems, keeping the first ``cap`` per (file, kind) and counting the rest."""

    def __init__(self, cap: int = DEFAULT_LIMITS.max_problems_per_kind):
        self.cap = cap
        self._entries: list[tuple[tuple[str, str], Problem]] = []
        self._counts: Counter = Counter()
        self.warnings: list[str] = []
        self.hashes: dict[str, str] = {}  # relative path -> sha256 of the bytes parsed

    def add(self, file: str, location: str, message: str, kind: str = "") -> None:
        key = (file, kind or message)
        self._counts[key] += 1
        if self._counts[key] <= self.cap:
            self._entries.append((key, Problem(file, location, message)))

    def room(self, file: str, kind: str) -> int:
        """How many more problems of this kind will be listed."""
        return max(self.cap - self._counts[(file, kind)], 0)

    def skip(self, file: str, kind: str, count: int) -> None:
        """Count ``count`` problems of a kind without listing them."""
        self._counts[(file, kind)] += count

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def problems(self) -> list[Problem]:
        """The listed problems, each capped kind followed by "... and N more"."""
        last = {key: i for i, (key, _) in enumerate(self._entries)}
        out = []
        for i, (key, problem) in enumerate(self._entries):
            out.append(problem)
            hidden = self._counts[key] - self.cap
            if last[key] == i and hidden > 0:
                out.append(Problem(key[0], "", f"... and {hidden} more {key[1]} problems"))
        return out


# --- text and CSV ------------------------------------------------------------------------


def read_bytes(path: Path, rel: str, max_bytes: int, log: ProblemLog) -> bytes | None:
    """The bytes of a file (read once, hashed into ``log.hashes``), or None over ``max_bytes``."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1) if size <= max_bytes else b""
    if size > max_bytes or len(data) > max_bytes:  # the second: it grew while being read
        log.add(rel, "", f"file is {max(size, len(data))} bytes, over the {max_bytes}-byte limit; refused unread")
        return None
    log.hashes[rel] = hashlib.sha256(data).hexdigest()
    return data


def decode_text(data: bytes, rel: str, log: ProblemLog) -> str | None:
    """UTF-8 text (a BOM is dropped), or None with a problem (binary, not UTF-8)."""
    if b"\x00" in data:
        log.add(rel, "", "binary file (NUL bytes), not UTF-8 text")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.add(rel, f"byte {exc.start}", f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x})")
        return None


def read_text(path: Path, rel: str, max_bytes: int, log: ProblemLog) -> str | None:
    """UTF-8 text of a small file, or None with a problem (too big, binary, not UTF-8)."""
    data = read_bytes(path, rel, max_bytes, log)
    return None if data is None else decode_text(data, rel, log)


def line_count(data: bytes) -> int:
    """Line ends the CSV reader accepts: ``\\n``, ``\\r\\n`` and a bare ``\\r``."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def non_ascii(text: str) -> str | None:
    """Why ``text`` is not ASCII (its first such character, named), or None when it is."""
    if text.isascii():
        return None
    char = next(c for c in text if not c.isascii())
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''}) is not ASCII"


def rows_text(rows: Sequence[int], unit: str = "row") -> str:
    """``row 7``; ``rows 2 and 3``; ``rows 2, 3 and 5``; ``rows 2, 3, 5, ... (40 rows)``
    (``item 7`` ... with ``unit="item"``)."""
    rows = [int(r) for r in rows]
    if len(rows) == 1:
        return f"{unit} {rows[0]}"
    if len(rows) <= ROWS_SHOWN:
        return f"{unit}s {', '.join(map(str, rows[:-1]))} and {rows[-1]}"
    return f"{unit}s {', '.join(map(str, rows[:ROWS_SHOWN]))}, ... ({len(rows)} {unit}s)"


def _records(text: str, rel: str, log: ProblemLog) -> list[list[str]] | None:
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        log.add(rel, f"row {len(records) + 1}", f"not valid CSV: {exc}")
        return None
    return records


_INDEX_COLUMN = re.compile(r"|Unnamed: \d+")


def _header_hint(header: list[str], rel: str, required, optional, log: ProblemLog) -> bool:
    """One problem, and True, when row 1 is not a comma-separated header at all."""
    known = {n.lower() for n in (*required, *optional)}
    if len(header) == 1 and len(required) > 1:
        for sep, what in ((";", "';'"), ("\t", "tabs")):
            if sep in header[0] and {n.strip(ASCII_SPACE).lower() for n in header[0].split(sep)} & known:
                log.add(rel, "header", f"the columns are separated by {what}, not commas; write a comma-"
                        f"separated file with the header {','.join(required)} (pandas: to_csv(path, index=False))")
                return True
    if not {n.lower() for n in header} & known:
        shown = ", ".join(repr(c[:40]) for c in header[:4]) + (", ..." if len(header) > 4 else "")
        data = ": it looks like data, the header row is missing" if any(PATIENT_ID_PATTERN.match(c) for c in header) else ""
        log.add(rel, "row 1", f"no column names found (row 1 holds {shown}){data}; "
                f"the first row must be the header {','.join(required)}")
        return True
    return False


def _check_header(header: list[str], rel: str, required, optional, log: ProblemLog) -> bool:
    """Problems for duplicated, missing and unexpected columns; True if rows can be read."""
    if _header_hint(header, rel, required, optional, log):
        return False
    expected = ", ".join(required)
    allowed = f"{expected}" + (f" (optional: {', '.join(optional)})" if optional else "")
    ok = True
    for name, count in Counter(header).items():
        if count > 1:
            log.add(rel, "header", f"column {name!r} appears {count} times", "header")
            ok = False
    for name in required:
        if name not in header:
            log.add(rel, "header", f"missing column {name!r}; expected columns {expected}", "header")
            ok = False
    for position, name in enumerate(header):
        if name in required or name in optional:
            continue
        if name.lower() in (*required, *optional):
            hint = f" (did you mean {name.lower()!r}? names are lower-case)"
        elif position == 0 and _INDEX_COLUMN.fullmatch(name):
            hint = " (an unnamed first column: a pandas index? write with to_csv(path, index=False))"
        else:
            hint = ""
        log.add(rel, "header", f"unexpected column {name[:80]!r}{hint}; allowed columns {allowed}", "header")
    return ok


@dataclass
class Table:
    """A CSV's cells as stripped strings, with spreadsheet row numbers and a bad-row mask.

    ``unit`` names a row in problems: ``row`` (spreadsheet rows), or ``item`` for the list
    index of a JSON detection file (lssbench/interop/coco.py).
    """

    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    log: ProblemLog
    skipped: list[list[str]] = field(default_factory=list)  # rows refused for their field count
    unit: str = "row"
    bad: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.bad = np.zeros(len(self.frame), dtype=bool)

    def flag(self, mask: np.ndarray, kind: str, message: Callable[[int], str]) -> None:
        """A problem for each row where ``mask`` holds; ``message(i)`` builds the text."""
        hits = np.flatnonzero(mask)
        self.bad[hits] = True
        room = self.log.room(self.file, kind)
        for i in hits[:room]:
            self.log.add(self.file, f"{self.unit} {self.rows[i]}", message(int(i)), kind)
        self.log.skip(self.file, kind, max(len(hits) - room, 0))

    def cells(self, column: str, convert: Callable[[str], Any]) -> pd.Series:
        """Convert a column with ``convert`` (ValueError text = the problem); bad cells -> None.

        A cell that is not ASCII is refused before ``convert`` sees it. One bad text is one
        problem, however many rows hold it (:func:`rows_text` names them).
        """
        texts = self.frame[column]
        bulk = _BULK_CONVERTERS.get(convert)
        if bulk is not None and len(texts):  # fast path: every text good -> one vectorised conversion
            converted = bulk(texts.tolist())  # (numbers seldom repeat: no deduplication first)
            if converted is not None:
                return pd.Series(converted, index=texts.index, name=texts.name)
        results, errors = {}, {}
        for text in texts.unique():
            why = non_ascii(text)
            if why is not None:
                errors[text] = f"{text[:80]!r}: {why}; numbers, levels, sides and IDs are written in plain ASCII"
                continue
            try:
                results[text] = convert(text)
            except (ValueError, TypeError, OverflowError) as exc:
                errors[text] = str(exc)
        values = texts.map(results)
        if errors:
            self._grouped(texts, errors, column)
        return values

    def _grouped(self, texts: pd.Series, errors: dict[str, str], column: str) -> None:
        failed = texts.isin(list(errors)).to_numpy()
        self.bad[failed] = True
        positions = np.flatnonzero(failed)
        codes, uniques = pd.factorize(texts.iloc[positions])
        room = self.log.room(self.file, column)
        for code, text in enumerate(uniques[:room]):
            rows = self.rows[positions[codes == code]]
            self.log.add(self.file, rows_text(rows, self.unit), f"{column}: {errors[text]}", column)
        self.log.skip(self.file, column, max(len(uniques) - room, 0))


def read_csv_table(
    path: Path,
    rel: str,
    required: Sequence[str],
    optional: Sequence[str],
    max_bytes: int,
    max_rows: int,
    log: ProblemLog,
) -> Table | None:
    """A :class:`Table` of a CSV, or None when it cannot be read at all (problems logged)."""
    data = read_bytes(path, rel, max_bytes, log)
    if data is None:
        return None
    if line_count(data) > max_rows + 1:  # header + rows; blank lines and quoted line ends count too
        log.add(rel, "", f"more than {max_rows} data rows; refused unread")
        return None
    text = decode_text(data, rel, log)
    if text is None:
        return None
    split = _plain_split(text)
    if split is not None:  # the usual file: columns cut out at once, no row-by-row work
        header, columns = split
        if not _check_header(header, rel, required, optional, log):  # (it refuses repeated names)
            return None
        frame = pd.DataFrame(dict(zip(header, columns)), dtype=object)
        return Table(rel, frame, np.arange(2, len(frame) + 2), log)
    records = _records(text, rel, log)
    if records is None:
        return None
    if not records or not any(c.strip() for c in records[0]):
        log.add(rel, "row 1", f"empty file; expected the header {','.join(required)}")
        return None
    header = [c.strip(ASCII_SPACE) for c in records[0]]
    if not _check_header(header, rel, required, optional, log):
        return None
    plain = '"' not in text and not any(space in text for space in ASCII_SPACE if space not in "\r\n")
    return _table(rel, header, records[1:], log, plain)


def _plain_split(text: str) -> tuple[list[str], list[list[str]]] | None:
    """``(header, columns)`` of a CSV the csv module would read as plain comma-cut lines, or
    None to leave it to the csv module.

    The text must be ASCII without quotes, NULs, bare ``\\r`` or ASCII spaces other than line
    ends; every row must hold the header's number of fields and a non-empty one, every line
    fit the csv module's field limit. Anything else (blank or short rows, quoted cells,
    spaces to trim) takes the row-by-row path, which says what is wrong.
    """
    if not text.isascii() or '"' in text or any(space in text for space in " \t\x0b\x0c"):
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    head, _, body = text.partition("\n")
    width = head.count(",") + 1
    if len(head) < width:  # an empty header, or commas only
        return None
    raw = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    lengths = np.diff(ends, prepend=-1) - 1
    limit = csv.field_size_limit()
    if len(head) > limit or (len(ends) and int(lengths.max()) > limit) or np.any(lengths <= width - 1):
        return None  # a line over the csv module's limit, or a blank (or commas only) one
    commas = np.searchsorted(ends, np.flatnonzero(raw == ord(",")))  # the line of each comma
    if np.any(np.bincount(commas, minlength=len(ends)) != width - 1):
        return None
    cells = body.replace("\n", ",").split(",")[:-1]  # the last line end left one empty string
    return head.split(","), [cells[j::width] for j in range(width)]


def _table(rel: str, header: list[str], body: list[list[str]], log: ProblemLog, plain: bool = False) -> Table:
    """``plain``: the text has no quotes and no ASCII space but line ends, so no cell needs trimming."""
    width, keep, numbers, skipped = len(header), [], [], []
    wrong: dict[int, list[int]] = {}
    for number, record in enumerate(body, start=2):
        cells = record if plain else [c.strip(ASCII_SPACE) for c in record]
        if not any(cells):
            continue  # blank line
        if len(cells) != width:
            wrong.setdefault(len(cells), []).append(number)
            skipped.append(cells)
            continue
        keep.append(cells)
        numbers.append(number)
    for count, rows in wrong.items():
        log.add(rel, rows_text(rows), f"{count} field{'s' * (count != 1)}, expected {width} as in the header", "fields")
    frame = pd.DataFrame(keep, columns=header, dtype=object)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return Table(rel, frame.reset_index(drop=True), np.asarray(numbers, dtype=int), log, skipped)


# --- cell converters (ValueError text becomes the problem message) -----------------------


#: A plain decimal number in ASCII: sign, digits, one point, exponent (no ``_``, no words).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def finite_number(text: str) -> float:
    """A finite float from a plain ASCII decimal (``1``, ``-0.5``, ``1e-3``); ValueError otherwise."""
    if text == "":
        raise ValueError("empty cell; expected a number")
    if _NOT_FINITE.fullmatch(text):
        raise ValueError(f"{text!r} is NaN or infinite; expected a finite number")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text[:80]!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:80]!r} is NaN or infinite; expected a finite number")
    return value


def unit_interval(text: str) -> float:
    value = finite_number(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text} is outside [0, 1]")
    return value


#: The characters of :data:`_NUMBER`. Over them, ``float`` accepts exactly the texts that
#: :data:`_NUMBER` matches (no words, spaces or underscores are left for it to accept).
_NUMBER_CHARACTERS = b"0123456789+-.eE"


def _plain_numbers(texts: list[str]) -> np.ndarray | None:
    """``[finite_number(t) for t in texts]`` as an array when every text is valid, else None.

    One pass over all texts for their characters, then ``float``; None sends the caller to
    the text-by-text path, which names each bad cell.
    """
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1 or not joined.isascii():
        return None
    if joined.encode("ascii").translate(None, _NUMBER_CHARACTERS + b"\n"):
        return None  # a character no number has
    try:
        values = np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:  # e.g. an empty cell, "1e", "1.2.3"
        return None
    return values if np.isfinite(values).all() else None


def _plain_unit_interval(texts: list[str]) -> np.ndarray | None:
    values = _plain_numbers(texts)
    return values if values is not None and ((values >= 0.0) & (values <= 1.0)).all() else None


_GRADE_LIST = ", ".join(f"{g} {name}" for g, name in zip(GRADES, GRADE_NAMES))


def severity(text: str) -> int:
    """A grade 0-3 (``2`` or ``2.0``); a grade written as a word gets a hint."""
    if text.lower() in GRADE_NAMES:
        grade = GRADES[GRADE_NAMES.index(text.lower())]
        raise ValueError(f"{text!r} is not a grade; write {grade} for {text.lower()} (grades are {_GRADE_LIST})")
    value = finite_number(text)
    if value != int(value) or int(value) not in GRADES:
        raise ValueError(f"{text!r} is not a grade; expected one of {', '.join(map(str, GRADES))}")
    return int(value)


#: Converters with an all-valid fast path (same values, or None to convert text by text).
_BULK_CONVERTERS: dict[Callable, Callable[[list[str]], np.ndarray | None]] = {
    finite_number: _plain_numbers,
    unit_interval: _plain_unit_interval,
}


def pattern_text(pattern: re.Pattern, what: str) -> Callable[[str], str]:
    """A converter accepting only texts matching ``pattern`` in full."""

    def convert(text: str) -> str:
        if not pattern.fullmatch(text):
            raise ValueError(f"{text[:80]!r} is not a {what}")
        return text

    return convert


# --- PNG masks ---------------------------------------------------------------------------


def _pixel_cap(limits: Limits) -> int:
    pillow = Image.MAX_IMAGE_PIXELS or limits.max_image_pixels
    return min(limits.max_image_pixels, int(pillow))


def _decode_png(data: bytes, rel: str, expected: tuple[int, int] | None, limits, log) -> Image.Image | None:
    if not data.startswith(PNG_SIGNATURE):
        log.add(rel, "", "not a PNG file (it does not start with the PNG signature)")
        return None
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    width, height = image.size
    if width * height > _pixel_cap(limits):
        log.add(rel, "", f"declares {width}x{height} pixels, over the {_pixel_cap(limits)}-pixel limit; refused before decoding")
        return None
    if expected is not None and (width, height) != expected:
        log.add(rel, "", f"mask is {width}x{height} (width x height), expected {expected[0]}x{expected[1]} like the middle slice")
        return None
    if image.mode not in MASK_MODES:
        log.add(rel, "", f"mode {image.mode!r} refused: a mask holds class indices 0-{MAX_CLASS} in one channel (8-bit grayscale 'L'; 'P' is read as raw indices), not colours")
        return None
    image.load()
    return image


def read_mask_png(
    path: Path, rel: str, expected: tuple[int, int] | None, limits: Limits, log: ProblemLog
) -> np.ndarray | None:
    """A uint8 class-index mask of ``expected`` (width, height), or None with problems logged."""
    data = read_bytes(path, rel, limits.max_total_bytes, log)
    if data is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _decode_png(data, rel, expected, limits, log)
            array = None if image is None else np.asarray(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.add(rel, "", f"refused as a decompression bomb: {exc}")
        return None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any decoder failure is the file's fault
        log.add(rel, "", f"cannot be decoded as a PNG ({type(exc).__name__}: {str(exc)[:200]})")
        return None
    if array is None:
        return None
    return _class_values(array, rel, log)


def _class_values(array: np.ndarray, rel: str, log: ProblemLog) -> np.ndarray | None:
    if array.ndim != 2:
        log.add(rel, "", f"mask has shape {array.shape}; expected one channel")
        return None
    if array.dtype == np.uint8 and (array.size == 0 or int(array.max()) <= MAX_CLASS):
        return array.astype(np.uint8)  # fast path: nothing to count
    values, counts = value_counts(array)
    outside = [(int(v), int(n)) for v, n in zip(values, counts) if v < 0 or v > MAX_CLASS]
    for value, count in outside:
        log.add(rel, f"pixel value {value}", f"{count} pixels hold {value}; mask values must be class indices 0-{MAX_CLASS}", "pixel value")
    return None if outside else array.astype(np.uint8)


# --- meta.json ---------------------------------------------------------------------------


def meta_schema() -> dict:
    """The JSON Schema of meta.json (lssbench/schemas/meta.schema.json)."""
    text = resources.files("lssbench").joinpath("schemas/meta.schema.json").read_text("utf-8")
    return json.loads(text)


def _schema_errors(value: Any, schema: dict) -> Iterable[str]:
    """The subset of JSON Schema used by meta.schema.json: object of strings."""
    if not isinstance(value, dict):
        yield f"expected a JSON object, got {type(value).__name__}"
        return
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            yield f"missing key {key!r}"
    for key, item in value.items():
        rule = properties.get(key)
        if rule is None:
            if schema.get("additionalProperties", True) is False:
                yield f"unknown key {str(key)[:40]!r}; allowed keys {', '.join(properties)}"
            continue
        yield from (f"{key}: {e}" for e in _string_errors(item, rule))


def _string_errors(item: Any, rule: dict) -> Iterable[str]:
    if not isinstance(item, str):
        yield f"expected a string, got {type(item).__name__}"
        return
    if len(item) < rule.get("minLength", 0):
        yield f"must hold at least {rule['minLength']} character(s)"
    if len(item) > rule.get("maxLength", math.inf):
        yield f"{len(item)} characters, over the limit of {rule['maxLength']}"
    # ECMA-262 "$" is the end of text; Python's would also match before a final newline.
    if "pattern" in rule and not re.search(rule["pattern"].replace("$", r"\Z"), item):
        yield _forbidden_character(item, rule) or rule.get("description", f"does not match {rule['pattern']}")


_CHARACTER_KINDS = {"Cs": "a lone surrogate, not valid Unicode text", "Cc": "a control character",
                    "Zl": "a line separator", "Zp": "a paragraph separator", "Zs": "a space"}


def _forbidden_character(item: str, rule: dict) -> str | None:
    """``character 3 is U+001B (a control character); <rule>``: the first character the
    pattern's last ``[^...]`` class refuses, or None when the pattern fails otherwise."""
    classes = re.findall(r"\[\^[^\]]*\]", rule["pattern"])
    if not classes:
        return None
    allowed = re.compile(classes[-1])
    for position, char in enumerate(item, start=1):
        if not allowed.fullmatch(char):
            kind = _CHARACTER_KINDS.get(unicodedata.category(char), "a character not allowed here")
            rule_text = f": {rule['description']}" if rule.get("description") else ""
            return f"character {position} is U+{ord(char):04X} ({kind}); refused{rule_text}"
    return None


def meta_problems(value: Any) -> list[str]:
    """What is wrong with a meta.json object (empty when it follows the schema)."""
    return list(_schema_errors(value, meta_schema()))


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


#: What :func:`read_json` returns for a file that cannot be read or parsed (JSON ``null`` is a value).
UNREADABLE = object()


def read_json(path: Path, rel: str, max_bytes: int, log: ProblemLog):
    """The JSON document of an untrusted file (NaN/Infinity refused), or :data:`UNREADABLE`
    with the problem logged when it cannot be read or parsed."""
    text = read_text(path, rel, max_bytes, log)
    if text is None:
        return UNREADABLE
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        log.add(rel, "", f"not valid JSON ({str(exc)[:200]})")
        return UNREADABLE


def read_meta(path: Path, rel: str, limits: Limits, log: ProblemLog) -> dict | None:
    """The meta.json object checked against its schema, or None with problems logged."""
    value = read_json(path, rel, limits.max_meta_bytes, log)
    if value is UNREADABLE:
        return None
    errors = meta_problems(value)
    for error in errors:
        log.add(rel, "", error, "meta")
    return None if errors else value
