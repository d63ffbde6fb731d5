"""What /healthz calls a problem: the collector keeps acknowledging, but says why it is degraded."""

from __future__ import annotations

from cxlens.api.collector import WAL_LAG_DEGRADED_SECONDS, health_problems


def test_a_healthy_collector_has_no_problems() -> None:
    assert health_problems(0.4, writer_alive=True, quarantined=0) == []


def test_a_dead_writer_is_reported_with_what_to_do() -> None:
    [problem] = health_problems(0.0, writer_alive=False, quarantined=0)
    assert "not running" in problem and "restart" in problem


def test_quarantined_segments_are_reported_with_their_number() -> None:
    [problem] = health_problems(0.0, writer_alive=True, quarantined=2)
    assert problem.startswith("2 WAL segment(s)") and "wal/quarantine/" in problem


def test_a_writer_far_behind_is_reported_and_a_short_lag_is_not() -> None:
    assert health_problems(WAL_LAG_DEGRADED_SECONDS - 1, writer_alive=True, quarantined=0) == []
    [problem] = health_problems(WAL_LAG_DEGRADED_SECONDS + 30, writer_alive=True, quarantined=0)
    assert "90 s behind" in problem
