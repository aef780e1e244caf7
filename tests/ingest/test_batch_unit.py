"""A batch without services: its body, rollback to a mark, and which message owns a line."""

from __future__ import annotations

import pytest

from ingest.batch import Batch, SourceMessage, SpooledBatch


def source(first: int, count: int, topic: str = "devices/d/telemetry") -> SourceMessage:
    return SourceMessage(topic, b"{}", 0, "d", "", first, count)


@pytest.mark.parametrize("lines, body", [
    ([], b""),
    (["a x=1"], b"a x=1\n"),
    (["a x=1", "b y=2"], b"a x=1\nb y=2\n"),
])
def test_body_is_the_lines_newline_terminated(lines, body):
    assert Batch(lines=list(lines)).body() == body


def test_rollback_restores_every_list_and_the_totals_but_not_the_stats():
    b = Batch()
    b.lines.append("kept x=1")
    b.messages, b.bytes = 1, 10
    marks = b.marks()
    b.lines.append("dropped x=2")
    b.sources.append(source(1, 1))
    b.acks.append((1, 1, 0))
    b.fields.append(("d", "x", 0))
    b.messages, b.bytes = 2, 25
    b.stats[("stored", "", "")] += 1
    b.rollback(marks)
    assert (b.lines, b.sources, b.acks, b.fields, b.messages, b.bytes) == (["kept x=1"], [], [], [], 1, 10)
    assert b.stats[("stored", "", "")] == 1


def test_spooled_keeps_lines_and_sources_only():
    b = Batch(lines=["a x=1"], sources=[source(0, 1)], acks=[(1, 1, 0)])
    assert b.spooled() == SpooledBatch(["a x=1"], [source(0, 1)])


SPOOLED = SpooledBatch(["l0", "l1", "l2", "l3", "l4"], [source(0, 2, "t/a"), source(2, 1, "t/b"), source(4, 1, "t/c")])


@pytest.mark.parametrize("line, topic", [(0, "t/a"), (1, "t/a"), (2, "t/b"), (3, None), (4, "t/c"), (5, None)])
def test_source_of_a_line(line, topic):
    src = SPOOLED.source_of(line)
    assert (src.topic if src else None) == topic
