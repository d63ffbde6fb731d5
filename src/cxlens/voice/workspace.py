"""The voice pipeline over a workspace: read the project's feedback, analyse it, store
``feedback_analysis``, adapt to the project's scored texts, raise alerts.

Files: ``<ws>/tables/feedback_analysis/project=<p>/*.parquet`` (derived, rewritten whole
by each ``analyze``), ``<ws>/voice/<p>/adapter.npz`` + ``adapter.json`` (the adaptation and
its before/after scores) and ``<ws>/voice/<p>/alerted.json`` (ids already alerted on, so a
detractor is reported once).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from cxlens.errors import NotFound, ValidationError
from cxlens.voice import alerts as al
from cxlens.voice.adapt import AdaptReport, adapt, label_from_score
from cxlens.voice.feedback_import import feedback_dir, write_atomic
from cxlens.voice.linear import LinearModel
from cxlens.voice.pipeline import TouchpointTopics, analyze_texts, topic_report

ANALYSIS_SCHEMA = pa.schema([
    pa.field("project", pa.string(), nullable=False),
    pa.field("feedback_id", pa.string(), nullable=False),
    pa.field("language", pa.string()),
    pa.field("sentiment", pa.string()),
    pa.field("sentiment_score", pa.float64()),
    pa.field("aspects", pa.list_(pa.string())),
    pa.field("aspect_sentiments", pa.list_(pa.string())),
    pa.field("touchpoint", pa.string()),
    pa.field("adapted", pa.bool_()),
    pa.field("analyzed_at", pa.timestamp("us", tz="UTC")),
])


@dataclass(frozen=True, slots=True)
class AnalyzeResult:
    project: str
    texts: int
    negative: int
    neutral: int
    positive: int
    adapted: bool
    file: str | None
    alerts: int
    webhook_status: int | None
    seconds: float


def voice_dir(root: Path, project: str) -> Path:
    return root / "voice" / project


def feedback_rows(ws: Any, project: str) -> list[dict[str, Any]]:
    files = sorted(str(p) for p in feedback_dir(ws.root, project).glob("*.parquet"))
    if not files:
        raise NotFound(f"project {project!r} has no feedback yet; import some with: cxlens feedback import FILE --format reviews")
    cur = ws.con.execute(
        "SELECT feedback_id, CAST(timestamp AS VARCHAR), kind, score, scale_max, text, language, touchpoint "
        "FROM read_parquet(?, union_by_name = true) ORDER BY timestamp, feedback_id", [files])
    names = ["feedback_id", "timestamp", "kind", "score", "scale_max", "text", "language", "touchpoint"]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def adapt_enabled(ws: Any) -> bool:
    return bool(ws.config.get("voice", {}).get("adapt", False))


def load_adapter(ws: Any, project: str) -> LinearModel | None:
    path = voice_dir(ws.root, project) / "adapter.npz"
    return LinearModel.load(path) if adapt_enabled(ws) and path.exists() else None


def adapt_project(ws: Any, project: str) -> AdaptReport:
    ids, texts, labels = [], [], []
    for r in feedback_rows(ws, project):
        lab = label_from_score(r["kind"], r["score"], r["scale_max"])
        if r["text"] and lab is not None:
            ids.append(r["feedback_id"])
            texts.append(r["text"])
            labels.append(lab)
    return adapt(ids, texts, labels, voice_dir(ws.root, project) / "adapter.npz")


def analyze_project(ws: Any, project: str, *, send_alerts: bool = True) -> AnalyzeResult:
    t0 = time.perf_counter()
    rows = [r for r in feedback_rows(ws, project) if r["text"]]
    if adapt_enabled(ws) and not (voice_dir(ws.root, project) / "adapter.npz").exists():
        # switched on but never fitted: fit now when there are enough scored texts
        with contextlib.suppress(ValidationError):
            adapt_project(ws, project)
    adapter = load_adapter(ws, project)
    langs = [r["language"] if r["language"] in ("de", "en") else None for r in rows]
    an = analyze_texts([r["text"] for r in rows], langs, adapter=adapter)
    now = time.time()
    table = pa.Table.from_pylist([
        {"project": project, "feedback_id": r["feedback_id"], "language": s.language, "sentiment": s.label,
         "sentiment_score": s.score, "aspects": [m.aspect for m, _ in ms],
         "aspect_sentiments": [lab for _, lab in ms], "touchpoint": r["touchpoint"],
         "adapted": adapter is not None, "analyzed_at": int(now * 1e6)}
        for r, s, ms in zip(rows, an.sentiments, an.mentions, strict=True)
    ], schema=ANALYSIS_SCHEMA)
    out_dir = ws.root / "tables" / "feedback_analysis" / f"project={project}"
    written = None
    with ws.writing():
        old = list(out_dir.glob("*.parquet"))
        written = str(write_atomic(ws.root, out_dir, table, "analysis"))
        for p in old:  # derived data: the new file replaces the old ones
            p.unlink(missing_ok=True)
    n_alerts, status = 0, None
    webhook = ws.config.get("alerts", {}).get("webhook")
    if send_alerts and webhook:
        n_alerts, status = _alert(ws, project, rows, [s.label for s in an.sentiments], str(webhook))
    counts = {k: sum(1 for s in an.sentiments if s.label == k) for k in ("negative", "neutral", "positive")}
    return AnalyzeResult(project, len(rows), counts["negative"], counts["neutral"], counts["positive"],
                         adapter is not None, written, n_alerts, status, time.perf_counter() - t0)


def _alert(ws: Any, project: str, rows: list[dict[str, Any]], labels: list[str], webhook: str) -> tuple[int, int | None]:
    state = voice_dir(ws.root, project) / "alerted.json"
    done: set[str] = set(json.loads(state.read_text())) if state.exists() else set()
    by_id = dict(zip((r["feedback_id"] for r in rows), labels, strict=True))
    items = [al.Item(r["feedback_id"], r["timestamp"], r["touchpoint"] or "(none)", r["kind"], r["score"],
                     r["scale_max"], r["text"], by_id.get(r["feedback_id"]))
             for r in feedback_rows(ws, project) if r["feedback_id"] not in done]
    found = al.find_alerts(items)
    if not found:
        return 0, None
    status = al.post(webhook, project, found)
    done |= {i for a in found for i in a.feedback_ids}
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(done)))
    tmp.replace(state)
    return len(found), status


def project_topics(ws: Any, project: str, language: str = "de") -> list[TouchpointTopics]:
    rows = [r for r in feedback_rows(ws, project) if r["text"]]
    langs = [r["language"] if r["language"] in ("de", "en") else None for r in rows]
    an = analyze_texts([r["text"] for r in rows], langs, adapter=load_adapter(ws, project))
    return topic_report(an, [r["touchpoint"] for r in rows], language)
