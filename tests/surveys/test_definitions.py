"""Survey definitions: validation that names the field, versions in the catalog, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cxlens.errors import NotFound, ValidationError
from cxlens.store.workspace import Workspace
from cxlens.surveys.definitions import load_file, survey_from_dict, url_matches
from cxlens.surveys.store import delete_survey, get_survey, list_surveys, save_survey, versions
from support import REPO, run_cli


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "csat-delivery", "name": "Lieferung", "touchpoint": "delivery",
        "questions": [{"id": "csat", "kind": "csat", "text": {"de": "Zufrieden?", "en": "Satisfied?"}}],
        "targeting": {"trigger": "stage", "stage": "delivery"}}
    doc.update(over)
    return doc


def test_the_shipped_example_file_loads_with_fixed_scales_and_choices() -> None:
    s = load_file(REPO / "examples" / "surveys" / "nps-checkout.toml")
    nps, why, topic = s.questions
    assert (nps.kind, nps.min, nps.max) == ("nps", 0, 10) and nps.low_label is not None
    assert why.kind == "text" and why.min is None
    assert [o.id for o in topic.options] == ["delivery", "price", "website"]
    assert topic.options[0].text.get("de") == "Lieferung"
    assert s.targeting.event == "Order Completed" and s.targeting.every_days == 90


def test_kinds_get_their_scales_and_a_stage_trigger_sets_the_stage() -> None:
    qs = [{"id": k, "kind": k, "text": {"de": "d", "en": "e"}} for k in ("nps", "csat", "ces")]
    qs.append({"id": "s", "kind": "scale", "min": 0, "max": 4, "text": {"de": "d", "en": "e"}})
    s = survey_from_dict(_doc(questions=qs))
    assert [(q.min, q.max) for q in s.questions] == [(0, 10), (1, 5), (1, 7), (0, 4)]
    assert s.stage == "delivery" and s.targeting.trigger == "stage"


@pytest.mark.parametrize(("over", "field"), [
    ({"id": "Bad Id"}, "id"),
    ({"questions": []}, "questions"),
    ({"questions": [{"id": "q", "kind": "stars", "text": {"de": "d", "en": "e"}}]}, "questions[0].kind"),
    ({"questions": [{"id": "q", "kind": "nps", "text": "nur deutsch"}]}, "questions[0].text"),
    ({"questions": [{"id": "q", "kind": "nps", "text": {"de": "d"}}]}, "questions[0].text.en"),
    ({"questions": [{"id": "q", "kind": "nps", "max": 5, "text": {"de": "d", "en": "e"}}]}, "questions[0].max"),
    ({"questions": [{"id": "q", "kind": "single", "options": [{"id": "a", "text": {"de": "A", "en": "A"}}],
                     "text": {"de": "d", "en": "e"}}]}, "questions[0].options"),
    ({"targeting": {"trigger": "event"}}, "targeting.event"),
    ({"targeting": {"sample": 1.5}}, "targeting.sample"),
    ({"targeting": {"max_answers": 0}}, "targeting.max_answers"),
    ({"targeting": {"cap": 3}}, "targeting.cap"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_definition_is_refused_naming_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        survey_from_dict(_doc(**over))
    assert exc.value.field == field


def test_saving_again_makes_a_new_version_and_old_versions_stay_readable(ws: Workspace) -> None:
    v1 = save_survey(ws.catalog, "default", survey_from_dict(_doc()), create=True)
    with pytest.raises(ValidationError):
        save_survey(ws.catalog, "default", survey_from_dict(_doc()), create=True)
    v2 = save_survey(ws.catalog, "default", survey_from_dict(_doc(name="Lieferung neu")))
    assert (v1.version, v2.version) == (1, 2)
    assert get_survey(ws.catalog, "default", "csat-delivery").name == "Lieferung neu"
    assert get_survey(ws.catalog, "default", "csat-delivery", 1).name == "Lieferung"
    assert [s.id for s in list_surveys(ws.catalog, "default")] == ["csat-delivery"]
    delete_survey(ws.catalog, "default", "csat-delivery")
    assert list_surveys(ws.catalog, "default") == []
    assert get_survey(ws.catalog, "default", "csat-delivery", 2).version == 2  # answers keep meaning
    assert [v["deleted"] for v in versions(ws.catalog, "default", "csat-delivery")] == [True, True]
    with pytest.raises(NotFound):
        get_survey(ws.catalog, "default", "csat-delivery")
    assert save_survey(ws.catalog, "default", survey_from_dict(_doc()), create=True).version == 3


def test_url_rules_match_prefixes_and_wildcards() -> None:
    assert url_matches(None, "/x") and url_matches("/danke", "/danke?o=1")
    assert url_matches("/danke*", "/danke/123") and not url_matches("/danke*", "/shop/danke")
    assert url_matches("*/checkout*", "/de/checkout/done") and not url_matches("/a*b", "/a/c")


def test_cli_creates_from_flags_and_files_lists_shows_and_deletes(ws: Workspace, capsys: Any,
                                                                   tmp_path: Path) -> None:
    w = ["-w", str(ws.root)]
    code, out, err = run_cli(capsys, *w, "survey", "create", "--id", "ces-support", "--kind", "ces",
                             "--question-de", "Wie einfach war es?", "--question-en", "How easy was it?",
                             "--follow-up-de", "Warum?", "--follow-up-en", "Why?",
                             "--touchpoint", "support", "--trigger", "seconds", "--seconds", "20", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["version"] == 1 and [q["kind"] for q in doc["questions"]] == ["ces", "text"]
    yml = tmp_path / "s.yaml"
    yml.write_text("id: csat-delivery\nname: L\ntouchpoint: delivery\nquestions:\n"
                   "  - {id: csat, kind: csat, text: {de: \"Zufrieden?\", en: \"Satisfied?\"}}\n", encoding="utf-8")
    assert run_cli(capsys, *w, "survey", "create", "--file", str(yml))[0] == 0
    code, out, _ = run_cli(capsys, *w, "survey", "list", "--json")
    assert [d["id"] for d in json.loads(out)] == ["ces-support", "csat-delivery"]
    code, out, _ = run_cli(capsys, *w, "survey", "show", "ces-support", "--json")
    assert json.loads(out)["targeting"]["seconds"] == 20
    code, _, err = run_cli(capsys, *w, "survey", "create", "--id", "x", "--question-de", "a",
                           "--touchpoint", "t")
    assert code == 2 and "questions[0].text.en is missing" in err and "Traceback" not in err
    bad = tmp_path / "b.toml"
    bad.write_text("id = [", encoding="utf-8")
    code, _, err = run_cli(capsys, *w, "survey", "create", "--file", str(bad))
    assert code == 2 and "not valid TOML" in err
    assert run_cli(capsys, *w, "survey", "delete", "ces-support")[0] == 0
    code, _, err = run_cli(capsys, *w, "survey", "show", "ces-support")
    assert code == 2 and "no survey 'ces-support'" in err
