from pathlib import Path

from lssbench.board import Entry, assign_ranks, entry_names, expand_submission_paths


def _entry(name, ap50=None, qwk=None, kind="submission", status="ok"):
    results = {}
    if ap50 is not None:
        results["detection"] = {"AP50": ap50}
    if qwk is not None:
        results["grading"] = {"qwk": qwk}
    return Entry(name=name, kind=kind, status=status, results=results if status == "ok" else None)


def test_competition_ranking_shares_ties_and_skips_references_and_invalid():
    entries = [_entry("a", 0.9, 0.5), _entry("b", 0.8, 0.7), _entry("c", 0.9), _entry("d", 0.7, 0.7),
               _entry("ref", 0.99, 0.99, kind="reference"), _entry("bad", status="invalid")]
    assign_ranks(entries)
    ranks = {e.name: e.ranks for e in entries}
    assert ranks["a"] == {"detection": 1, "grading": 3, "segmentation": None}
    assert ranks["c"] == {"detection": 1, "grading": None, "segmentation": None}
    assert ranks["b"]["detection"] == 3 and ranks["b"]["grading"] == 1
    assert ranks["d"] == {"detection": 4, "grading": 1, "segmentation": None}
    assert ranks["ref"] == {"detection": None, "grading": None, "segmentation": None}
    assert ranks["bad"] == {"detection": None, "grading": None, "segmentation": None}


def test_folder_of_submissions_is_expanded_and_names_disambiguated(tmp_path):
    subs = tmp_path / "subs"
    (subs / "team1").mkdir(parents=True)
    (subs / "team1" / "grades.csv").write_text("patient_id,level,side,severity\n")
    (subs / "team2.zip").write_bytes(b"PK")
    (subs / ".hidden").mkdir()
    (subs / "notes.txt").write_text("x")
    paths = expand_submission_paths([subs, subs / "team1"])
    assert [p.name for p in paths] == ["team1", "team2.zip", "team1"]
    assert entry_names([Path("a/x"), Path("b/x.zip"), Path("c/y")]) == ["x", "x.zip", "y"]
    assert entry_names([Path("a/x"), Path("b/x"), Path("a/x"), Path("t.tar.gz")]) == ["a/x", "b/x", "a/x (2)", "t"]
