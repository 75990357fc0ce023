"""Server-rendered SVG charts: valid XML, a title and a description, a text alternative with
every number, and labels escaped (a hostile task name cannot inject markup into the page)."""

from __future__ import annotations

from xml.etree import ElementTree  # our own output, not untrusted input

from clearinghouse.web.charts import Bar, score_bars

SVG = "{http://www.w3.org/2000/svg}"


def test_a_score_chart_is_valid_svg_with_a_title_a_description_and_a_text_alternative() -> None:
    chart = score_bars(
        "Scores", [Bar("ctf · accuracy", 0.5, 0.3, 0.7), Bar("knowledge · accuracy", 0.9)]
    )
    root = ElementTree.fromstring(  # noqa: S314
        str(chart.svg)
    )
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Scores"
    assert desc is not None and "ctf · accuracy: 50% (95% CI 30% to 70%)" in (desc.text or "")
    labelled = (root.get("aria-labelledby") or "").split()
    assert {title.get("id"), desc.get("id")} == set(labelled)
    assert chart.summary == ("ctf · accuracy: 50% (95% CI 30% to 70%); knowledge · accuracy: 90%")
    assert len(root.findall(f"{SVG}rect")) == 2


def test_labels_are_escaped() -> None:
    hostile = '<script>alert(1)</script>" onload="x'
    chart = score_bars(f"t{hostile}", [Bar(hostile, 0.2)], description=hostile)
    svg = str(chart.svg)
    assert "<script>" not in svg and 'onload="x' not in svg
    root = ElementTree.fromstring(  # noqa: S314
        svg
    )  # still well-formed
    assert not root.findall(f".//{SVG}script")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert hostile in texts  # shown as text, not as markup


def test_values_outside_zero_to_one_stay_on_the_axis_and_no_scores_is_said() -> None:
    chart = score_bars("S", [Bar("x", 1.7, -0.2, 2.0)])
    root = ElementTree.fromstring(  # noqa: S314
        str(chart.svg)
    )
    widths = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")]
    assert widths == [420.0]
    assert score_bars("S", []).summary == "no scores"
