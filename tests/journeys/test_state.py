"""Journey state per person and per account: current stage, history, time in stage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.journeys.state import StateSpec, state, write_traits
from cxlens.journeys.touchpoints import EXAMPLES, load_definition
from cxlens.store.workspace import Workspace
from support import journeys, run_cli, ts

B2B = load_definition(EXAMPLES / "b2b.toml")


def ev(at: str, event: str, account: str = "acme", **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, "account_id": account, **kw}


PEOPLE = {
    # Acme: Ute downloads a whitepaper and asks for a demo; Max signs the contract later
    "ute": [ev("2024-05-01 10:00", "Whitepaper Downloaded"),
            ev("2024-05-03 10:00", "Demo Requested"),
            ev("2024-05-04 10:00", "Sales Call")],
    "max": [ev("2024-05-02 09:00", "Whitepaper Downloaded"),
            ev("2024-05-06 09:00", "Contract Signed"),
            ev("2024-05-07 09:00", "Whitepaper Downloaded")],
    # Bau: one person, still reading
    "eva": [ev("2024-05-05 12:00", "Whitepaper Downloaded", account="bau")],
}
AS_OF = ts("2024-05-11 10:00")


@pytest.fixture
def b2b(ws: Workspace) -> Workspace:
    ws.append(journeys(PEOPLE), source="test")
    return ws


def test_person_state_has_current_stage_history_and_days_in_stage(b2b: Workspace) -> None:
    result = state(DuckDBEngine(b2b), StateSpec(B2B, as_of=AS_OF))
    ute = result.get("ute")
    assert ute.current_stage == "Consideration"
    assert ute.stage_entered_at == "2024-05-03T10:00:00+00:00"
    assert ute.days_in_stage == 8.0
    assert ute.stages_reached == ("Awareness", "Consideration")
    assert [(h.stage, h.entered_at[:10]) for h in ute.history] == [
        ("Awareness", "2024-05-01"), ("Consideration", "2024-05-03")]
    # back to awareness after signing: current is the last stage entered, furthest kept
    max_ = result.get("max")
    assert (max_.current_stage, max_.furthest_stage) == ("Awareness", "Decision")
    assert max_.stages_reached == ("Awareness", "Decision")
    summary = {s.stage: (s.current, s.reached) for s in result.stages}
    assert summary["Awareness"] == (2, 3) and summary["Decision"] == (0, 1)


def test_account_state_is_the_furthest_stage_any_member_reached(b2b: Workspace) -> None:
    result = state(DuckDBEngine(b2b), StateSpec(B2B, level="account", as_of=AS_OF))
    acme = result.get("acme")
    assert acme.current_stage == "Decision" and acme.persons == 2
    assert acme.stage_entered_at == "2024-05-06T09:00:00+00:00"
    assert acme.days_in_stage == pytest.approx(5 + 1 / 24)
    assert [(h.stage, h.entered_at[:10]) for h in acme.history] == [
        ("Awareness", "2024-05-01"), ("Consideration", "2024-05-03"), ("Decision", "2024-05-06")]
    assert result.get("bau").current_stage == "Awareness"
    assert result.to_dict()["count"] == 2


def test_state_is_written_back_as_computed_profile_traits(b2b: Workspace) -> None:
    from cxlens.identity import resolve
    from cxlens.identity.profiles import profile

    resolve(b2b)
    result = state(DuckDBEngine(b2b), StateSpec(B2B, as_of=AS_OF))
    assert write_traits(b2b, None, result) == 4 * 3
    p = profile(b2b, None, "ute")
    assert p.computed["current_stage"] == "Consideration"
    assert p.computed["stages_reached"] == ["Awareness", "Consideration"]
    assert p.computed["days_in_stage"] == 8.0
    assert p.computed["stage_entered_at"].startswith("2024-05-03T10:00:00")
    assert p.computed_sources["current_stage"] == "journeys:b2b"
    # and breakdowns see them as trait.current_stage
    from cxlens.journeys.analyses import run_document

    doc = run_document(DuckDBEngine(b2b), "funnel", {
        "steps": ["Whitepaper Downloaded"], "breakdown": "trait.current_stage"})
    assert {k: v[0]["persons"] for k, v in doc["breakdown"].items()} == {
        "Awareness": 2, "Consideration": 1}


def test_cli_journey_state_table_json_and_traits(b2b: Workspace, capsys: Any) -> None:
    root = str(b2b.root)
    code, out, err = run_cli(capsys, "--workspace", root, "journey", "state", "b2b", "--json",
                             "--account", "--as-of", "2024-05-11T10:00")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["level"] == "account"
    assert [r["id"] for r in doc["rows"]] == ["acme", "bau"]
    code, out, err = run_cli(capsys, "--workspace", root, "journey", "state", "b2b")
    assert code == 0, err
    assert "Consideration" in out and "ute" in out
    code, out, err = run_cli(capsys, "--workspace", root, "journey", "state", "b2b",
                             "--write-traits")
    assert code == 0, err
    assert "wrote 12 profile trait rows" in out
    code, _, err = run_cli(capsys, "--workspace", root, "journey", "state", "nope")
    assert code == 2 and "no journey definition 'nope'" in err


def test_state_spec_errors_name_the_field() -> None:
    from cxlens.journeys.state import spec_from_dict

    with pytest.raises(SpecError) as err:
        spec_from_dict({}, None)
    assert err.value.field == "journey"
    with pytest.raises(SpecError) as err:
        spec_from_dict({"level": "company"}, B2B)
    assert err.value.field == "level"


def test_journey_state_endpoint_answers_and_names_bad_fields(b2b: Workspace) -> None:
    from fastapi.testclient import TestClient

    from cxlens.api.app import create_app
    from cxlens.store.keys import create_project

    keys = create_project(b2b.catalog, "shop")
    b2b.append(journeys(PEOPLE), source="test", project="shop")
    http = TestClient(create_app(b2b.root))
    auth = {"Authorization": f"Bearer {keys.secret_key}"}
    res = http.post("/api/v1/journey/state", json={"journey": "b2b", "level": "account"},
                    headers=auth)
    assert res.status_code == 200, res.text
    assert {r["id"]: r["current_stage"] for r in res.json()["rows"]} == {
        "acme": "Decision", "bau": "Awareness"}
    res = http.post("/api/v1/journey/state", json={"level": "account"}, headers=auth)
    assert res.status_code == 400 and res.json()["field"] == "journey"
