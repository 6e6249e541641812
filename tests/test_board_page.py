"""The leaderboard page from hand-made boards: rank marks, schema-2 rank fields, links, references."""

from __future__ import annotations

import copy
import re

import pytest

from browser import Dom
from lssbench.report.html import safe_url
from lssbench.report.page import render_board_page
from test_breakdown import hand_results


def entry(name, ranks, ap50, kind="submission", meta=None, **extra):
    return {"name": name, "kind": kind, "status": "ok", "meta": meta or {}, "problems": [],
            "ranks": ranks, "results": hand_results(ap50=ap50, qwk=ap50, dice=ap50), **extra}


def board(entries, **extra):
    return {"schema_version": 1, "lssbench_version": "0.1.0", "metrics_version": "1", "split": "test",
            "gt_fingerprint": "sha256:" + "a" * 64, "tasks": ["detection", "grading", "segmentation"],
            "ranking": {"detection": "AP50", "grading": "qwk", "segmentation": "mean_dice"},
            "bootstrap": {"resamples": 100, "seed": 0, "unit": "patient"}, "entries": entries, **extra}


def task_rows(page: str, task: str) -> list[str]:
    """The text of each body row of the task's table."""
    section = page[page.index(f'<section id="task-{task}">'):]
    section = section[:section.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section.split("<tbody>")[1], flags=re.S)
    return [" ".join(Dom(row).all_text().split()) for row in rows]


RANKS = {"detection": 1, "grading": 1, "segmentation": 1}


def test_shared_ranks_read_equals_and_references_come_last():
    entries = [entry("a", {"detection": 1, "grading": 1, "segmentation": 1}, 0.8),
               entry("b", {"detection": 2, "grading": 2, "segmentation": 2}, 0.5),
               entry("c", {"detection": 2, "grading": 3, "segmentation": 3}, 0.5),
               entry("ref", {"detection": None, "grading": None, "segmentation": None}, 0.0, kind="reference")]
    page = render_board_page(board(entries))
    rows = task_rows(page, "detection")
    assert rows[0].startswith("1 a") and rows[1].startswith("=2 b") and rows[2].startswith("=2 c")
    assert rows[3] == "reference rows" and rows[4].startswith("ref 0.000")
    assert "0.800 [0.700, 0.900]" in rows[0]
    assert '<td class="num"><strong>0.800</strong><span class="ci">[0.700, 0.900]</span></td>' in page
    assert task_rows(page, "grading")[1].startswith("2 b")  # not shared there
    assert "P(first)" not in page and "overall" not in page.split("<tbody>")[0]  # schema 1: no such columns


def test_schema_2_rank_fields_are_shown_when_present():
    entries = [entry("a", RANKS, 0.8, rank_ci95={"detection": [1, 2]}, p_first={"detection": 0.75},
                     tied_with_first={"detection": True}, overall_rank=1),
               entry("b", {"detection": 2, "grading": 2, "segmentation": 2}, 0.7, rank_ci95={"detection": [1, 2]},
                     p_first={"detection": 0.25}, tied_with_first={"detection": True}, overall_rank=2),
               entry("c", {"detection": 3, "grading": 3, "segmentation": 3}, 0.1, rank_ci95={"detection": [3, 3]},
                     p_first={"detection": 0.0}, tied_with_first={"detection": False}, overall_rank=3)]
    stability = {"detection": {"kendall_tau": 0.8, "kendall_tau_ci95": [0.333, 1.0]}}
    page = render_board_page(board(entries, schema_version=2, stability=stability))
    rows = task_rows(page, "detection")
    assert rows[0] == "1 a 0.800 [0.700, 0.900] 0.400 1–2 0.75"  # the first is not marked tied with itself
    assert rows[1] == "2 † b 0.700 [0.600, 0.800] 0.350 1–2 0.25"
    assert rows[2] == "3 c 0.100 [0.000, 0.200] 0.050 3 0.00"
    assert "Kendall's tau 0.800 [0.333, 1.000]" in Dom(page).all_text()
    assert "P(first)" not in page[page.index('<section id="task-grading">'):]  # only where the board has it
    overview = page[page.index('<section id="overview">'):page.index('<section id="task-detection">')]
    assert ">overall<" in overview


@pytest.mark.parametrize("url, link", [
    ("https://example.org/x?a=1&b=2", "https://example.org/x?a=1&b=2"),
    ("http://example.org", "http://example.org"),
    ("javascript:alert(1)", None), ("ftp://example.org", None), ("https://", None),
    ("https://exa mple.org", None), ("data:text/html,<b>", None), (" https://example.org ", "https://example.org"),
    (None, None), (42, None)])
def test_only_http_urls_become_links(url, link):
    assert safe_url(url) == link


def test_entries_show_team_method_description_and_link():
    meta = {"team": "Team <T>", "method": "UNet & co", "description": "line one\nline two",
            "url": "javascript:alert(document.domain)"}
    safe = dict(meta, url="https://example.org/paper")
    page = render_board_page(board([entry("a", RANKS, 0.8, meta=meta), entry("b", RANKS, 0.8, meta=safe)]))
    dom = Dom(page)
    links = [a["href"] for t, a in dom.tags if t == "a" and not a.get("href", "").startswith("#")]
    assert links == ["https://example.org/paper"]
    text = dom.all_text()
    assert "Team <T>" in text and "UNet & co" in text and "javascript:alert(document.domain)" in text
    assert "Team &lt;T&gt;" in page


def test_invalid_and_not_judged_entries_are_listed_with_problems():
    problems = [f"grades.csv: row {i}: bad" for i in range(25)]
    entries = [entry("a", RANKS, 0.8),
               {"name": "broken", "kind": "submission", "status": "invalid", "meta": {}, "results": None,
                "ranks": {}, "problems": problems},
               {"name": "crashed", "kind": "submission", "status": "error", "fault": "scoring-machine", "meta": {},
                "results": None, "ranks": {}, "problems": ["out of memory"]}]
    page = render_board_page(board(entries, skipped=[{"name": "README.md", "reason": "not a submission"}]))
    text = Dom(page[page.index('<section id="invalid">'):]).all_text()
    assert "broken invalid grades.csv: row 0: bad" in text and "row 19: bad" in text and "row 20" not in text
    assert "… and 5 more" in text
    assert "crashed not judged (scoring-machine) out of memory" in text
    assert "README.md: not a submission" in text


def test_a_board_without_bootstrap_or_tasks_still_renders():
    lean = copy.deepcopy(entry("a", {"detection": 1}, 0.5))
    lean["results"] = {"detection": {"AP50": 0.5, "mAP": 0.2}}
    page = render_board_page({"lssbench_version": "0", "split": "test", "gt_fingerprint": "sha256:0",
                              "bootstrap": {"resamples": 0}, "ranking": {"detection": "AP50"}, "entries": [lean]})
    assert 'id="task-detection"' in page and 'id="task-grading"' not in page
    assert "none (no bootstrap)" in page


def test_a_public_board_shows_the_public_numbers_only():
    entries = [entry("a", RANKS, 0.8, overall_rank=1), entry("b", {"detection": 2, "grading": 2, "segmentation": 2},
                                                              0.6, overall_rank=2)]
    public = [{"name": "b", "kind": "submission", "status": "ok", "overall_rank": 1,
               "ranks": {"detection": 1, "grading": 1, "segmentation": 1},
               "headlines": {"detection.AP50": 0.123, "grading.qwk": 0.5, "segmentation.mean_dice": 0.5},
               "ci95": {"detection.AP50": [0.1, 0.2]}},
              {"name": "a", "kind": "submission", "status": "ok", "overall_rank": 2,
               "ranks": {"detection": 2, "grading": 2, "segmentation": 2},
               "headlines": {"detection.AP50": 0.111, "grading.qwk": 0.4, "segmentation.mean_dice": 0.4},
               "ci95": {}}]
    boards = {"public": {"entries": public, "patients": ["P1", "P2"], "stability": {}},
              "private": {"entries": [], "patients": ["P3"], "stability": {}}}
    page = render_board_page(board(entries, shown="public", boards=boards))
    rows = task_rows(page, "detection")
    assert rows[0].startswith("1 b 0.123 [0.100, 0.200]") and rows[1].startswith("2 a 0.111")
    assert "0.800" not in page and "0.600" not in page  # the all-patient (private-including) scores stay hidden
    assert 'data-figure="ap50-heatmap"' not in page and "shown on the final board only" in page
    assert "public board (2 test patients; the private ranking is not shown)" in Dom(page).all_text()


def test_figures_of_a_large_board_show_the_first_entries_by_rank_and_the_references():
    from lssbench.report.page import FIGURE_ENTRIES

    n = FIGURE_ENTRIES + 5
    entries = [entry(f"team{k:02d}", {"detection": k + 1, "grading": k + 1, "segmentation": k + 1},
                     0.9 - k / 100, overall_rank=k + 1) for k in range(n)]
    entries.append(entry("reference: template", {}, 0.0, kind="reference"))
    page = render_board_page(board(entries))
    # every entry is in the tables
    assert len([row for row in task_rows(page, "detection") if row.split()[1].startswith("team")]) == n
    forest = re.search(r'<svg[^>]*data-figure="forest-detection".*?</svg>', page, flags=re.S).group(0)
    heatmap = re.search(r'<svg[^>]*data-figure="ap50-heatmap".*?</svg>', page, flags=re.S).group(0)
    for figure in (forest, heatmap):
        assert f"team{FIGURE_ENTRIES - 1:02d}" in figure and f"team{FIGURE_ENTRIES:02d}" not in figure
        assert "reference: template" in figure
    assert page.count(f"show the first {FIGURE_ENTRIES} of {n} submissions by rank") == 4  # 3 tasks + the maps
    small = render_board_page(board(entries[:3] + entries[-1:]))
    assert "submissions by rank, and the reference rows" not in small
