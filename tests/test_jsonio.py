import json
import math
import os

import numpy as np
import pytest

from lssbench import jsonio


def test_dumps_sorts_keys_rounds_floats_and_converts_numpy():
    text = jsonio.dumps({"b": np.float32(0.1234567891), "a": [np.int64(3), (1, 2)], "c": -0.0})
    assert text == '{\n  "a": [\n    3,\n    [\n      1,\n      2\n    ]\n  ],\n  "b": 0.123457,\n  "c": 0.0\n}\n'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="non-finite"):
        jsonio.dumps({"x": bad})


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = jsonio.write_json_atomic(tmp_path / "out" / "r.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert os.listdir(tmp_path / "out") == ["r.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = jsonio.write_json_atomic(tmp_path / "r.json", {"x": 1})
    with pytest.raises(ValueError):
        jsonio.write_json_atomic(path, {"x": math.nan})
    assert json.loads(path.read_text()) == {"x": 1}
    assert os.listdir(tmp_path) == ["r.json"]


def test_fingerprint_is_order_independent_and_content_sensitive():
    a = jsonio.fingerprint({"x": "1", "y": "2"})
    assert a == jsonio.fingerprint({"y": "2", "x": "1"})
    assert a != jsonio.fingerprint({"x": "1", "y": "3"})
    assert a.startswith("sha256:") and len(a) == 7 + 64


def test_sha256_file_matches_bytes(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert jsonio.sha256_file(tmp_path / "f") == jsonio.sha256_bytes(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = jsonio.write_json_atomic(tmp_path / "r.json", {"x": 1})
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_read_back_is_what_a_written_file_holds(ground_truth, sample_submissions):
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    results = Evaluator(ground_truth).evaluate(load_submission(sample_submissions["jittered"], ground_truth),
                                               n_bootstrap=20, seed=0, keep_resamples=True)
    written = json.loads(jsonio.dumps(results))
    got = jsonio.read_back(results)
    assert got == written and json.dumps(got) == json.dumps(written)  # same values, same key order
    tricky = {"b": (1.23456789, np.float64(-0.0)), "a": {"z": np.int64(3), "y": np.array([0.5, 2])}}
    assert json.dumps(jsonio.read_back(tricky)) == json.dumps(json.loads(jsonio.dumps(tricky)))
