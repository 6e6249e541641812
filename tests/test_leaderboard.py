import json
import shutil
from importlib import resources

import jsonschema

from lssbench import jsonio
from lssbench.board import TEMPLATE_REFERENCE, leaderboard
from lssbench.report import board_latex, board_markdown


def test_leaderboard_ranks_valid_submissions_and_lists_the_broken_one(sample_submissions, ground_truth, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(sample_submissions["weak"], broken)
    (broken / "grades.csv").write_text("patient_id,level,side,severity\nPATIENT0000001,L9-L9,up,7\n")
    board = leaderboard([*sample_submissions.values(), broken], ground_truth, n_bootstrap=30, seed=0, workers=2)
    jsonschema.validate(json.loads(jsonio.dumps(board)),
                        json.loads(resources.files("lssbench").joinpath("schemas/leaderboard.schema.json").read_text()))
    by_name = {e["name"]: e for e in board["entries"]}
    assert [e["name"] for e in board["entries"]] == ["perfect", "jittered", "weak", "broken", TEMPLATE_REFERENCE]
    assert by_name["perfect"]["ranks"] == {"detection": 1, "grading": 1, "segmentation": 1}
    assert by_name["weak"]["ranks"] == {"detection": 3, "grading": 3, "segmentation": 3}
    assert by_name["broken"]["status"] == "invalid" and by_name["broken"]["results"] is None
    assert any("grades.csv" in p for p in by_name["broken"]["problems"])
    reference = by_name[TEMPLATE_REFERENCE]["results"]
    assert reference["detection"]["AP50"] == 0.0
    assert reference["grading"]["qwk"] == 0.0  # all normal: no agreement beyond chance
    assert "per_case" not in by_name["perfect"]["results"]["segmentation"]

    markdown = board_markdown(board)
    assert "| 1 | perfect (lssbench demo) | **1.000 [1.000, 1.000]** |" in markdown
    assert "broken: invalid" in markdown
    assert r"\toprule" in board_latex(board)


def test_leaderboard_is_deterministic_in_parallel_and_serial(sample_submissions, ground_truth):
    subs = list(sample_submissions.values())
    serial = leaderboard(subs, ground_truth, n_bootstrap=20, seed=1, workers=1)
    parallel = leaderboard(subs, ground_truth, n_bootstrap=20, seed=1, workers=2)
    assert jsonio.dumps(serial) == jsonio.dumps(parallel)


def test_untrusted_names_are_escaped_in_every_table(ground_truth):
    from lssbench.report import board_html

    board = {"lssbench_version": "0", "split": "test", "gt_fingerprint": "sha256:" + "0" * 64,
             "bootstrap": {"resamples": 0}, "ranking": {"detection": "AP50"},
             "entries": [{"name": "x|y", "kind": "submission", "status": "ok", "ranks": {"detection": 1},
                          "meta": {"team": "<script>alert(1)</script> & co_1"},
                          "results": {"detection": {"AP50": 0.5, "mAP": 0.2}}},
                         {"name": "bad<b>", "kind": "submission", "status": "invalid", "ranks": {},
                          "meta": {}, "results": None, "problems": ["grades.csv: <oops>"]}]}
    html = board_html(board)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co_1" in html
    assert '<span class="name">bad&lt;b&gt;</span> <span class="muted">invalid</span>' in html
    assert "<li>grades.csv: &lt;oops&gt;</li>" in html and "<strong>0.500</strong>" in html
    markdown = board_markdown(board)
    assert r"x\|y (&lt;script&gt;alert(1)&lt;/script&gt; &amp; co\_1)" in markdown
    assert r"x|y (<script>alert(1)</script> \& co\_1)" in board_latex(board)


def test_best_mark_goes_to_submissions_only(sample_submissions, ground_truth):
    """weak's QWK is below the all-normal reference's 0.000: the reference row is never marked best,
    and the best submission value is bold in the Markdown and in the page's overview."""
    from lssbench.report import board_html

    board = leaderboard([sample_submissions["weak"]], ground_truth, n_bootstrap=0, seed=0, workers=1)
    weak = next(e for e in board["entries"] if e["name"] == "weak")
    assert weak["results"]["grading"]["qwk"] < 0
    lines = board_markdown(board).splitlines()
    reference_row = next(line for line in lines if line.startswith("|") and "reference" in line)
    weak_row = next(line for line in lines if line.startswith("|") and "weak" in line)
    assert "**" not in reference_row
    assert weak_row.count("**") == 2 * 5  # every headline of the one submission is the best
    overview = board_html(board).split('id="overview"')[1].split("</section>")[0]
    assert overview.count("<strong>") == 5


def test_no_room_for_the_template_costs_only_its_row(sample_submissions, ground_truth, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lssbench.board.tempfile.TemporaryDirectory", no_space)
    board = leaderboard([sample_submissions["weak"]], ground_truth, n_bootstrap=5, seed=0, workers=1)
    by_name = {e["name"]: e for e in board["entries"]}
    assert by_name["weak"]["status"] == "ok"
    reference = by_name[TEMPLATE_REFERENCE]
    assert reference["status"] == "error" and reference["fault"] == "scoring-machine"
    assert "No space left on device" in reference["problems"][0]
    assert reference["meta"]["method"] == "trivial reference"
