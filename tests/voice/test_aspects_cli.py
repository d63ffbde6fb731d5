"""Aspects, discovered topics, the praise/criticism summary and the CLI commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cxlens.store.workspace import Workspace
from cxlens.voice.pipeline import analyze_texts, topic_report

CXLENS = [sys.executable, "-c", "from cxlens.cli import main; main()"]


def cx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CXLENS, *args], capture_output=True, text=True, timeout=120)


def test_each_aspect_of_a_contrast_gets_its_own_sentiment() -> None:
    an = analyze_texts(["Lieferung war schnell, aber viel zu teuer.",
                        "Fast delivery but the support was rude."], discover=False)
    de = {m.aspect: lab for m, lab in an.mentions[0]}
    en = {m.aspect: lab for m, lab in an.mentions[1]}
    assert de == {"delivery": "positive", "price": "negative"}
    assert en["delivery"] == "positive" and en["support"] == "negative"


def test_versandkosten_is_price_not_delivery() -> None:
    an = analyze_texts(["Die Versandkosten sind unverschämt"], discover=False)
    assert [m.aspect for m, _ in an.mentions[0]] == ["price"]


def test_frequent_terms_outside_the_seeds_become_discovered_topics() -> None:
    texts = ["Die Größentabelle stimmt nicht"] * 3 + ["Die Bestellung kam schnell"] * 2 + \
            ["Laut Größentabelle passt es nie, ärgerlich"] * 2
    an = analyze_texts(texts, discover=True, min_df=3)
    rep = topic_report(an, ["checkout"] * len(texts))
    names = {a.aspect: a for a in rep[0].aspects}
    assert "größentabelle" in names and names["größentabelle"].discovered
    assert names["größentabelle"].negative >= 2


def test_summary_names_praise_and_criticism_with_counts() -> None:
    texts = ["Schnelle Lieferung, danke!"] * 4 + ["Versandkosten viel zu teuer"] * 2
    rep = topic_report(analyze_texts(texts, discover=False), ["delivery"] * 6)
    assert rep[0].summary == "Gelobt: Lieferung (4; schnelle); Kritisiert: Preis (2; teuer)"


def test_cli_sentiment_import_analyze_topics_scores(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    r = cx("voice", "sentiment", "Die Lieferung kam viel zu spät", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["label"], doc["language"], doc["aspects"]) == ("negative", "de", ["delivery"])
    f = tmp_path / "reviews.csv"
    f.write_text("id,date,stars,text\n1,2025-01-05,5,Schnelle Lieferung\n2,2025-01-06,1,Viel zu teuer\n")
    w = ["--workspace", str(tmp_path / "ws")]
    r = cx(*w, "feedback", "import", str(f), "--format", "reviews", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["inserted"] == 2
    r = cx(*w, "voice", "analyze", "--json")
    assert json.loads(r.stdout)["texts"] == 2
    r = cx(*w, "voice", "topics", "--json")
    assert "Gelobt: Lieferung" in json.loads(r.stdout)[0]["summary"]
    r = cx(*w, "voice", "scores", "--by", "month", "--json")
    assert json.loads(r.stdout)[0]["csat"]["value"] == 50.0
    r = cx(*w, "feedback", "import", str(f), "--format", "trustpilot")
    assert r.returncode == 2 and "unknown feedback format" in r.stderr
