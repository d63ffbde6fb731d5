from __future__ import annotations

import pytest

from cxlens.errors import SpecError
from cxlens.journeys.sessions import sessionize
from cxlens.store.workspace import Workspace
from support import journeys


def _sessions(ws: Workspace, timeout: float = 30) -> dict[str, list[tuple[str, str]]]:
    rel = sessionize(ws.events(), timeout).order("timestamp")
    out: dict[str, list[tuple[str, str]]] = {}
    for event, sid, channel in rel.select("event, session_id, session_channel").fetchall():
        out.setdefault(sid, []).append((event, channel))
    return out


def test_thirty_minutes_of_silence_starts_a_new_session(ws: Workspace) -> None:
    ws.append(journeys({"eva": [
        {"at": "2024-05-01 10:00", "event": "Home"},
        {"at": "2024-05-01 10:29", "event": "Product"},
        {"at": "2024-05-01 11:00", "event": "Home again"},  # 31 minutes later
    ]}), source="test")
    assert [len(v) for v in _sessions(ws).values()] == [2, 1]


def test_the_session_timeout_is_configurable(ws: Workspace) -> None:
    ws.append(journeys({"eva": [
        {"at": "2024-05-01 10:00", "event": "A"}, {"at": "2024-05-01 10:20", "event": "B"},
    ]}), source="test")
    assert len(_sessions(ws, timeout=30)) == 1
    assert len(_sessions(ws, timeout=10)) == 2


def test_sessions_run_across_midnight_and_batches(ws: Workspace) -> None:
    ws.append(journeys({"max": [{"at": "2024-05-01 23:50", "event": "A"}]}), source="test")
    ws.append(journeys({"max": [{"at": "2024-05-02 00:10", "event": "B"}]}), source="test")
    assert len(_sessions(ws)) == 1


def test_a_session_id_sent_by_the_sdk_is_kept(ws: Workspace) -> None:
    ws.append(journeys({"ida": [
        {"at": "2024-05-01 10:00", "event": "A", "session_id": "sdk-1"},
        {"at": "2024-05-01 12:00", "event": "B", "session_id": "sdk-1"},
    ]}), source="test")
    assert list(_sessions(ws)) == ["sdk-1"]


def test_internal_pages_take_the_channel_of_the_landing_page(ws: Workspace) -> None:
    ws.append(journeys({"tom": [
        {"at": "2024-05-01 10:00", "type": "page", "event": "Landing",
         "page": "https://shop.de/?gclid=abc", "referrer": "https://www.google.de/"},
        {"at": "2024-05-01 10:02", "type": "page", "event": "Product",
         "page": "https://shop.de/p/1", "referrer": "https://shop.de/?gclid=abc"},
        {"at": "2024-05-01 10:05", "event": "Order Completed"},
    ]}), source="test")
    (session,) = _sessions(ws).values()
    assert session == [("Landing", "paid_search"), ("Product", "paid_search"),
                       ("Order Completed", "paid_search")]
    stored = dict(ws.events().select("event, channel").fetchall())
    assert stored == {"Landing": "paid_search", "Product": None, "Order Completed": None}


def test_a_non_positive_timeout_is_refused(ws: Workspace) -> None:
    with pytest.raises(SpecError, match="positive"):
        sessionize(ws.events(), 0)
