"""The all-valid fast paths of submission parsing give exactly what the cell-by-cell path gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lssbench.submission import parse
from lssbench.submission.parse import ProblemLog, Table, finite_number, unit_interval

VALID = ["0", "1", "-0.5", "+2", ".5", "5.", "1e-3", "1E+3", "123456.789", "0.1", "3.0000000000000004", "-0"]
INVALID = ["", "nan", "-inf", "Infinity", "1e999", "1_0", "0x10", "1,5", " 1", "1\n2", "\u0661", "1e", ".", "+-1",
           "1e+", "e5", "1.2.3", "--", "+", "1e5.5", ".e1"]


def test_plain_numbers_equal_finite_number_or_give_up():
    got = parse._plain_numbers(VALID)
    assert got is not None and got.dtype == np.float64
    assert [float(v) for v in got] == [finite_number(t) for t in VALID]
    assert [str(v) for v in got] == [str(finite_number(t)) for t in VALID]  # -0.0 stays -0.0
    for bad in INVALID:
        assert parse._plain_numbers(VALID + [bad]) is None, bad
    assert parse._plain_unit_interval(["0", "1", "0.25"]).tolist() == [0.0, 1.0, 0.25]
    assert parse._plain_unit_interval(["0", "1.5"]) is None


def test_over_the_number_characters_float_accepts_what_the_number_pattern_matches():
    rng = np.random.default_rng(7)
    alphabet = list("0123456789+-.eE")
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 7)))
        expected = parse._NUMBER.fullmatch(text) is not None and np.isfinite(float(text))  # 1e999 is not
        assert (parse._plain_numbers([text]) is not None) == expected, text


@pytest.mark.parametrize("convert", [finite_number, unit_interval])
def test_cells_equal_with_and_without_the_fast_path(convert, monkeypatch):
    rng = np.random.default_rng(4)
    for trial in range(20):
        pool = VALID + (INVALID if trial % 2 else [])
        texts = [pool[i] for i in rng.integers(0, len(pool), 50)]
        frame = pd.DataFrame({"x": texts}, dtype=object)

        def run():
            log = ProblemLog()
            table = Table("f.csv", frame, np.arange(2, 52), log)
            values = table.cells("x", convert)
            return values, table.bad.copy(), [str(p) for p in log.problems()]

        fast = run()
        monkeypatch.setattr(parse, "_BULK_CONVERTERS", {})
        slow = run()
        monkeypatch.undo()
        pd.testing.assert_series_equal(fast[0], slow[0])
        assert np.array_equal(fast[1], slow[1]) and fast[2] == slow[2]


def test_plain_csv_needs_no_trimming_and_trimmed_csv_is_trimmed(tmp_path):
    for text, expected in (("a,b\n1,2\n", ["1", "2"]), ("a,b\n 1 ,\t2\n", ["1", "2"]), ('a,b\n"1 ",2\n', ["1", "2"])):
        path = tmp_path / "t.csv"
        path.write_text(text)
        table = parse.read_csv_table(path, "t.csv", ("a", "b"), (), 10_000, 10, ProblemLog())
        assert table.frame.iloc[0].tolist() == expected, text


def _read_both_ways(tmp_path, monkeypatch, text: str, required=("a", "b", "c"), optional=("d",)):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))

    def read():
        log = ProblemLog()
        table = parse.read_csv_table(path, "t.csv", required, optional, 1_000_000, 1_000, log)
        problems = [str(p) for p in log.problems()]
        if table is None:
            return None, problems
        return (table.frame, table.rows.tolist(), table.skipped), problems

    fast = read()
    with monkeypatch.context() as patched:
        patched.setattr(parse, "_plain_split", lambda text: None)
        slow = read()
    return fast, slow


def _assert_same(fast, slow, text):
    assert fast[1] == slow[1], text
    assert (fast[0] is None) == (slow[0] is None), text
    if fast[0] is not None:
        pd.testing.assert_frame_equal(fast[0][0], slow[0][0])
        assert fast[0][1:] == slow[0][1:], text


def test_plain_csv_is_cut_as_the_csv_module_reads_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(11)
    cells = ["1", "x", "0.5", "", "ab", "-2e3"] * 6 + [" ", '"', '"q"', "\u00e9", "\t", "\r", "\x0c"]
    ends = ["\n"] * 8 + ["\r\n"] * 4 + ["\r", ""]
    headers = ["a,b,c", "a,b,c,d", "a,b", "b,a,c", "a,b,c,a", ",,", "", "a, b,c"]
    taken = 0
    for trial in range(1500):
        header = headers[trial % len(headers)]
        width = header.count(",") + 1
        rows = []
        for _ in range(rng.integers(0, 8)):
            count = width if rng.random() < 0.9 else int(rng.integers(0, width + 2))
            rows.append(",".join(rng.choice(cells, size=count)) + rng.choice(ends))
        text = header + rng.choice(ends[:-1]) + "".join(rows)
        taken += parse._plain_split(text) is not None and len(rows) > 0
        _assert_same(*_read_both_ways(tmp_path, monkeypatch, text), text)
    assert taken > 50  # the fast path was compared on files with rows, not only on headers


def test_regular_plain_csv_takes_the_fast_path(tmp_path, monkeypatch):
    rows = "".join(f"{i},{i * 0.5},x{i}\n" for i in range(50))
    for text in ("a,b,c\n" + rows, "a,b,c\r\n" + rows.replace("\n", "\r\n"), "a,b,c\n" + rows.rstrip("\n")):
        assert parse._plain_split(text) is not None
        fast, slow = _read_both_ways(tmp_path, monkeypatch, text)
        _assert_same(fast, slow, text)
        assert len(fast[0][0]) == 50 and fast[0][1] == list(range(2, 52))
    for irregular in ("a,b,c\n1,2\n", "a,b,c\n\n1,2,3\n", "a,b,c\n,,\n", 'a,b,c\n"1",2,3\n', "a,b,c\n1, 2,3\n",
                      "a,b,c\r1,2,3\n", "a,b,c\n1,2,3,4\n"):
        assert parse._plain_split(irregular) is None, irregular
