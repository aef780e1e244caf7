"""The one command behind docs/detection.md: rows from real runs, written between the markers."""

import pytest

from faultline.evaluation.tables import BEGIN, DOC, END, Run, scenario_row, write


def test_a_scenario_row_states_detection_tickets_and_false_alarms():
    row = scenario_row(Run("stuck-sensor", (0,), 20, 0.5))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["stuck-sensor", "20 × 0.5 d", "0", "1/1"]
    assert cells[6].startswith("1/1, 1 with one ticket") and cells[-1] == "0"


def test_write_replaces_only_the_part_between_the_markers(tmp_path):
    doc = tmp_path / "detection.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n{END}\noutro\n")
    write(doc, "new table")
    assert doc.read_text() == f"intro\n{BEGIN}\nnew table\n{END}\noutro\n"
    doc.write_text("no markers")
    with pytest.raises(SystemExit):
        write(doc, "x")


def test_the_shipped_doc_has_the_markers():
    text = DOC.read_text()
    assert BEGIN in text and END in text
