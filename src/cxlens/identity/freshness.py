"""Keeping resolved persons current without anybody running ``cxlens identity resolve``.

Every append gets a batch id in the catalog. The identity map is *fresh* for a project
when it was resolved after the newest event batch of that project; ``refresh`` resolves
(incrementally) only when it is not. The dashboard, ``cxlens demo`` and the server's
maintenance loop call it, so the people counted everywhere follow new identify calls
within minutes, not whenever someone remembers the command.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxlens.identity.resolve import ResolveResult, resolve
from cxlens.store.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Freshness:
    project: str
    newest_batch: int
    resolved_batch: int | None

    @property
    def fresh(self) -> bool:
        return self.newest_batch == 0 or self.resolved_batch == self.newest_batch


def _key(project: str) -> str:
    return f"identity.resolved_batch:{project}"


def freshness(ws: Workspace, project: str | None = None) -> Freshness:
    project = project or ws.default_project
    newest = ws.catalog.execute(
        "SELECT coalesce(max(batch_id), 0) FROM files WHERE tbl = 'events' AND project = ?",
        (project,)).fetchall()[0][0]
    rows = ws.catalog.execute("SELECT value FROM meta WHERE key = ?", (_key(project),)).fetchall()
    return Freshness(project, int(newest), int(rows[0][0]) if rows else None)


def mark_resolved(ws: Workspace, project: str, batch: int) -> None:
    with ws.catalog.transaction() as tx:
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           (_key(project), str(batch)))


def resolve_and_mark(ws: Workspace, project: str | None = None, *, full: bool = False,
                     profiles: bool = True) -> tuple[ResolveResult, int]:
    """Resolve, rebuild the profiles (derived from the persons), record the batch seen
    *before* resolving (a batch appended meanwhile makes the next refresh resolve again);
    returns the result and the number of profile rows."""
    from cxlens.identity.profiles import build_profiles

    state = freshness(ws, project)
    result = resolve(ws, state.project, full=full)
    rows = build_profiles(ws, state.project) if profiles else 0
    mark_resolved(ws, state.project, state.newest_batch)
    return result, rows


def refresh(ws: Workspace, project: str | None = None) -> ResolveResult | None:
    """Resolve the project's identities (and rebuild profiles) when events arrived since
    the last resolve; None when nothing was to do."""
    if freshness(ws, project).fresh:
        return None
    return resolve_and_mark(ws, project)[0]
