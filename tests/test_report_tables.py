from lssbench.report.tables import console_table, fmt, fmt_ci, latex_escape, latex_table, markdown_table


def test_fmt_numbers_and_missing():
    assert fmt(0.91234) == "0.912"
    assert fmt(None) == "-"
    assert fmt(7) == "7"
    assert fmt_ci(0.5, [0.4, 0.61]) == "0.500 [0.400, 0.610]"
    assert fmt_ci(0.5, None) == "0.500"


def test_console_table_aligns_columns():
    text = console_table(["name", "x"], [["a", "1.000"], ["long name", "0.5"]])
    assert text.splitlines() == ["name           x", "---------  -----", "a          1.000", "long name    0.5"]


def test_markdown_table():
    assert markdown_table(["m", "AP50"], [["a", "**1.000**"]]) == "| m | AP50 |\n| --- | ---: |\n| a | **1.000** |\n"


def test_latex_table_is_booktabs_and_escaped():
    text = latex_table(["method", "QWK"], [[latex_escape("team_a & co"), "0.8"]], caption="c")
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert r"team\_a \& co & 0.8 \\" in text
    assert r"\begin{tabular}{lr}" in text
