"""``cxlens serve``: the collector (and later the API and dashboard) over HTTP."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import app, console, open_workspace
from cxlens.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")


def check_options(*, port: int, workers: int, log_level: str, worker_timeout: int,
                  drain_interval: float, max_future_hours: float, max_past_days: float,
                  **positive: int) -> None:
    """Mistakes in the options, found before anything starts (uvicorn would take port
    99999 modulo 65536, run zero workers as one, and die on a bad log level with a traceback)."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; use 1-65535", field="port")
    if workers < 1:
        raise ConfigError(f"--workers {workers}: at least 1 server process is needed", field="workers")
    if log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"--log-level {log_level!r} is not a level; use one of {', '.join(LOG_LEVELS)}",
                          field="log_level")
    for name, value in {"worker-timeout": worker_timeout, "drain-interval": drain_interval,
                        "max-future-hours": max_future_hours, **positive}.items():
        if value <= 0:
            flag = name.replace("_", "-")
            raise ConfigError(f"--{flag} must be more than 0, not {value}", field=flag)
    if max_past_days < 0:
        raise ConfigError(f"--max-past-days must be 0 (no limit) or more, not {max_past_days}",
                          field="max-past-days")


def check_listen(host: str, port: int) -> None:
    """Bind (host, port) once the way uvicorn will, so that a port in use or an address
    that is not this machine's is one line here instead of a log line and exit code 3
    from uvicorn's supervisor."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; use 1-65535", field="port")
    try:
        # uvicorn's choice of family: IPv6 for hosts with a colon, else IPv4
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        infos = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(f"--host {host!r} is not a name or address of this machine; use 127.0.0.1 "
                          "(this machine only) or 0.0.0.0 (every interface)", field="host") from None
    _, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use (another server?); stop it or "
                              "choose another --port", field="port") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs administrator rights; choose a --port above 1023",
                              field="port") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port",
                          field="host") from None


@app.command()
def serve(
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Workspace directory.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each has its own WAL).")] = 1,
    max_body_kb: Annotated[int, typer.Option(help="Largest request body (after decompression).")] = 500,
    max_event_kb: Annotated[int, typer.Option(help="Largest single event.")] = 32,
    max_batch: Annotated[int, typer.Option(help="Most events in one batch request.")] = 2500,
    max_future_hours: Annotated[float, typer.Option(help="Reject events further in the future.")] = 24.0,
    max_past_days: Annotated[float, typer.Option(help="Reject events older than this (0: never).")] = 0.0,
    drain_interval: Annotated[float, typer.Option(help="Seconds between WAL -> workspace moves.")] = 0.5,
    fsync: Annotated[bool, typer.Option(help="fsync the WAL before acknowledging.")] = True,
    worker_timeout: Annotated[int, typer.Option(
        help="Seconds a worker may not answer the supervisor's health check before it is "
             "restarted (a saturated box delays the answer).")] = 60,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the collector: Segment, RudderStack and PostHog endpoints, /cx.js, /metrics."""
    import uvicorn

    from cxlens.api.app import ENV_CONFIG, config_to_env
    from cxlens.api.collector import CollectorConfig
    from cxlens.api.http1 import PROTOCOL
    from cxlens.api.logs import log_config

    check_options(port=port, workers=workers, log_level=log_level, worker_timeout=worker_timeout,
                  drain_interval=drain_interval, max_future_hours=max_future_hours,
                  max_past_days=max_past_days, max_body_kb=max_body_kb, max_event_kb=max_event_kb,
                  max_batch=max_batch)
    ws = open_workspace(workspace)
    root = ws.root
    ws.close()
    check_listen(host, port)
    config = CollectorConfig(
        max_body_bytes=max_body_kb * 1024, max_event_bytes=max_event_kb * 1024,
        max_batch_events=max_batch, max_future_hours=max_future_hours,
        max_past_days=max_past_days or None, fsync=fsync,
        drain_interval=drain_interval,
    )
    os.environ["CXLENS_WORKSPACE"] = str(root)
    os.environ[ENV_CONFIG] = config_to_env(config)
    metrics_dir = None
    if workers > 1:  # /metrics sums all workers (prometheus_client multiprocess mode)
        import tempfile

        from cxlens.api.metrics import MULTIPROC_ENV

        metrics_dir = tempfile.mkdtemp(prefix="cxlens-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    shown = f"[{host}]" if ":" in host else host
    console.print(f"cxlens collecting into {root} on http://{shown}:{port} ({workers} worker(s))",
                  highlight=False)
    try:
        uvicorn.run(
            "cxlens.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_config=log_config(log_level), access_log=access_log, timeout_graceful_shutdown=30,
            server_header=False, timeout_worker_healthcheck=worker_timeout,
            http=PROTOCOL,  # httptools, each response in one write (cxlens.api.http1)
        )
    finally:
        if metrics_dir is not None:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)
