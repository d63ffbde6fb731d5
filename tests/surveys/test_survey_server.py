"""The survey path through the real server on loopback: the public survey list for the
snippet, answers through the collector into feedback (with consent only), the server-side
cap, personal e-mail links (once per link) and detractor alerts to a real webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from collector_server import Live

from cxlens.store.workspace import Workspace
from cxlens.surveys import links
from cxlens.surveys.definitions import load_file, survey_from_dict
from cxlens.surveys.store import save_survey
from support import REPO


class Hook(BaseHTTPRequestHandler):
    got: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        Hook.got.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hook() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/hook"
    srv.shutdown()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, hook: str) -> Iterator[Live]:
    env = Live(tmp_path_factory.mktemp("surveys") / "ws")
    ws = Workspace.open(env.root)
    try:
        save_survey(ws.catalog, "shop", load_file(REPO / "examples" / "surveys" / "nps-checkout.toml"))
        save_survey(ws.catalog, "shop", survey_from_dict({
            "id": "csat-delivery", "name": "Lieferung", "touchpoint": "delivery",
            "questions": [{"id": "csat", "kind": "csat", "text": {"de": "Zufrieden?", "en": "Satisfied?"}},
                          {"id": "why", "kind": "text", "text": {"de": "Warum?", "en": "Why?"}}],
            "targeting": {"trigger": "stage", "stage": "delivery", "every_days": 30}}))
        save_survey(ws.catalog, "shop", survey_from_dict({
            "id": "paused", "name": "P", "touchpoint": "x", "active": False,
            "questions": [{"id": "ces", "kind": "ces", "text": {"de": "d", "en": "e"}}]}))
    finally:
        ws.close()
    (env.root / "cxlens.toml").write_text(
        (env.root / "cxlens.toml").read_text() + f'\n[alerts]\nwebhook = "{hook}"\n')
    yield env
    env.server.stop()


def feedback(root: Path, project: str = "shop") -> list[dict[str, Any]]:
    files = sorted(str(p) for p in (root / "tables" / "feedback" / f"project={project}").glob("*.parquet"))
    if not files:
        return []
    ws = Workspace.open(root)
    try:
        cur = ws.con.execute("SELECT * FROM read_parquet(?) ORDER BY feedback_id", [files])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        ws.close()


def wait_feedback(root: Path, pred: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows = feedback(root)
    while not pred(rows) and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = feedback(root)
    return rows


def answer(live: Live, mid: str, answers: dict[str, Any], *, survey: str = "nps-checkout",
           anon: str | None = "aid-1", consent: bool = True) -> httpx.Response:
    ctx: dict[str, Any] = {"library": {"name": "cx.js"}, "page": {"path": "/danke", "url": "https://shop.de/danke"}}
    if not consent:
        ctx["consent"] = {"analytics": False}
    msg = {"type": "track", "event": "Survey Answered", "messageId": mid, "anonymousId": anon or "anonymous",
           "properties": {"survey_id": survey, "survey_version": 1, "answers": answers, "lang": "de",
                          "channel": "web", "url": "/danke"}, "context": ctx}
    return httpx.post(live.url + "/v1/batch", content=orjson.dumps({"batch": [msg], "writeKey": live.shop.write_key}),
                      headers={"Content-Type": "text/plain"})


def test_the_snippet_gets_only_active_surveys_in_its_language(live: Live) -> None:
    r = httpx.get(live.url + "/v1/surveys", params={"writeKey": live.shop.write_key, "lang": "de"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    docs = {d["id"]: d for d in r.json()["surveys"]}
    assert set(docs) == {"nps-checkout", "csat-delivery"}  # not the paused one
    nps = docs["nps-checkout"]
    assert nps["questions"][0]["text"].startswith("Wie wahrscheinlich") and nps["questions"][0]["max"] == 10
    assert nps["trigger"] == {"kind": "event", "events": ["Order Completed"], "seconds": 2.0}
    # a stage trigger arrives as the events that enter the stage
    assert set(docs["csat-delivery"]["trigger"]["events"]) == {"Order Delivered", "Order Shipped"}
    assert "created_by" not in nps and "score" not in json.dumps(nps)
    assert httpx.get(live.url + "/v1/surveys", params={"writeKey": live.other.write_key}).json() == {"surveys": []}


def test_bad_survey_requests_are_json_errors_naming_the_field(live: Live) -> None:
    r = httpx.get(live.url + "/v1/surveys")
    assert r.status_code == 401 and r.json()["field"] == "writeKey"
    r = httpx.get(live.url + "/v1/surveys", params={"writeKey": live.shop.write_key, "lang": "fr"})
    assert r.status_code == 400 and r.json()["field"] == "lang"
    assert httpx.get(live.url + "/cx-survey.js").headers["content-type"].startswith("application/javascript")


def test_an_answer_becomes_feedback_tied_to_touchpoint_stage_and_person(live: Live) -> None:
    Hook.got.clear()
    r = answer(live, "ans-1", {"nps": 3, "why": "Die Lieferung kam viel zu spät und der Support war unfreundlich",
                               "topic": ["delivery", "nonsense"]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    rows = wait_feedback(live.root, lambda rs: any(x["feedback_id"] == "survey:ans-1:nps" for x in rs))
    row = next(x for x in rows if x["feedback_id"] == "survey:ans-1:nps")
    assert (row["kind"], row["score"], row["scale_max"]) == ("nps", 3.0, 10.0)
    assert row["touchpoint"] == "checkout" and row["channel"] == "web" and row["anonymous_id"] == "aid-1"
    assert row["text"].startswith("Die Lieferung") and row["language"] == "de"
    props = json.loads(row["properties"])
    assert props["stage"] == "purchase" and props["survey_id"] == "nps-checkout"
    assert props["answers"] == {"topic": ["delivery"]} and props["sentiment"] == "negative"
    # the detractor is alerted on with its text
    deadline = time.monotonic() + 10
    while not Hook.got and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Hook.got, "no alert reached the webhook"
    alert = Hook.got[0]["alerts"][0]
    assert alert["reason"] == "detractor" and alert["touchpoint"] == "checkout"
    assert alert["texts"][0].startswith("Die Lieferung")


def test_answers_without_consent_or_outside_the_scale_make_no_feedback(live: Live) -> None:
    assert answer(live, "ans-nc", {"nps": 9}, consent=False).status_code == 200
    assert answer(live, "ans-bad", {"nps": 11}).status_code == 200
    assert answer(live, "ans-unknown", {"nps": 9}, survey="nope").status_code == 200
    assert answer(live, "ans-later", {"csat": 5}, survey="csat-delivery", anon="aid-9").status_code == 200
    rows = wait_feedback(live.root, lambda rs: any(x["feedback_id"].startswith("survey:ans-later") for x in rs))
    ids = {x["feedback_id"] for x in rows}
    assert "survey:ans-later:csat" in ids
    assert not any(i.startswith(("survey:ans-nc", "survey:ans-bad", "survey:ans-unknown")) for i in ids)


def test_the_server_side_cap_hides_a_survey_the_person_answered(live: Live) -> None:
    answer(live, "ans-cap", {"csat": 4}, survey="csat-delivery", anon="aid-cap")
    wait_feedback(live.root, lambda rs: any(x["feedback_id"] == "survey:ans-cap:csat" for x in rs))
    got = httpx.get(live.url + "/v1/surveys", params={"writeKey": live.shop.write_key,
                                                      "anonymousId": "aid-cap"}).json()["surveys"]
    assert [d["id"] for d in got] == ["nps-checkout"]
    assert got[0]["questions"][0]["text"]["en"].startswith("How likely")  # both languages without lang


def test_a_personal_link_shows_the_survey_takes_one_answer_and_refuses_a_second(live: Live) -> None:
    ws = Workspace.open(live.root)
    try:
        key = links.project_key(ws.catalog, "shop")
    finally:
        ws.close()
    token = links.sign(key, links.make_claim("shop", "csat-delivery", "kunde-42", "en"))
    page = httpx.get(f"{live.url}/s/{token}")
    assert page.status_code == 200 and "Satisfied?" in page.text and '<html lang="en">' in page.text
    bad = httpx.post(f"{live.url}/s/{token}", data={"q_csat": "9"})
    assert bad.status_code == 400 and "q_csat" in bad.text
    ok = httpx.post(f"{live.url}/s/{token}", data={"q_csat": "5", "q_why": "Very quick delivery, thanks"})
    assert ok.status_code == 200 and "Thank you" in ok.text
    again = httpx.post(f"{live.url}/s/{token}", data={"q_csat": "1"})
    assert again.status_code == 409
    rows = wait_feedback(live.root, lambda rs: any(x["user_id"] == "kunde-42" for x in rs))
    mine = [x for x in rows if x["user_id"] == "kunde-42"]
    assert len(mine) == 1 and mine[0]["score"] == 5.0 and mine[0]["channel"] == "email"
    assert mine[0]["touchpoint"] == "delivery" and mine[0]["text"] == "Very quick delivery, thanks"
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert httpx.get(f"{live.url}/s/{forged}").status_code == 401


def test_a_stage_the_person_reached_before_is_marked_for_the_snippet(live: Live) -> None:
    msg = {"type": "track", "event": "Order Delivered", "messageId": "deliv-1", "userId": "kunde-7",
           "properties": {"order_id": "o-7"}}
    r = httpx.post(live.url + "/v1/batch", json={"batch": [msg]}, auth=(live.shop.write_key, ""))
    assert r.status_code == 200
    live.wait_for("shop", lambda rows: len(rows) == 1, "event_id = 'deliv-1'")

    def trigger(**ids: str) -> dict[str, Any]:
        got = httpx.get(live.url + "/v1/surveys", params={"writeKey": live.shop.write_key, **ids}).json()
        return next(d["trigger"] for d in got["surveys"] if d["id"] == "csat-delivery")

    assert trigger(userId="kunde-7")["reached"] is True
    assert trigger(userId="kunde-8", anonymousId="aid-x")["reached"] is False
    assert trigger()["reached"] is False


def test_a_custom_scale_question_gets_its_own_mean_in_the_api_and_on_the_voice_page(live: Live) -> None:
    """"How easy was checkout? 1-7" answered through the collector: its mean with an
    interval by touchpoint and stage, never counted as NPS, CSAT or CES."""
    import csv
    import io

    from cxlens.web.auth import add_user
    from web.web_support import PASSWORD, login

    ws = Workspace.open(live.root)
    try:
        save_survey(ws.catalog, "shop", survey_from_dict({
            "id": "ease", "name": "Checkout ease", "touchpoint": "checkout-ease", "stage": "purchase",
            "questions": [{"id": "easy", "kind": "scale", "min": 1, "max": 7,
                           "text": {"de": "Wie einfach war der Checkout?", "en": "How easy was checkout?"}},
                          {"id": "why", "kind": "text", "text": {"de": "Warum?", "en": "Why?"}}]}))
        add_user(ws.catalog, "sc-admin", PASSWORD, "viewer", ["shop"])
    finally:
        ws.close()
    for i, v in enumerate((7, 6, 5, 6)):
        assert answer(live, f"ease-{i}", {"easy": v}, survey="ease", anon=f"aid-ease-{i}").status_code == 200
    assert answer(live, "ease-bad", {"easy": 8}, survey="ease", anon="aid-ease-x").status_code == 200
    wait_feedback(live.root, lambda rs: sum(x["feedback_id"].startswith("survey:ease-") for x in rs) == 4)
    auth = {"Authorization": f"Bearer {live.shop.secret_key}"}

    def by(group: str) -> dict[str, Any]:
        r = httpx.get(live.url + "/api/v1/voice/scores", params={"by": group}, headers=auth)
        assert r.status_code == 200, r.text
        return {g["group"]: g for g in r.json()}

    tp = by("touchpoint")["checkout-ease"]
    assert tp["feedback"] == 4 and tp["nps"] is None and tp["csat"] is None and tp["ces"] is None
    [scale] = tp["scales"]
    assert scale["question"] == "ease/easy" and scale["scale_max"] == 7.0
    mean = scale["mean"]
    assert mean["value"] == pytest.approx(6.0) and mean["n"] == 4
    # sd of 7, 6, 5, 6 = sqrt(2/3): 6 ± 1.96 · sqrt(2/3) / 2
    assert mean["high"] - mean["value"] == pytest.approx(1.959964 * (2 / 3) ** 0.5 / 2, rel=1e-4)
    stage = by("stage")["purchase"]
    assert [s["question"] for s in stage["scales"]] == ["ease/easy"] and stage["scales"][0]["mean"]["n"] == 4
    assert by("channel")["web"]["scales"][0]["mean"]["n"] == 4

    with httpx.Client(base_url=live.url) as c:
        login(c, "sc-admin")  # type: ignore[arg-type]  # same calls as a TestClient
        page = c.get("/voice?project=shop&days=90", headers={"accept-language": "en"})
        assert page.status_code == 200 and 'data-chart="scales"' in page.text
        assert "How easy was checkout?" in page.text
        rows = list(csv.DictReader(io.StringIO(c.get("/voice?project=shop&days=90&export=scales").text)))
    mine = {(r["dimension"], r["group"]): r for r in rows if r["question_id"] == "ease/easy"}
    assert float(mine[("touchpoint", "checkout-ease")]["mean"]) == pytest.approx(6.0)
    assert mine[("all", "all")]["mean_n"] == "4" and mine[("stage", "purchase")]["question"] == "How easy was checkout?"
