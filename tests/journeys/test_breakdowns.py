"""Breakdowns and segments by person attributes: account firmographics and profile traits."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.identity import resolve
from cxlens.identity.profiles import build_profiles
from cxlens.journeys.analyses import run_document
from cxlens.store.workspace import Workspace
from support import journeys


def ev(at: str, event: str, **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, **kw}


def identify(at: str, **traits: Any) -> dict[str, Any]:
    return {"at": at, "type": "identify", "properties": traits}


def group(at: str, account: str, **traits: Any) -> dict[str, Any]:
    return {"at": at, "type": "group", "account_id": account, "properties": traits}


PEOPLE = {
    # Acme (Handel, 250 employees): ann buys, bob only looks
    "ann": [identify("2024-05-01 09:00", age_group="25-34"),
            group("2024-05-01 09:01", "acme", industry="Handel", employees=250),
            ev("2024-05-01 10:00", "Product Viewed", account_id="acme"),
            ev("2024-05-01 10:05", "Order Completed", account_id="acme"),
            ev("2024-05-09 10:00", "Product Viewed", account_id="acme")],
    "bob": [identify("2024-05-01 09:00", age_group="35-44"),
            ev("2024-05-01 10:00", "Product Viewed", account_id="acme")],
    # Bau GmbH changed industry: the latest group call wins
    "cem": [group("2024-05-01 09:00", "bau", industry="Handwerk", size="10-49"),
            group("2024-05-02 09:00", "bau", industry="Bau"),
            ev("2024-05-02 10:00", "Product Viewed", account_id="bau"),
            ev("2024-05-02 10:05", "Order Completed", account_id="bau")],
    # no account, no traits
    "dan": [ev("2024-05-03 10:00", "Product Viewed")],
}


@pytest.fixture
def shop(ws: Workspace) -> DuckDBEngine:
    ws.append(journeys(PEOPLE), source="test")
    resolve(ws)
    build_profiles(ws)
    return DuckDBEngine(ws)


def counts(doc: dict[str, Any]) -> dict[str, list[int]]:
    return {k: [s["persons"] for s in v] for k, v in doc["breakdown"].items()}


def test_funnel_breaks_down_by_account_industry_and_size(shop: DuckDBEngine) -> None:
    spec = {"steps": ["Product Viewed", "Order Completed"]}
    by_industry = run_document(shop, "funnel", {**spec, "breakdown": "account.industry"})
    assert counts(by_industry) == {"Handel": [2, 1], "Bau": [1, 1], "(none)": [1, 0]}
    by_size = run_document(shop, "funnel", {**spec, "breakdown": "account.size"})
    assert counts(by_size) == {"250": [2, 1], "10-49": [1, 1], "(none)": [1, 0]}


def test_funnel_breaks_down_by_a_profile_trait(shop: DuckDBEngine) -> None:
    doc = run_document(shop, "funnel", {"steps": ["Product Viewed", "Order Completed"],
                                        "breakdown": "trait.age_group"})
    assert counts(doc) == {"25-34": [1, 1], "35-44": [1, 0], "(none)": [2, 1]}


def test_paths_and_retention_break_down_by_person_attribute(shop: DuckDBEngine) -> None:
    paths = run_document(shop, "paths", {"breakdown": "account", "per_session": False})
    assert {v: d["persons"] for v, d in paths["breakdown"].items()} == {
        "acme": 2, "bau": 1, "(none)": 1}
    assert paths["persons"] == 4
    ret = run_document(shop, "retention", {"period": "week", "breakdown": "account.industry"})
    handel = ret["breakdown"]["Handel"]
    assert handel["cohorts"][0]["persons"] == 2 and handel["cohorts"][0]["retained"][1] == 1
    assert ret["breakdown"]["Bau"]["buyers"] == 1 and ret["buyers"] == 2


def test_graph_filters_a_segment_by_person_attribute(shop: DuckDBEngine) -> None:
    doc = run_document(shop, "graph", {"where": ["account.industry=Handel"]})
    assert doc["traces"] == 2
    edges = {(e["source"], e["target"]): e["persons"] for e in doc["edges"]}
    assert edges == {("Product Viewed", "Order Completed"): 1,
                     ("Order Completed", "Product Viewed"): 1}
    by_trait = run_document(shop, "graph", {"breakdown": "trait.age_group"})
    assert by_trait["breakdown"]["25-34"]["traces"] == 1


def test_event_fields_are_no_person_breakdown_for_paths(shop: DuckDBEngine) -> None:
    with pytest.raises(SpecError) as err:
        run_document(shop, "paths", {"breakdown": "channel"})
    assert err.value.field == "breakdown"
    with pytest.raises(SpecError) as err:
        run_document(shop, "retention", {"breakdown": "account.revenue"})
    assert "unknown person attribute" in str(err.value)


def test_persona_breakdown_without_a_persona_run_says_how_to_fix(shop: DuckDBEngine) -> None:
    with pytest.raises(SpecError, match="cxlens personas discover"):
        run_document(shop, "funnel", {"steps": ["Product Viewed"], "breakdown": "persona"})


def test_cli_breaks_down_paths_graph_and_retention(shop: DuckDBEngine, capsys: Any) -> None:
    import json

    from support import run_cli

    root = str(shop.ws.root)
    code, out, err = run_cli(capsys, "--workspace", root, "paths", "--breakdown", "account",
                             "--across-sessions", "--json")
    assert code == 0, err
    assert json.loads(out)["breakdown"]["acme"]["persons"] == 2
    code, out, err = run_cli(capsys, "--workspace", root, "retention", "--breakdown",
                             "account.industry")
    assert code == 0, err
    assert "Handel" in out and "retained after 1 period" in out
    code, out, err = run_cli(capsys, "--workspace", root, "graph", "--where",
                             "trait.age_group=25-34", "--json")
    assert code == 0, err
    assert json.loads(out)["traces"] == 1
    code, _, err = run_cli(capsys, "--workspace", root, "paths", "--breakdown", "device")
    assert code == 2 and "must be a person attribute" in err
    assert len(err.strip().splitlines()) == 1
