"""The journey map's cells coloured by the sentiment of the feedback given in them: each
cell (stage x channel) has its own mean and count, not its stage's.

The journey below is declarative: who entered which stage through which channel, and
which feedback (stage, stored sentiment, text or a bare rating) each person gave."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.identity.freshness import refresh
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.store.workspace import Workspace
from cxlens.web import journeymap, queries
from cxlens.web.auth import add_user
from support import journeys
from web.web_support import PASSWORD, login

NOW = datetime.now(UTC).replace(microsecond=0)

#: person -> (channel they came through, stages' entering events)
PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "alice": ("email", ("Product Viewed", "Order Completed")),
    "bob": ("search", ("Product Viewed", "Order Completed", "Order Delivered")),
    "carol": ("search", ("Product Viewed", "Order Completed", "Order Delivered")),
    "dave": ("email", ("Product Viewed", "Order Completed")),
}
#: (person or None for an unknown one, stage, stored sentiment, text, kind, score, scale max)
FEEDBACK: tuple[tuple[str | None, str, float | None, str | None, str, float | None, float | None], ...] = (
    ("alice", "purchase", 0.8, "Schneller Checkout", "nps", 10.0, 10.0),
    ("bob", "purchase", -0.6, "Zahlung abgelehnt", "nps", 4.0, 10.0),
    ("carol", "purchase", -0.2, "Ging so", "nps", 7.0, 10.0),
    (None, "purchase", 1.0, "Toll", "nps", 10.0, 10.0),  # nobody we know: the stage total only
    ("bob", "delivery", None, None, "nps", 0.0, 10.0),  # a bare 0 of 10: -1
    ("carol", "delivery", None, "Die Lieferung war super schnell, vielen Dank!", "custom", None, None),
)


def _events() -> pa.Table:
    people: dict[str, list[dict[str, Any]]] = {}
    for person, (channel, events) in PATHS.items():
        start = NOW - timedelta(days=3)
        people[person] = [{"event": e, "at": (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S"),
                           "channel": channel} for i, e in enumerate(events)]
    return journeys(people)


def _feedback(root: Path, feedback: tuple[tuple[Any, ...], ...] = FEEDBACK, name: str = "test") -> None:
    rows = []
    for i, (person, stage, stored, text, kind, score, top) in enumerate(feedback):
        props: dict[str, Any] = {"stage": stage}
        if stored is not None:
            props["sentiment_score"] = stored
        rows.append({"project": "default", "feedback_id": f"fb-{name}-{i}", "timestamp": NOW - timedelta(days=3, hours=-5),
                     "user_id": person or "stranger", "kind": kind, "score": score, "scale_max": top,
                     "text": text, "language": "de" if text else None, "touchpoint": "survey",
                     "source": "test", "properties": json.dumps(props)})
    out = root / "tables" / "feedback" / "project=default"
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=FEEDBACK_SCHEMA), out / f"part-{name}.parquet")


@pytest.fixture
def mapped(ws: Workspace) -> Workspace:
    ws.append(_events(), source="test")
    _feedback(ws.root)
    return ws


def _map(ws: Workspace) -> journeymap.JourneyMap:
    con = queries.connect(ws, "default")
    try:
        return journeymap.journey_map(con, queries.last_days(30, NOW.date() + timedelta(days=1)),
                                      queries.feedback_files(ws, "default"))
    finally:
        con.close()


def test_each_cell_has_the_mean_sentiment_and_count_of_its_own_persons_feedback(mapped: Workspace) -> None:
    jm = _map(mapped)

    def cell(stage: str, channel: str | None) -> tuple[float | None, int]:
        c = jm.cell(stage, channel)
        assert c is not None, (stage, channel)
        return (None if c.sentiment is None else round(c.sentiment, 4)), c.feedback

    assert cell("purchase", "email") == (0.8, 1)  # alice; dave gave none
    assert cell("purchase", "search") == (-0.4, 2)  # bob -0.6, carol -0.2
    assert cell("purchase", None) == (0.25, 4)  # plus the stranger's +1.0
    assert cell("consideration", "email") == (None, 0)  # nobody gave feedback there
    mean, n = cell("delivery", "search")  # bob's bare 0 of 10 counts -1
    assert n == 2 and mean is not None
    carol_text = 2 * mean - (-1.0)  # the text's own sentiment, computed offline
    assert carol_text > 0.3, "a clearly positive German text"


def test_feedback_of_a_person_who_denied_analytics_consent_counts_nowhere(mapped: Workspace) -> None:
    start = NOW - timedelta(days=3)
    at = [(start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(3)]
    mapped.append(journeys({"erin": [
        {"event": "Product Viewed", "at": at[0], "channel": "email"},
        {"event": "Order Completed", "at": at[1], "channel": "email"},
        {"event": "Consent Updated", "at": at[2], "properties": {"analytics": "denied"}},
    ]}), source="test")
    refresh(mapped)
    _feedback(mapped.root, (("erin", "purchase", -1.0, "Katastrophe", "nps", 0.0, 10.0),), "erin")
    jm = _map(mapped)
    for channel, expected in (("email", (0.8, 1)), (None, (0.25, 4))):  # as without erin
        c = jm.cell("purchase", channel)
        assert c is not None and c.sentiment is not None
        assert (round(c.sentiment, 4), c.feedback) == expected


def test_the_map_page_colours_cells_and_names_cells_without_feedback(mapped: Workspace) -> None:
    add_user(mapped.catalog, "maria", PASSWORD, "viewer", ["default"])
    with TestClient(create_app(mapped.root)) as c:
        login(c, "maria")
        en = c.get("/journey?project=default&days=30", headers={"accept-language": "en"}).text
        de = c.get("/journey?project=default&days=30", headers={"accept-language": "de"}).text

    def td(html: str, stage: str, channel: str) -> tuple[str, str]:
        m = re.search(rf'<td class="([^"]*)"><a [^>]*data-stage="{stage}" data-channel="{channel}">(.*?)</a></td>',
                      html, re.S)
        assert m is not None, (stage, channel)
        return m.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(2))).strip()

    cls, text = td(en, "purchase", "email")
    assert "mood-pos2" in cls and "Sentiment +0.80 (positive) · 1 feedback" in text
    cls, text = td(en, "purchase", "search")
    assert "mood-neg" in cls.split() and "Sentiment -0.40 (negative) · 2 feedback" in text
    cls, text = td(en, "consideration", "email")
    assert "mood-none" in cls and text.endswith("no feedback")
    cls, text = td(de, "purchase", "search")
    assert "Stimmung -0,40 (negativ) · 2 Feedbacks" in text
    assert "kein Feedback" in td(de, "consideration", "search")[1]
    for m in ("neg2", "neg", "neu", "pos", "pos2", "none"):  # the colour scale's legend
        assert f'class="sw mood-{m}"' in en
    assert "very negative (≤ \u22120.5)" in en and "no feedback" in en
