"""The generated pages opened in headless Chromium: names, SVG figures, no network, text stays text."""

from __future__ import annotations

import json
import shutil

import pytest

from browser import Dom, load, screenshot

HOSTILE_FOLDER = '<b onmouseover="alert(1)">evil'
HOSTILE_META = {
    "team": "<script>document.body.dataset.pwned = 'team'</script>",
    "method": '<img src="http://attacker.invalid/m.png" onerror="document.body.dataset.pwned=1">',
    "description": "</td></tr></table><style>body{display:none}</style> & <!-- not a comment",
    "url": 'https://example.org/a"onmouseover="document.body.dataset.pwned=1',
}


@pytest.fixture(scope="module")
def hostile_submission(sample_submissions, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / HOSTILE_FOLDER
    shutil.copytree(sample_submissions["weak"], folder)
    (folder / "meta.json").write_text(json.dumps(HOSTILE_META))
    return folder


@pytest.fixture(scope="module")
def board(ground_truth, sample_submissions, hostile_submission, tmp_path_factory):
    from lssbench.board import leaderboard

    broken = tmp_path_factory.mktemp("broken") / "broken-upload"
    shutil.copytree(sample_submissions["jittered"], broken)
    (broken / "grades.csv").write_text("patient_id,level,side,severity\nPATIENT0,L9-L9,up,7\n")
    paths = [sample_submissions["perfect"], sample_submissions["jittered"], hostile_submission, broken]
    return leaderboard(paths, ground_truth, n_bootstrap=50, seed=0, workers=1)


@pytest.fixture(scope="module")
def board_page(board, tmp_path_factory):
    from lssbench.report.page import render_board_page

    path = tmp_path_factory.mktemp("board") / "leaderboard.html"
    path.write_text(render_board_page(board), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report_page(ground_truth, hostile_submission, tmp_path_factory):
    from lssbench.report.submission import submission_report
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    submission = load_submission(hostile_submission, ground_truth)
    results = Evaluator(ground_truth).evaluate(submission, n_bootstrap=50)
    return submission_report(tmp_path_factory.mktemp("report") / "out", results, ground_truth, submission,
                             name=HOSTILE_FOLDER)


@pytest.fixture(scope="module")
def board_dom(board_page):
    return load(board_page)


@pytest.fixture(scope="module")
def report_dom(report_page):
    return load(report_page)


def assert_offline_and_inert(dom_text: str, requests: list[str]):
    dom = Dom(dom_text)
    assert requests == []
    assert dom.external_references() == []
    assert dom.count("script") == 0 and dom.count("iframe") == 0 and dom.count("link") == 0
    assert "data-pwned" not in dom_text  # no injected handler or script ran
    assert "attacker.invalid" not in " ".join(v for _, a in dom.tags for v in a.values())
    ids = [a["id"] for _, a in dom.tags if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids: the figures' clip paths and markers would mix"
    return dom


def test_the_network_check_can_fail(tmp_path):
    """The proxy does see a page that loads something from the network."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>')
    dom_text, requests = load(page)
    assert any("example.invalid" in line for line in requests), requests
    assert Dom(dom_text).external_references() == [("img", "src", "http://example.invalid/x.png")]


def test_board_page_lists_every_entry_with_svg_figures(board, board_dom):
    dom_text, requests = board_dom
    dom = assert_offline_and_inert(dom_text, requests)
    text = dom.all_text()
    for entry in board["entries"]:
        assert entry["name"] in text, entry["name"]
    assert "broken-upload" in text and "grades.csv" in text  # the invalid one, with its problems
    figures = [a.get("data-figure") for t, a in dom.tags if t == "svg" and "data-figure" in a]
    assert {"forest-detection", "forest-grading", "forest-segmentation", "ap50-heatmap"} <= set(figures)
    assert {"dice-per-class", "hd95-per-class"} <= set(figures)


def test_board_page_keeps_untrusted_text_as_text(board_dom):
    dom_text, _ = board_dom
    dom = Dom(dom_text)
    text = dom.all_text()
    assert HOSTILE_FOLDER in text
    assert HOSTILE_META["team"] in text and HOSTILE_META["method"] in text
    assert "</td></tr></table><style>body{display:none}</style>" in text
    assert dom.count("img") == 0 and dom.count("b") == 0
    assert not any("display:none" in css for css in dom.styles)
    links = [a["href"] for t, a in dom.tags if t == "a" and a.get("href", "").startswith("http")]
    assert links == [HOSTILE_META["url"]]  # one attribute value, quotes and all


def test_report_page_shows_the_figures_and_keeps_text_inert(report_dom):
    dom_text, requests = report_dom
    dom = assert_offline_and_inert(dom_text, requests)
    figures = {a.get("data-figure") for t, a in dom.tags if t == "svg" and "data-figure" in a}
    assert figures == {"pr-per-level", "pr-per-side", "confusion", "reliability", "dice-per-class",
                       "hd95-per-class", "worst-cases"}
    text = dom.all_text()
    assert HOSTILE_FOLDER in text and HOSTILE_META["team"] in text and HOSTILE_META["method"] in text
    assert dom.count("img") == 0 and dom.count("b") == 0
    assert not any("display:none" in css for css in dom.styles)
    assert "mean Dice" in text and "every graded foramen" in text.lower()


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_render_to_a_screenshot_at_desktop_and_phone_width(board_page, report_page, tmp_path, width):
    from PIL import Image

    for page in (board_page, report_page):
        out = tmp_path / f"{page.stem}-{width}.png"
        assert screenshot(page, out, width, 1600) == []
        with Image.open(out) as image:
            assert image.size == (width, 1600)
            assert len(image.convert("L").getcolors(256) or []) > 20  # drawn, not a blank page
