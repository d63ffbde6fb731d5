"""Survey events on the journey map: in the stage their survey asks about."""

from __future__ import annotations

from datetime import date

from cxlens.store.workspace import Workspace
from cxlens.web import journeymap, queries
from support import journeys


def test_a_checkout_survey_answer_stays_in_purchase_and_an_unknown_stage_falls_back(ws: Workspace) -> None:
    ev = {"alice": [{"event": "Order Completed", "at": "2025-06-02 10:00"},
                    {"event": "Survey Answered", "at": "2025-06-02 10:01",
                     "properties": {"survey_id": "nps-checkout", "stage": "purchase"}}],
          "bob": [{"event": "Survey Answered", "at": "2025-06-03 10:00",
                   "properties": {"survey_id": "x", "stage": "no-such-stage"}}]}
    ws.append(journeys(ev), source="test")
    con = queries.connect(ws, "default")
    try:
        jm = journeymap.journey_map(con, queries.last_days(30, date(2025, 6, 10)))
    finally:
        con.close()
    purchase, service = jm.cell("purchase", None), jm.cell("service", None)
    assert purchase is not None and purchase.persons == 1
    assert service is not None and service.persons == 1  # bob: the built-in mapping
