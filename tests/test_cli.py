"""The command line as a user runs it: the installed ``cxlens`` entry point, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cxlens.store.workspace import Workspace
from support import journeys

CXLENS = [sys.executable, "-c", "from cxlens.cli import main; main()"]


def cx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CXLENS, *args], capture_output=True, text=True, env=env, timeout=120)


def test_info_json_counts_events_persons_sources_and_channels(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.append(journeys({
        "ann": [{"at": "2024-05-01 10:00", "type": "page", "page": "https://s.de/", "referrer": "https://www.google.com/"},
                {"at": "2024-05-01 10:05", "event": "Order Completed", "revenue": 20.0}],
        "ben": [{"at": "2024-05-02 09:00", "type": "page", "page": "https://s.de/"}],
    }), source="web")
    ws.close()
    result = cx("--workspace", str(tmp_path / "ws"), "info", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["total_events"] == 3
    assert doc["distinct_persons"] == 2
    assert doc["by_source"] == {"test": 3}
    # the order counts for the channel that brought ann's session
    assert doc["by_channel"] == {"organic_search": 2, "direct": 1}
    assert doc["by_day"] == {"2024-05-01": 2, "2024-05-02": 1}


def test_workspace_comes_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "CXLENS_WORKSPACE": str(tmp_path / "envws")}
    assert cx("init", env=env).returncode == 0
    result = cx("info", "--json", env=env)
    assert json.loads(result.stdout)["total_events"] == 0


def test_a_users_mistake_is_one_line_and_exit_code_two(tmp_path: Path) -> None:
    result = cx("--workspace", str(tmp_path / "missing"), "info")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cxlens init" in lines[0]


def test_init_refuses_a_non_empty_directory_that_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    result = cx("init", str(tmp_path / "full"))
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def test_compact_json_reports_what_it_merged(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    for minute in range(3):
        ws.append(journeys({"c": [{"at": f"2024-05-01 10:0{minute}", "event": "E"}]}), source="t")
    ws.close()
    result = cx("-w", str(tmp_path / "ws"), "compact", "--json")
    doc = json.loads(result.stdout)
    built = doc.pop("sequences")
    assert doc == {"partitions": 1, "files_before": 3, "files_after": 1, "rows": 3}
    # and the journey analyses' sequence cache is current afterwards
    assert [(b["project"], b["built"], b["rows"]) for b in built] == [("default", True, 3)]


def test_a_usage_mistake_gets_usage_help_not_a_traceback(tmp_path: Path) -> None:
    result = cx("-w", str(tmp_path), "info", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No such option" in result.stderr


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_init_where_a_file_is_or_cannot_write_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("mine")
    _one_line_error(cx("init", str(tmp_path / "a-file")), "a-file")
    _one_line_error(cx("init", str(tmp_path / "a-file" / "ws")), "a-file")
    assert (tmp_path / "a-file").read_text() == "mine"


def test_serve_mistakes_are_one_line_before_anything_starts(tmp_path: Path) -> None:
    import socket

    Workspace.init(tmp_path / "ws").close()
    ws = ["-w", str(tmp_path / "ws"), "serve"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        _one_line_error(cx(*ws, "--port", port), port, "--port")
        _one_line_error(cx(*ws, "--port", port, "--workers", "2"), port, "--port")
    _one_line_error(cx(*ws, "--port", "99999"), "--port")
    _one_line_error(cx(*ws, "--workers", "0"), "--workers")
    _one_line_error(cx(*ws, "--log-level", "loud"), "--log-level")
    _one_line_error(cx(*ws, "--max-body-kb", "-1"), "--max-body-kb")
    _one_line_error(cx(*ws, "--host", "no-such-host.invalid"), "--host")


def test_project_settings_with_a_typo_or_a_wrong_type_are_refused(tmp_path: Path) -> None:
    ws = ["-w", str(tmp_path / "ws")]
    assert cx("init", str(tmp_path / "ws")).returncode == 0
    assert cx(*ws, "project", "create", "shop", "--json").returncode == 0
    # "false" as text would have been true, and a misspelt key silently nothing
    _one_line_error(cx(*ws, "project", "settings", "shop", '{"privacy": {"honor_dnt": "false"}}'),
                    "privacy.honor_dnt", "true or false")
    _one_line_error(cx(*ws, "project", "settings", "shop", '{"privacy": {"anonymise_ip": false}}'),
                    "privacy.anonymise_ip", "anonymize_ip")
    _one_line_error(cx(*ws, "project", "settings", "shop", '{"privcy": {"drop_ip": true}}'),
                    "privcy", "privacy")
    _one_line_error(cx(*ws, "project", "settings", "shop", '{"privacy": {"retention_days": 0}}'),
                    "privacy.retention_days")
    ok = cx(*ws, "project", "settings", "shop", '{"privacy": {"honor_dnt": true, "retention_days": 400}}')
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(cx(*ws, "project", "list", "--json").stdout)
    assert next(p for p in listed if p["project"] == "shop")["settings"] == {
        "privacy": {"honor_dnt": True, "retention_days": 400}}


def test_info_for_a_project_that_does_not_exist_names_the_ones_that_do(tmp_path: Path) -> None:
    assert cx("init", str(tmp_path / "ws"), "-p", "shop").returncode == 0
    # a typo in -p used to print zero events and exit 0
    _one_line_error(cx("-w", str(tmp_path / "ws"), "info", "-p", "shpo", "--json"), "shpo", "shop")
    _one_line_error(cx("-w", str(tmp_path / "ws"), "compact", "-p", "shpo"), "shpo", "shop")


def test_a_bad_value_in_cxlens_toml_is_one_line_naming_the_key(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.append(journeys({"ann": [{"at": "2024-05-01 10:00", "type": "page", "page": "https://s.de/"}]}),
              source="web")
    ws.close()
    config = tmp_path / "ws" / "cxlens.toml"
    good = config.read_text()
    for old, new, key in [("timeout_minutes = 30", 'timeout_minutes = "half an hour"', "timeout_minutes"),
                          ('memory_limit = "2GB"', 'memory_limit = "lots"', "memory_limit"),
                          ('memory_limit = "2GB"', 'memory_limit = "2GB"\nthreads = "many"', "threads")]:
        assert old in good
        config.write_text(good.replace(old, new))
        _one_line_error(cx("-w", str(tmp_path / "ws"), "info"), key, "cxlens.toml")


def test_demo_never_adds_its_published_login_to_a_workspace_it_did_not_create(tmp_path: Path) -> None:
    from cxlens.web.auth import DEMO_USER, get_user

    ws = Workspace.init(tmp_path / "mine", project="shop")
    ws.close()
    _one_line_error(cx("demo", "--dir", str(tmp_path / "mine"), "--no-serve"), "mine", "--dir")
    ws = Workspace.open(tmp_path / "mine")
    try:
        assert get_user(ws.catalog, DEMO_USER) is None
    finally:
        ws.close()
    # its own workspace it makes, and shows again on the next run
    for _ in range(2):
        made = cx("demo", "--dir", str(tmp_path / "demo"), "--customers", "30", "--no-serve", "--json")
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["total_events"] > 0


def test_info_days_below_one_is_one_line(tmp_path: Path) -> None:
    assert cx("init", str(tmp_path / "ws")).returncode == 0
    _one_line_error(cx("-w", str(tmp_path / "ws"), "info", "--days", "-1"), "--days")


def test_demo_checks_its_port_and_numbers_before_it_simulates(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        _one_line_error(cx("demo", "--dir", str(tmp_path / "demo"), "--port", port), port)
    _one_line_error(cx("demo", "--dir", str(tmp_path / "demo"), "--customers", "0"), "--customers")
    assert not (tmp_path / "demo").exists()  # nothing half-made that a rerun would take as done


def test_info_on_an_empty_workspace_says_how_to_fill_it(tmp_path: Path) -> None:
    assert cx("init", str(tmp_path / "ws")).returncode == 0
    # it printed four empty tables
    shown = cx("-w", str(tmp_path / "ws"), "info")
    assert shown.returncode == 0 and shown.stdout.startswith("no events in the workspace")
    assert "cxlens simulate" in shown.stdout and "cxlens import" in shown.stdout
    assert json.loads(cx("-w", str(tmp_path / "ws"), "info", "--json").stdout)["total_events"] == 0
