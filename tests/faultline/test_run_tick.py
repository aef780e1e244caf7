"""The detect thread of `faultline run` closes a window when the event clock reaches its close, not on a later poll."""

from __future__ import annotations

from types import SimpleNamespace

from detectors.engine import DetectorEngine, EngineConfig
from faultline.run import POLL_S, Faultline
from runtime.clock import EventClock

HOUR_MS = 3_600_000
T0 = 1_700_000_000_000 // HOUR_MS * HOUR_MS


def _loop(engine: DetectorEngine, wall: list[float]) -> SimpleNamespace:
    """What `Faultline._wait_s` reads: the pipeline's event clock and detector engine."""
    clock = EventClock(wall=lambda: wall[0], epoch=lambda: T0 / 1000)
    return SimpleNamespace(pipeline=SimpleNamespace(clock=clock, detectors=engine))


def test_the_wait_for_records_ends_when_the_next_window_closes():
    engine = DetectorEngine(EngineConfig(window_s=60, lateness_s=5))
    wall = [100.0]
    loop = _loop(engine, wall)
    assert Faultline._wait_s(loop) == POLL_S  # no event time yet: nothing can close

    loop.pipeline.clock.observe(T0 + 10_000)
    engine.tick(loop.pipeline.clock())
    assert engine.close_at == T0 + 65_000  # the window [T0, T0 + 60 s) closes 5 s after its end
    assert Faultline._wait_s(loop) == POLL_S  # 55 s away

    wall[0] += 54.95  # the event clock runs on at wall speed: 50 ms before the close
    assert abs(Faultline._wait_s(loop) - 0.05) < 1e-6

    wall[0] += 0.1  # past the close: the loop ticks at once
    assert Faultline._wait_s(loop) == 0.001
    assert loop.pipeline.clock() >= engine.close_at
    engine.tick(loop.pipeline.clock())
    assert engine.close_at == T0 + 125_000
    assert Faultline._wait_s(loop) == POLL_S
