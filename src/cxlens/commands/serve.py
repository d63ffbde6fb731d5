"""``cxlens serve``: the collector (and later the API and dashboard) over HTTP."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import app, console, open_workspace


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
    from cxlens.api.logs import log_config

    ws = open_workspace(workspace)
    root = ws.root
    ws.close()
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
    console.print(f"cxlens collecting into {root} on http://{host}:{port} ({workers} worker(s))",
                  highlight=False)
    try:
        uvicorn.run(
            "cxlens.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_config=log_config(log_level), access_log=access_log, timeout_graceful_shutdown=30,
            server_header=False, timeout_worker_healthcheck=worker_timeout,
        )
    finally:
        if metrics_dir is not None:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)
