"""Readers for submission files: bytes -> text, CSV -> string table, PNG -> mask, JSON -> dict.

Nothing here trusts its input. Every failure becomes a :class:`Problem` in a
:class:`ProblemLog` (capped per file and kind), never an exception. CSV cells are read
as strings and converted by one helper, :meth:`Table.cells`, so each bad cell is named
by its row: the spreadsheet row, counting the header as row 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from lssbench.dataset.masks import value_counts
from lssbench.domain import GRADES, NUM_SEGMENTATION_CLASSES
from lssbench.problems import Problem
from lssbench.submission.archive import DEFAULT_LIMITS, Limits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Mask modes read as raw class indices ('P' ignores its palette); colour modes are refused.
MASK_MODES = ("L", "P", "1", "I;16", "I;16B", "I;16L", "I")
MAX_CLASS = NUM_SEGMENTATION_CLASSES - 1


# --- problems ----------------------------------------------------------------------------


class ProblemLog:
    """Collects problems, keeping the first ``cap`` per (file, kind) and counting the rest."""

    def __init__(self, cap: int = DEFAULT_LIMITS.max_problems_per_kind):
        self.cap = cap
        self._entries: list[tuple[tuple[str, str], Problem]] = []
        self._counts: Counter = Counter()
        self.warnings: list[str] = []

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


def read_text(path: Path, rel: str, max_bytes: int, log: ProblemLog) -> str | None:
    """UTF-8 text of a small file, or None with a problem (too big, binary, not UTF-8)."""
    size = path.stat().st_size
    if size > max_bytes:
        log.add(rel, "", f"file is {size} bytes, over the {max_bytes}-byte limit; refused unread")
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        log.add(rel, "", "binary file (NUL bytes), not UTF-8 text")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.add(rel, f"byte {exc.start}", f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x})")
        return None


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


def _check_header(header: list[str], rel: str, required, optional, log: ProblemLog) -> bool:
    """Problems for duplicated, missing and unexpected columns; True if rows can be read."""
    expected = ", ".join(required)
    ok = True
    for name, count in Counter(header).items():
        if count > 1:
            log.add(rel, "header", f"column {name!r} appears {count} times", "header")
            ok = False
    for name in required:
        if name not in header:
            log.add(rel, "header", f"missing column {name!r}; expected columns {expected}", "header")
            ok = False
    for name in header:
        if name not in required and name not in optional:
            allowed = f"{expected}" + (f" (optional: {', '.join(optional)})" if optional else "")
            log.add(rel, "header", f"unexpected column {name!r}; allowed columns {allowed}", "header")
    return ok


@dataclass
class Table:
    """A CSV's cells as stripped strings, with spreadsheet row numbers and a bad-row mask."""

    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    log: ProblemLog
    bad: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.bad = np.zeros(len(self.frame), dtype=bool)

    def flag(self, mask: np.ndarray, kind: str, message: Callable[[int], str]) -> None:
        """A problem for each row where ``mask`` holds; ``message(i)`` builds the text."""
        hits = np.flatnonzero(mask)
        self.bad[hits] = True
        room = self.log.room(self.file, kind)
        for i in hits[:room]:
            self.log.add(self.file, f"row {self.rows[i]}", message(int(i)), kind)
        self.log.skip(self.file, kind, max(len(hits) - room, 0))

    def cells(self, column: str, convert: Callable[[str], Any]) -> pd.Series:
        """Convert a column with ``convert`` (ValueError text = the problem); bad cells -> None."""
        texts = self.frame[column]
        results, errors = {}, {}
        for text in texts.unique():
            try:
                results[text] = convert(text)
            except (ValueError, TypeError, OverflowError) as exc:
                errors[text] = str(exc)
        values = texts.map(results)
        if errors:
            failed = texts.isin(list(errors)).to_numpy()
            self.flag(failed, column, lambda i: f"{column}: {errors[texts.iat[i]]}")
        return values


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
    text = read_text(path, rel, max_bytes, log)
    if text is None:
        return None
    if text.count("\n") > max_rows + 1:
        log.add(rel, "", f"more than {max_rows} data rows; refused unread")
        return None
    records = _records(text, rel, log)
    if records is None:
        return None
    if not records or not any(c.strip() for c in records[0]):
        log.add(rel, "row 1", f"empty file; expected the header {','.join(required)}")
        return None
    header = [c.strip() for c in records[0]]
    if not _check_header(header, rel, required, optional, log):
        return None
    return _table(rel, header, records[1:], log)


def _table(rel: str, header: list[str], body: list[list[str]], log: ProblemLog) -> Table:
    width, keep, numbers = len(header), [], []
    for number, record in enumerate(body, start=2):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue  # blank line
        if len(cells) != width:
            log.add(rel, f"row {number}", f"{len(cells)} fields, expected {width} as in the header", "fields")
            continue
        keep.append(cells)
        numbers.append(number)
    frame = pd.DataFrame(keep, columns=header, dtype=object)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return Table(rel, frame.reset_index(drop=True), np.asarray(numbers, dtype=int), log)


# --- cell converters (ValueError text becomes the problem message) -----------------------


def finite_number(text: str) -> float:
    if text == "":
        raise ValueError("empty cell; expected a number")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is NaN or infinite; expected a finite number")
    return value


def unit_interval(text: str) -> float:
    value = finite_number(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text} is outside [0, 1]")
    return value


def severity(text: str) -> int:
    value = finite_number(text)
    if value != int(value) or int(value) not in GRADES:
        raise ValueError(f"{text!r} is not a grade; expected one of {', '.join(map(str, GRADES))}")
    return int(value)


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


def _decode_png(path: Path, rel: str, expected: tuple[int, int] | None, limits, log) -> Image.Image | None:
    with open(path, "rb") as handle:
        if handle.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            log.add(rel, "", "not a PNG file (it does not start with the PNG signature)")
            return None
    image = Image.open(path, formats=["PNG"])
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _decode_png(path, rel, expected, limits, log)
            array = None if image is None else np.asarray(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.add(rel, "", f"refused as a decompression bomb: {exc}")
        return None
    except Exception as exc:  # noqa: BLE001 -- any decoder failure is the file's fault
        log.add(rel, "", f"cannot be decoded as a PNG ({type(exc).__name__}: {exc})")
        return None
    if array is None:
        return None
    return _class_values(array, rel, log)


def _class_values(array: np.ndarray, rel: str, log: ProblemLog) -> np.ndarray | None:
    if array.ndim != 2:
        log.add(rel, "", f"mask has shape {array.shape}; expected one channel")
        return None
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
        yield rule.get("description", f"does not match {rule['pattern']}")


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_meta(path: Path, rel: str, limits: Limits, log: ProblemLog) -> dict | None:
    """The meta.json object checked against its schema, or None with problems logged."""
    text = read_text(path, rel, limits.max_meta_bytes, log)
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        log.add(rel, "", f"not valid JSON ({str(exc)[:200]})")
        return None
    errors = list(_schema_errors(value, meta_schema()))
    for error in errors:
        log.add(rel, "", error, "meta")
    return None if errors else value
