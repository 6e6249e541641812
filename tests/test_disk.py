"""Folder sizes as synth and demo print them."""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

from lssbench.cli import main
from lssbench.demo import footprint_text
from lssbench.disk import count_files, describe_folder, folder_size, format_size


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1534, "1.53 kB"), (187_913_293, "188 MB"),
    (999_499_999, "999 MB"), (2_712_000_000, "2.71 GB"), (12_000_000_000_000, "12000 GB"),
])
def test_format_size(n, text):
    assert format_size(n) == text


def test_folder_size_counts_regular_files_not_links(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "b").write_bytes(b"y" * 534)
    os.symlink(tmp_path / "a", tmp_path / "link")
    assert folder_size(tmp_path) == (2, 1534)
    assert folder_size(tmp_path / "missing") == (0, 0)
    assert describe_folder(tmp_path) == f"{tmp_path}: 2 files, 1.53 kB"
    assert (count_files(1), count_files(2412)) == ("1 file", "2,412 files")


def test_demo_footprint_says_how_to_remove_it(tmp_path):
    out = tmp_path / "my demo"
    out.mkdir()
    (out / "f").write_bytes(b"z" * 2500)
    assert footprint_text(out) == f"the demo folder {out} takes 2.5 kB (1 file); remove it with: rm -rf '{out}'"


def test_synth_prints_what_it_wrote(tmp_path):
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "d"), "--patients", "2", "--seed", "5", "--compact"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    files, size = folder_size(tmp_path / "d")
    assert result.stdout == (f"wrote a synthetic dataset of 2 patients (seed 5, compact) to {tmp_path / 'd'}: "
                             f"{count_files(files)}, {format_size(size)}\n")
    assert re.search(r": \d+ files, \d[\d.]* MB\n$", result.stdout)
