"""Reports (HTML/PDF), scheduled mail over a real local SMTP server, and target alerts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace
from cxlens.web import alerts, reports, schedule
from support import Inbox
from web.web_support import csrf_of, login

CLI = [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])"]


def test_report_cli_writes_self_contained_html(shop_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "bericht.html"
    r = subprocess.run([*CLI, "-w", str(shop_ws), "report", "--period", "last-30-days",
                        "--format", "html", "--out", str(out), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    html = out.read_text()
    assert doc["bytes"] == len(html.encode())
    assert '<html lang="de">' in html and "Journey-Map" in html and "Größte Abbrüche" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html  # inline only
    assert "€" in html


def test_report_cli_rejects_bad_input_with_one_line(shop_ws: Path, tmp_path: Path) -> None:
    r = subprocess.run([*CLI, "-w", str(shop_ws), "report", "--period", "last-year",
                        "--out", str(tmp_path / "x.html")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "period must be one of" in r.stderr and "Traceback" not in r.stderr


def test_last_month_is_the_calendar_month_before_the_anchor(shop_ws: Path) -> None:
    ws = Workspace.open(shop_ws)
    try:
        p = reports.resolve_period(ws, reports.ReportSpec("shop", anchor=date(2025, 3, 15)))
    finally:
        ws.close()
    assert (p.start, p.end) == (date(2025, 2, 1), date(2025, 2, 28))
    assert (p.prev_start, p.prev_end) == (date(2025, 1, 1), date(2025, 1, 31))


@pytest.mark.skipif(reports.chromium() is None, reason="PDF needs chromium (apt-get install chromium)")
def test_report_prints_to_pdf_with_chromium(shop_ws: Path, tmp_path: Path) -> None:
    ws = Workspace.open(shop_ws)
    try:
        out = reports.write_report(ws, reports.ReportSpec("shop", "last-30-days", "en"), "pdf",
                                   tmp_path / "report.pdf")
    finally:
        ws.close()
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000




def test_scheduled_report_arrives_by_mail_with_its_attachment(
        shop_ws: Path, smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    config = {"reports": [{"cron": "0 7 1 * *", "to": ["chefin@example.de"], "format": "html",
                           "period": "last-30-days", "smtp": {"host": "127.0.0.1", "port": port,
                                                              "from": "cx@example.de"}}]}
    jobs = schedule.parse_reports(config, "shop")
    assert jobs[0].spec.project == "shop" and jobs[0].format == "html"
    schedule.send_report(shop_ws, jobs[0])
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["To"] == "chefin@example.de" and "cxlens report shop" in msg["Subject"]
    parts = [p for p in msg.walk() if p.get_filename()]
    assert len(parts) == 1 and parts[0].get_filename().endswith(".html")
    assert b"Journey-Map" in parts[0].get_payload(decode=True)


def test_the_scheduler_runs_a_due_report(shop_ws: Path, smtp_server: tuple[int, Inbox]) -> None:
    """The serve-side loop with a clock that jumps past the cron time."""
    import asyncio

    port, inbox = smtp_server
    config = shop_ws / "cxlens.toml"
    before = config.read_text()
    config.write_text(before + f"""
[[reports]]
cron = "0 7 1 * *"
to = ["team@example.de"]
format = "html"
smtp = {{host = "127.0.0.1", port = {port}}}
""")
    start = datetime(2025, 7, 1, 6, 59, 59, tzinfo=UTC)
    calls = iter([start] + [start + timedelta(seconds=2)] * 1000)

    async def run() -> None:
        task = asyncio.create_task(schedule.run_forever(shop_ws, now=lambda: next(calls)))
        for _ in range(300):
            await asyncio.sleep(0.1)
            if inbox.messages:
                break
        task.cancel()

    try:
        asyncio.run(run())
    finally:
        config.write_text(before)
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "team@example.de"


def test_bad_schedule_config_names_the_field() -> None:
    with pytest.raises(ConfigError) as exc:
        schedule.parse_reports({"reports": [{"cron": "every monday", "to": ["a@b.de"],
                                             "smtp": {"host": "x"}}]}, "shop")
    assert exc.value.field == "reports[0].cron"
    with pytest.raises(ConfigError) as exc:
        schedule.parse_reports({"reports": [{"cron": "0 7 * * 1", "to": ["a@b.de"]}]}, "shop")
    assert exc.value.field == "reports[0].smtp"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


def test_missed_target_alert_posts_json_to_the_webhook(
        shop_ws: Path, client: TestClient, webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    config = shop_ws / "cxlens.toml"
    before = config.read_text()
    config.write_text(before + f'\n[targets]\nconversion_rate = ">= 0.99"\n'
                      f'revenue = ">= 1"\n\n[alerts]\nwebhook = "{url}"\n')
    try:
        login(client, "viktor")  # a viewer may not send alerts
        page = client.get("/")
        assert "/alerts/send" not in page.text
        assert client.post("/alerts/send", data={"csrf": csrf_of(page.text),
                                                 "project": "shop"}).status_code == 403
        login(client, "anna")
        page = client.get("/")
        assert client.post("/alerts/send", data={"csrf": "forged", "project": "shop"}
                           ).status_code == 400
        r = client.post("/alerts/send", data={"csrf": csrf_of(page.text), "project": "shop"},
                        follow_redirects=False)
        assert r.status_code == 303 and "sent=1" in r.headers["location"]
    finally:
        config.write_text(before)
    for _ in range(50):
        if received:
            break
        time.sleep(0.05)
    assert received[0]["type"] == "application/json"
    body = received[0]["body"]
    assert body["project"] == "shop"
    assert [m["kpi"] for m in body["misses"]] == ["conversion_rate"]
    assert body["misses"][0]["target"] == ">= 0.99"


def test_alert_by_mail(shop_ws: Path, smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    ws = Workspace.open(shop_ws)
    try:
        cfg = {"targets": {"conversion_rate": ">= 0.99"},
               "alerts": {"email": ["cx@example.de"], "smtp": {"host": "127.0.0.1", "port": port}}}
        ov = alerts.evaluate(ws, "shop", 30)
        from cxlens.web.kpis import parse_targets
        assert not ov.misses
        ws.config.update(cfg)
        ov = alerts.evaluate(ws, "shop", 30)
        assert [k.name for k in ov.misses] == ["conversion_rate"]
        assert parse_targets(cfg)["conversion_rate"].value == 0.99
        assert alerts.notify(cfg, "shop", ov) == 1
    finally:
        ws.close()
    assert "conversion_rate" in inbox.messages[0].get_payload()


def test_chromium_is_findable_when_installed() -> None:
    assert (reports.chromium() is None) == (shutil.which("chromium") is None
                                           and shutil.which("chromium-browser") is None
                                           and shutil.which("google-chrome") is None)


def test_scheduled_target_check_alerts_once_per_change(
        shop_ws: Path, webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    config = shop_ws / "cxlens.toml"
    before = config.read_text()
    try:
        config.write_text(before + f'\n[targets]\nconversion_rate = ">= 0.99"\n\n'
                          f'[alerts]\nwebhook = "{url}"\ncron = "0 8 * * *"\n')
        assert schedule.check_targets(shop_ws) == 1
        assert schedule.check_targets(shop_ws) == 0  # same misses, same period: no repeat
        config.write_text(before + f'\n[targets]\nconversion_rate = ">= 0.99"\n'
                          f'orders = ">= 1000000"\n\n[alerts]\nwebhook = "{url}"\n')
        assert schedule.check_targets(shop_ws) == 1  # a new miss: alert again
    finally:
        config.write_text(before)
    assert [sorted(m["kpi"] for m in r["body"]["misses"]) for r in received] == [
        ["conversion_rate"], ["conversion_rate", "orders"]]
