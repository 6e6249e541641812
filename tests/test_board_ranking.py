"""The board's ranking contract (schema_version 2): ranks, uncertainty, duplicates, teams,
public/private boards, the results cache, concurrent builders and a killed builder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from lssbench import jsonio
from lssbench.cache import ResultsCache
from lssbench.board import leaderboard
from lssbench.ranking import public_private
from lssbench.report import board_console, board_html, board_latex, board_markdown

B = 30
ROOT = Path(__file__).resolve().parent.parent


def _schema():
    return json.loads(resources.files("lssbench").joinpath("schemas/leaderboard.schema.json").read_text())


def _by_name(board):
    return {e["name"]: e for e in board["entries"]}


@pytest.fixture(scope="module")
def uploads(sample_submissions, tmp_path_factory):
    """The demo's three samples, a byte-for-byte copy of jittered, and jittered without detections."""
    folder = tmp_path_factory.mktemp("uploads")
    for name, path in sample_submissions.items():
        shutil.copytree(path, folder / name)
    shutil.copytree(sample_submissions["jittered"], folder / "jittered-copy")
    shutil.copytree(sample_submissions["jittered"], folder / "no-detections")
    (folder / "no-detections" / "detections.csv").unlink()
    meta = json.loads((folder / "no-detections" / "meta.json").read_text())
    (folder / "no-detections" / "meta.json").write_text(json.dumps(dict(meta, team="other team")))
    return folder


@pytest.fixture(scope="module")
def board(uploads, ground_truth):
    return leaderboard([uploads], ground_truth, n_bootstrap=B, seed=0, workers=1)


def test_board_follows_schema_2_and_names_the_scheme(board):
    jsonschema.validate(json.loads(jsonio.dumps(board)), _schema())
    assert board["schema_version"] == 2
    assert board["ranking"]["scheme"] == "rank-then-aggregate" and board["ranking"]["rank_by"] is None
    assert board["ranking"]["headlines"] == {"detection": "AP50", "grading": "qwk", "segmentation": "mean_dice"}
    assert set(board["stability"]) == {"detection", "grading", "segmentation"}
    for found in board["stability"].values():
        assert -1 <= found["kendall_tau_ci95"][0] <= found["kendall_tau"] <= found["kendall_tau_ci95"][1] <= 1
    assert "resamples" not in board["entries"][0]["results"] and "parts" not in board["entries"][0]["results"]


def test_ranks_missing_task_duplicates_and_uncertainty(board):
    entries = _by_name(board)
    assert entries["perfect"]["ranks"] == {"detection": 1, "grading": 1, "segmentation": 1}
    assert entries["perfect"]["overall_rank"] == 1
    copy, original = entries["jittered-copy"], entries["jittered"]
    assert copy["duplicate_of"] == "jittered" and original["duplicate_of"] is None
    for key in ("ranks", "rank_ci95", "p_first", "tied_with_first", "overall_rank"):
        assert copy[key] == original[key], key
    # no detections: unranked there, and never ahead of the otherwise identical jittered
    assert entries["no-detections"]["ranks"]["detection"] is None
    assert entries["no-detections"]["ranks"]["grading"] == original["ranks"]["grading"] == 2
    assert entries["no-detections"]["overall_rank"] > original["overall_rank"]
    for task in ("detection", "grading", "segmentation"):
        ranked = [e for e in board["entries"] if e["ranks"][task] is not None]
        assert sum(e["p_first"][task] for e in ranked) == pytest.approx(1.0)
        for e in ranked:
            low, high = e["rank_ci95"][task]
            assert 1 <= low <= high <= len(ranked)
        assert entries["perfect"]["tied_with_first"][task] is True
    assert entries["weak"]["tied_with_first"]["segmentation"] is False
    reference = [e for e in board["entries"] if e["kind"] == "reference"][0]
    assert reference["overall_rank"] is None and reference["p_first"]["grading"] is None


def test_tables_print_ranks_with_tie_marks_and_intervals(board):
    markdown = board_markdown(board)
    assert "| =2 | jittered (lssbench demo) |" in markdown
    assert r"| =2 | jittered-copy (lssbench demo) \[duplicate of jittered\] |" in markdown
    assert "| 1 | perfect (lssbench demo) |" in markdown
    assert "Rank stability" in markdown and "=n shares the rank" in markdown
    for text in (board_console(board), board_latex(board), board_html(board)):
        assert "=2" in text and "Rank stability" in text


def test_rank_by_one_task_and_best_per_team(uploads, ground_truth):
    by_grading = leaderboard([uploads], ground_truth, n_bootstrap=0, workers=1, rank_by="grading")
    assert by_grading["ranking"] == dict(by_grading["ranking"], scheme="rank-by", rank_by="grading")
    for entry in by_grading["entries"]:
        assert entry["overall_rank"] == entry["ranks"]["grading"]
        assert entry["rank_ci95"]["grading"] is None  # no bootstrap, no intervals
    teams = leaderboard([uploads], ground_truth, n_bootstrap=0, workers=1, best_per_team=True)
    entries = _by_name(teams)
    # every demo sample is team "lssbench demo": perfect is its best; "other team" stays ranked
    assert entries["perfect"]["superseded_by"] is None and entries["perfect"]["overall_rank"] == 1
    for name in ("jittered", "jittered-copy", "weak"):
        assert entries[name]["superseded_by"] == "perfect" and entries[name]["overall_rank"] is None
    assert entries["no-detections"]["overall_rank"] == 2
    assert teams["ranking"]["best_per_team"] is True


def test_public_and_private_boards(sample_submissions, ground_truth):
    share = 0.5
    public, private = public_private(ground_truth.patients, share)
    board = leaderboard(list(sample_submissions.values()), ground_truth, n_bootstrap=B, seed=0, workers=1,
                        public_share=share)
    jsonschema.validate(json.loads(jsonio.dumps(board)), _schema())
    boards = board["boards"]
    assert boards["public"]["patients"] == public and boards["private"]["patients"] == private
    assert sorted(public + private) == sorted(ground_truth.patients)  # every test patient once
    assert board["shown"] == "public" and board["public_share"] == share
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    alone = Evaluator(ground_truth).evaluate(load_submission(sample_submissions["jittered"], ground_truth),
                                             n_bootstrap=0, parts={"private": private})
    row = next(e for e in boards["private"]["entries"] if e["name"] == "jittered")
    expected = json.loads(jsonio.dumps(alone["parts"]["private"]["headlines"]))
    assert row["headlines"] == expected
    assert row["ranks"]["grading"] in (1, 2, 3) and len(row["ci95"]) == 5
    page = board_markdown(board)
    assert "the public board" in page
    final = leaderboard(list(sample_submissions.values()), ground_truth, n_bootstrap=B, seed=0, workers=1,
                        public_share=share, final=True)
    assert final["shown"] == "private" and "the private board" in board_markdown(final)


def test_cache_second_run_rescores_nothing_and_a_changed_file_is_rescored(sample_submissions, ground_truth, tmp_path):
    subs = tmp_path / "subs"
    for name, path in sample_submissions.items():
        shutil.copytree(path, subs / name)
    cache = ResultsCache(tmp_path / "cache")
    cold = leaderboard([subs], ground_truth, n_bootstrap=B, workers=1, cache=cache)
    assert (cache.hits, cache.misses) == (0, 4)  # three uploads and the reference row
    warm_cache = ResultsCache(tmp_path / "cache")
    warm = leaderboard([subs], ground_truth, n_bootstrap=B, workers=1, cache=warm_cache)
    assert (warm_cache.hits, warm_cache.misses) == (4, 0)
    assert jsonio.dumps(warm) == jsonio.dumps(cold)  # byte-identical
    grades = subs / "weak" / "grades.csv"
    grades.write_text(grades.read_text().replace(",0,", ",1,", 3))
    changed_cache = ResultsCache(tmp_path / "cache")
    changed = leaderboard([subs], ground_truth, n_bootstrap=B, workers=1, cache=changed_cache)
    assert (changed_cache.hits, changed_cache.misses) == (3, 1)
    assert _by_name(changed)["weak"]["results"]["grading"] != _by_name(cold)["weak"]["results"]["grading"]
    other_settings = ResultsCache(tmp_path / "cache")
    leaderboard([subs], ground_truth, n_bootstrap=B, seed=1, workers=1, cache=other_settings)
    assert other_settings.hits == 0


def test_a_cached_result_of_another_metrics_version_is_rescored(sample_submissions, ground_truth, tmp_path,
                                                                monkeypatch):
    import lssbench.board as board_module

    cache = ResultsCache(tmp_path / "cache")
    leaderboard([sample_submissions["weak"]], ground_truth, n_bootstrap=5, workers=1, cache=cache)
    monkeypatch.setattr(board_module, "METRICS_VERSION", "999")
    again = ResultsCache(tmp_path / "cache")
    leaderboard([sample_submissions["weak"]], ground_truth, n_bootstrap=5, workers=1, cache=again)
    assert (again.hits, again.misses) == (0, 2)


def _cli(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "lssbench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_two_processes_building_one_board(sample_submissions, test_bundle, tmp_path):
    out, md, html = tmp_path / "board.json", tmp_path / "board.md", tmp_path / "board.html"
    args = ["leaderboard", *map(str, sample_submissions.values()), "--gt", str(test_bundle), "--bootstrap", "10",
            "--jobs", "1", "--cache", str(tmp_path / "cache"), "--out", str(out), "--markdown", str(md),
            "--html", str(html)]
    first, second = _cli(*args), _cli(*args)
    for process in (first, second):
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    board = json.loads(out.read_text())
    from lssbench.report import board_html as render_html, board_markdown as render_md

    assert md.read_text() == render_md(board) and html.read_text() == render_html(board)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".board.json.lock"]  # no temporary files left, only the lock


def test_a_killed_builder_leaves_the_old_board(sample_submissions, test_bundle, tmp_path):
    out, md = tmp_path / "board.json", tmp_path / "board.md"
    base = ["leaderboard", "--gt", str(test_bundle), "--jobs", "1", "--out", str(out), "--markdown", str(md)]
    done = _cli(*base[:1], str(sample_submissions["weak"]), *base[1:], "--bootstrap", "5")
    assert done.wait(timeout=600) == 0
    old_json, old_md = out.read_bytes(), md.read_bytes()
    process = _cli(*base[:1], *map(str, sample_submissions.values()), *base[1:], "--bootstrap", "50000",
                   start_new_session=True)
    time.sleep(4)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL  # killed mid-run, not finished
    assert out.read_bytes() == old_json and md.read_bytes() == old_md
    json.loads(out.read_text())


def test_cli_board_flags(sample_submissions, test_bundle, tmp_path):
    from click.testing import CliRunner

    from lssbench.cli import main

    runner = CliRunner()
    subs = [str(p) for p in sample_submissions.values()]
    common = ["--gt", str(test_bundle), "--bootstrap", "10", "--jobs", "1"]
    result = runner.invoke(main, ["leaderboard", *subs, *common, "--out", str(tmp_path / "b.json"), "--final"])
    assert result.exit_code == 2
    assert result.output.endswith("error: --final shows the private board: give --public-share too\n")
    result = runner.invoke(main, ["leaderboard", *subs, *common, "--out", str(tmp_path / "b.json"),
                                  "--rank-by", "typo"])
    assert result.exit_code == 2 and "Invalid value for '--rank-by'" in result.output
    cache = tmp_path / "cache"
    args = ["leaderboard", *subs, *common, "--out", str(tmp_path / "b.json"), "--cache", str(cache),
            "--rank-by", "grading", "--public-share", "0.5", "--latex", str(tmp_path / "b.tex")]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert f"results cache {cache}: 0 reused, 4 scored" in first.output
    second = runner.invoke(main, args)
    assert f"results cache {cache}: 4 reused, 0 scored" in second.output
    board = json.loads((tmp_path / "b.json").read_text())
    assert board["ranking"]["rank_by"] == "grading" and board["shown"] == "public"
    latex = (tmp_path / "b.tex").read_text()
    assert "\u2020" not in latex and r"$^\dagger$" in latex and "the public board" in latex
