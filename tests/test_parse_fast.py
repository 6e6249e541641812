"""The all-valid fast paths of submission parsing give exactly what the cell-by-cell path gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lssbench.submission import parse
from lssbench.submission.parse import ProblemLog, Table, finite_number, unit_interval

VALID = ["0", "1", "-0.5", "+2", ".5", "5.", "1e-3", "1E+3", "123456.789", "0.1", "3.0000000000000004", "-0"]
INVALID = ["", "nan", "-inf", "Infinity", "1e999", "1_0", "0x10", "1,5", " 1", "1\n2", "\u0661", "1e", "."]


def test_plain_numbers_equal_finite_number_or_give_up():
    got = parse._plain_numbers(VALID)
    assert got is not None and got.dtype == np.float64
    assert [float(v) for v in got] == [finite_number(t) for t in VALID]
    assert [str(v) for v in got] == [str(finite_number(t)) for t in VALID]  # -0.0 stays -0.0
    for bad in INVALID:
        assert parse._plain_numbers(VALID + [bad]) is None, bad
    assert parse._plain_unit_interval(["0", "1", "0.25"]).tolist() == [0.0, 1.0, 0.25]
    assert parse._plain_unit_interval(["0", "1.5"]) is None


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
