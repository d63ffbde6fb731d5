"""Scores with intervals, the analysis table, adaptation and webhook alerts (real HTTP)."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest

from cxlens.errors import NotFound, SpecError
from cxlens.store.workspace import Workspace
from cxlens.voice.feedback_import import import_feedback
from cxlens.voice.scores import group_scores, nps_interval, scores, wilson
from cxlens.voice.workspace import adapt_project, analyze_project, load_adapter


def test_nps_interval_is_the_promoter_minus_detractor_difference() -> None:
    iv = nps_interval(50, 30, 20)
    assert iv is not None and iv.value == pytest.approx(30.0)
    # var = (p + d - (p - d)^2) / n = (0.7 - 0.09) / 100
    assert iv.high - iv.value == pytest.approx(1.959964 * 100 * (0.61 / 100) ** 0.5)
    assert nps_interval(0, 0, 0) is None


def test_wilson_interval_stays_inside_0_and_100_for_small_groups() -> None:
    iv = wilson(3, 3)
    assert iv is not None and iv.value == 100.0 and iv.high == pytest.approx(100.0) and iv.low > 30
    iv = wilson(0, 4)
    assert iv is not None and iv.low == pytest.approx(0.0, abs=1e-9) and iv.high < 60


def test_custom_scale_answers_get_a_mean_per_question_and_never_count_as_csat() -> None:
    rows = [("checkout", "csat", 5.0, 5.0, None), ("checkout", "csat", 2.0, 5.0, None),
            ("checkout", "custom", 7.0, 7.0, "ease/easy"), ("checkout", "custom", 5.0, 7.0, "ease/easy"),
            ("checkout", "custom", 2.0, 5.0, "ease/fair"), ("checkout", "custom", None, None, None)]
    [g] = group_scores(rows)
    assert g.feedback == 6 and g.csat is not None and g.csat.n == 2 and g.ces is None
    easy, fair = g.scales
    assert (easy.question, easy.scale_max, easy.mean.value, easy.mean.n) == ("ease/easy", 7.0, 6.0, 2)
    assert (fair.question, fair.mean.value, fair.mean.n) == ("ease/fair", 2.0, 1)
    assert g.scale("ease/easy") == easy and g.to_dict()["scales"][0]["mean"]["value"] == 6.0


def _write(tmp: Path, name: str, text: str) -> Path:
    f = tmp / name
    f.write_text(text, encoding="utf-8")
    return f


def test_scores_by_touchpoint_and_month(ws: Workspace, tmp_path: Path) -> None:
    nps = "id,date,score,comment,touchpoint\n" + "\n".join(
        f"{i},2025-0{1 + i % 2}-10,{s},,checkout" for i, s in enumerate([10, 9, 9, 8, 3, 10, 6, 7]))
    import_feedback(ws, _write(tmp_path, "nps.csv", nps), "nps")
    rev = "id,date,stars,text\n1,2025-01-05,5,gut\n2,2025-01-06,4,ok\n3,2025-01-07,1,schlecht\n"
    import_feedback(ws, _write(tmp_path, "rev.csv", rev), "reviews")
    by_tp = {g.group: g for g in scores(ws.con, ws.root, "default", "touchpoint")}
    co = by_tp["checkout"]
    assert co.nps is not None and co.nps.n == 8 and co.promoters == 4 and co.detractors == 2
    assert co.nps.value == pytest.approx(25.0) and co.nps.low < 25 < co.nps.high
    rv = by_tp["review"]
    assert rv.csat is not None and rv.csat.value == pytest.approx(200 / 3) and rv.nps is None
    months = [g.group for g in scores(ws.con, ws.root, "default", "month")]
    assert months == ["2025-01", "2025-02"]
    with pytest.raises(SpecError, match="cannot group"):
        scores(ws.con, ws.root, "default", "persona; DROP TABLE x")


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_detractor_and_negative_run_post_once_to_the_webhook(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ws = Workspace.init(tmp_path / "ws")
        cfg = ws.root / "cxlens.toml"
        cfg.write_text(cfg.read_text() + f'\n[alerts]\nwebhook = "http://127.0.0.1:{server.server_port}/hook"\n')
        ws.close()
        ws = Workspace.open(tmp_path / "ws")
        tickets = "id,created_at,text,touchpoint\n" + "\n".join(
            f't{i},2025-03-0{i + 1}T10:00:00Z,"{t}",delivery' for i, t in enumerate([
                "Paket kam viel zu spät, sehr ärgerlich", "Lieferung verspätet, nie wieder",
                "Ware kaputt angekommen, schlechter Service", "Danke, alles gut"]))
        import_feedback(ws, _write(tmp_path, "t.csv", tickets), "tickets")
        nps = "id,date,score,comment\n1,2025-03-05,2,Furchtbar\n2,2025-03-06,10,Super\n"
        import_feedback(ws, _write(tmp_path, "n.csv", nps), "nps")
        res = analyze_project(ws, "default")
        assert res.alerts == 2 and res.webhook_status == 204
        doc = _Hook.received[-1]
        reasons = sorted(a["reason"] for a in doc["alerts"])
        assert reasons == ["detractor", "negative_run"]
        run = next(a for a in doc["alerts"] if a["reason"] == "negative_run")
        assert run["touchpoint"] == "delivery" and len(run["texts"]) == 3
        assert "Paket kam viel zu spät, sehr ärgerlich" in run["texts"]
        sent = len(_Hook.received)
        again = analyze_project(ws, "default")
        assert again.alerts == 0 and len(_Hook.received) == sent  # reported once
        ws.close()
    finally:
        server.shutdown()
        server.server_close()


def test_analyze_writes_one_analysis_file_with_aspects(ws: Workspace, tmp_path: Path) -> None:
    rev = ("id,date,stars,text\n1,2025-01-05,5,Schnelle Lieferung und tolle Qualität\n"
           "2,2025-01-06,2,\"Lieferung schnell, aber viel zu teuer\"\n")
    import_feedback(ws, _write(tmp_path, "rev.csv", rev), "reviews")
    analyze_project(ws, "default", send_alerts=False)
    analyze_project(ws, "default", send_alerts=False)
    files = list((ws.root / "tables" / "feedback_analysis" / "project=default").glob("*.parquet"))
    assert len(files) == 1
    rows = {r["feedback_id"]: r for r in pq.read_table(files[0]).to_pylist()}
    two = rows["reviews:2"]
    aspects = dict(zip(two["aspects"], two["aspect_sentiments"], strict=True))
    assert aspects["delivery"] == "positive" and aspects["price"] == "negative"
    assert rows["reviews:1"]["sentiment"] == "positive"


def test_adaptation_learns_the_shops_words_and_is_switchable(ws: Workspace, tmp_path: Path) -> None:
    rnd = random.Random(3)
    good = ["Der {p} ist bombenfest", "{p} sitzt bombenfest, Kauf bereut niemand", "bombenfest und solide, der {p}"]
    bad = ["Der {p} wackelt", "{p} wackelt nach zwei Tagen", "wackelt schon wieder, der {p}"]
    lines = ["id,date,stars,text"]
    for i in range(400):
        pos = rnd.random() < 0.5
        t = rnd.choice(good if pos else bad).format(p=rnd.choice(["Stuhl", "Tisch", "Hocker"]))
        lines.append(f'{i},2025-02-01,{5 if pos else 1},"{t}"')
    import_feedback(ws, _write(tmp_path, "r.csv", "\n".join(lines) + "\n"), "reviews")
    rep = adapt_project(ws, "default")
    assert rep.holdout > 40 and rep.macro_f1_after > rep.macro_f1_before
    assert rep.macro_f1_after > 0.95
    assert load_adapter(ws, "default") is None  # off until [voice] adapt = true
    cfg = ws.root / "cxlens.toml"
    cfg.write_text(cfg.read_text() + "\n[voice]\nadapt = true\n")
    (ws.root / "voice" / "default" / "adapter.npz").unlink()
    ws2 = Workspace.open(ws.root)
    try:
        assert analyze_project(ws2, "default", send_alerts=False).adapted  # fitted on demand
        assert load_adapter(ws2, "default") is not None
        assert analyze_project(ws2, "default", send_alerts=False).adapted
    finally:
        ws2.close()


def test_analyze_without_feedback_says_how_to_import(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="cxlens feedback import"):
        analyze_project(ws, "default")
