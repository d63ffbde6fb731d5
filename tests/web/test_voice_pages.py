"""The voice-of-the-customer page, the survey pages (admin, CSRF) and the journey map's
sentiment colours, driven in process on the simulated shop."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from web.web_support import csrf_of, login


def test_voice_page_shows_scores_with_intervals_topics_and_verbatims(anna: TestClient) -> None:
    r = anna.get("/voice?project=shop&days=90", headers={"accept-language": "de-DE"})
    assert r.status_code == 200, r.text
    html = r.text
    assert "Kundenstimme" in html and 'data-score="nps"' in html and "95-%-KI" in html
    for chart in ("trend", "by-touchpoint", "by-stage", "by-channel", "topics", "verbatims"):
        assert f'data-chart="{chart}"' in html, chart
    assert "Als Tabelle anzeigen" in html and "Originalaussagen" in html
    en = anna.get("/voice?project=shop&days=90", headers={"accept-language": "en"})
    assert "Voice of the customer" in en.text and "95 % CI" in en.text


def test_verbatims_filter_by_touchpoint_and_export_as_csv(anna: TestClient) -> None:
    full = anna.get("/voice?project=shop&days=90&export=verbatims")
    rows = list(csv.DictReader(io.StringIO(full.text)))
    assert rows and {"time", "touchpoint", "stage", "persona", "language", "sentiment", "text"} <= set(rows[0])
    touchpoints = {r["touchpoint"] for r in rows}
    pick = sorted(touchpoints)[0]
    only = anna.get(f"/voice?project=shop&days=90&vt={pick}&export=verbatims")
    got = list(csv.DictReader(io.StringIO(only.text)))
    assert got and {r["touchpoint"] for r in got} == {pick}
    lang = rows[0]["language"]
    by_lang = list(csv.DictReader(io.StringIO(anna.get(
        f"/voice?project=shop&days=90&vl={lang}&export=verbatims").text)))
    assert by_lang and {r["language"] for r in by_lang} == {lang}
    scores = list(csv.DictReader(io.StringIO(anna.get("/voice?project=shop&days=90&export=by-touchpoint").text)))
    assert scores and all(float(s["nps_low"]) <= float(s["nps"]) <= float(s["nps_high"])
                          for s in scores if s["nps"])


def test_an_admin_creates_and_edits_a_survey_in_the_dashboard(anna: TestClient) -> None:
    form = anna.get("/surveys/edit?project=shop")
    assert form.status_code == 200 and 'name="q0_de"' in form.text
    data = {"csrf": csrf_of(form.text), "original": "", "id": "csat-web", "name": "Website",
            "touchpoint": "website", "stage": "", "trigger": "seconds", "event": "", "seconds": "15",
            "url": "/produkte*", "every_days": "30", "max_answers": "1", "sample": "0.5", "active": "on",
            "q0_id": "csat", "q0_kind": "csat", "q0_de": "Wie zufrieden sind Sie?", "q0_en": "How satisfied are you?",
            "q1_id": "why", "q1_kind": "text", "q1_de": "Warum?", "q1_en": "Why?",
            "q2_id": "topic", "q2_kind": "single", "q2_de": "Thema?", "q2_en": "Topic?",
            "q2_options": "price | Preis | Price\nsearch | Suche | Search"}
    r = anna.post("/surveys/edit?project=shop", data=data, follow_redirects=False)
    assert r.status_code == 303 and "saved=csat-web" in r.headers["location"]
    listing = anna.get(r.headers["location"], headers={"accept-language": "en"})
    assert "Survey csat-web saved as version 1" in listing.text and "csat-web" in listing.text
    assert "cx-survey.js" in listing.text and "data-key=" in listing.text
    edit = anna.get("/surveys/edit?project=shop&id=csat-web")
    assert 'value="Wie zufrieden sind Sie?"' in edit.text and "price | Preis | Price" in edit.text
    again = dict(data, csrf=csrf_of(edit.text), original="csat-web", name="Website neu")
    r2 = anna.post("/surveys/edit?project=shop", data=again, follow_redirects=False)
    assert r2.status_code == 303 and "v=2" in r2.headers["location"]
    bad = dict(data, csrf=csrf_of(edit.text), id="other-id", q0_en="")
    r3 = anna.post("/surveys/edit?project=shop", data=bad)
    assert r3.status_code == 400 and "questions[0].text.en" in r3.text
    dup = dict(data, csrf=csrf_of(edit.text), original="")
    assert anna.post("/surveys/edit?project=shop", data=dup).status_code == 400
    assert anna.post("/surveys/edit?project=shop", data=dict(data, csrf="forged")).status_code == 400
    gone = anna.post("/surveys/delete?project=shop", data={"csrf": csrf_of(edit.text), "id": "csat-web"},
                     follow_redirects=False)
    assert gone.status_code == 303 and "csat-web" not in anna.get("/surveys?project=shop").text.split("<main")[1]


def test_viewers_see_surveys_but_cannot_edit_them(client: TestClient) -> None:
    login(client, "viktor")
    assert client.get("/surveys?project=shop").status_code == 200
    assert client.get("/surveys/edit?project=shop").status_code == 403
    page = client.get("/surveys?project=shop")
    r = client.post("/surveys/edit?project=shop", data={"csrf": csrf_of(page.text), "id": "x"})
    assert r.status_code == 403


def test_journey_map_cells_are_coloured_by_sentiment_where_feedback_exists(anna: TestClient) -> None:
    html = anna.get("/journey?project=shop&days=90").text
    assert "mood-" in html.split("<tbody>")[1]
    assert "Stimmung" in html or "Sentiment" in html
