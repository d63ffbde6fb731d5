"""Identity resolution over a workspace: links from events, persons, unlink, explain.

``resolve(ws, project)`` reads identify/alias calls, events that carry both ids and
shared identifiers in identify traits, adds the links it has not seen before to the
``identities`` table and folds them into the id map (``identity_map``: id_type, id,
person_id). Only persons touched by new links are re-keyed: each touched person comes
back as a star of links between its ids (they already fit the caps), the new links
are applied after them in time order, and the map rows of those persons are replaced.
``with_person`` gives any analysis a ``person_id`` column.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import NotFound, ValidationError
from cxlens.identity import idmap, store
from cxlens.identity import links as linkstore
from cxlens.identity.config import IdentityConfig
from cxlens.identity.graph import Links, Stitched, stitch
from cxlens.identity.idmap import MAP, MAP_SCHEMA
from cxlens.model.tables import IDENTITIES_SCHEMA
from cxlens.store.workspace import Workspace

LINKS = linkstore.LINKS
__all__ = ["MAP", "MAP_SCHEMA", "apply_links_table", "explain", "id_map", "person_of", "resolve", "unlink",
           "with_person"]
_EPOCH = -(2**62)  # star links of existing persons sort before every real link


@dataclass(frozen=True, slots=True)
class ResolveResult:
    project: str
    links_total: int
    links_new: int
    links_flagged: int
    ids: int
    persons: int
    affected_persons: int
    full: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class LinkRow:
    id_type_a: str
    id_a: str
    id_type_b: str
    id_b: str
    link_source: str
    event_id: str | None
    linked_at: str
    flagged: bool
    removed: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    project: str
    query: str
    person_id: str
    ids: list[dict[str, str]] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UnlinkResult:
    project: str
    removed_links: int
    persons_before: list[str]
    persons_after: list[str]


def _links_sql(cfg: IdentityConfig) -> tuple[str, list[object]]:
    """Links from the events view ``_ev``: one row per distinct pair, its first event."""
    parts = [
        "SELECT 'anonymous_id' AS ta, anonymous_id AS a, 'user_id' AS tb, user_id AS b,"
        " source || ':' || type AS src, event_id, timestamp FROM _ev"
        " WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL AND anonymous_id <> ''"
        " AND user_id <> '' AND anonymous_id <> user_id"
        " AND (type IN ('identify', 'alias') OR ?)"
    ]
    params: list[object] = [cfg.link_on_any_event]
    for trait, id_type in cfg.trait_types():
        path = '$."' + trait.replace('"', '') + '"'
        # traits arrive in context.traits (Segment, RudderStack) or properties (simulator,
        # PostHog $set): both are read. E-mail addresses are compared case-insensitively.
        parts.append(
            "SELECT CASE WHEN user_id IS NOT NULL AND user_id <> '' THEN 'user_id' ELSE 'anonymous_id' END,"
            " CASE WHEN user_id IS NOT NULL AND user_id <> '' THEN user_id ELSE anonymous_id END, ?, v,"
            " source || ':trait:' || ?, event_id, timestamp FROM ("
            "SELECT *, CASE WHEN ? = 'email' THEN lower(trim(raw)) ELSE trim(raw) END AS v FROM ("
            "SELECT *, coalesce(json_extract_string(context, ?), json_extract_string(properties, ?)) AS raw"
            " FROM _ev WHERE type = 'identify'))"
            " WHERE v IS NOT NULL AND v <> '' AND coalesce(nullif(user_id, ''), anonymous_id) IS NOT NULL"
        )
        params += [id_type, trait, id_type, "$.traits." + path[2:], path]
    sql = (
        "SELECT ta AS id_type_a, a AS id_a, tb AS id_type_b, b AS id_b,"
        " arg_min(src, timestamp) AS link_source, arg_min(event_id, timestamp) AS event_id,"
        " min(timestamp) AS linked_at FROM (" + " UNION ALL ".join(parts) + ") GROUP BY ALL"
    )
    return sql, params


def _arrow(t: pa.Table | None) -> pa.Table:
    assert t is not None  # DuckDB's stubs allow None; a query always gives a table
    return t


def _rel(r: duckdb.DuckDBPyRelation | None) -> duckdb.DuckDBPyRelation:
    assert r is not None
    return r


def _with_view(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation) -> str:
    name = f"_ev_{uuid.uuid4().hex[:8]}"
    rel.create_view(name, replace=True)
    return name


def extract(ws: Workspace, project: str, cfg: IdentityConfig) -> tuple[pa.Table, pa.Table]:
    """(links, ids) found in the project's events; links carry no flags yet."""
    con = ws.con
    view = _with_view(con, ws.events(project))
    try:
        sql, params = _links_sql(cfg)
        links = _arrow(con.sql(sql.replace("_ev", view), params=params).to_arrow_table())
        ids = _arrow(con.sql(
            f"SELECT DISTINCT 'user_id' AS id_type, user_id AS id FROM {view} WHERE user_id <> ''"
            f" UNION SELECT DISTINCT 'anonymous_id', anonymous_id FROM {view} WHERE anonymous_id <> ''"
        ).to_arrow_table())
    finally:
        con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
    return links, ids


def _full_links(t: pa.Table, flagged: np.ndarray, removed: pa.Array | None = None) -> pa.Table:
    n = t.num_rows
    return pa.table({
        "project": pa.nulls(n, pa.string()),  # filled by caller
        "id_type_a": t.column("id_type_a"), "id_a": t.column("id_a"),
        "id_type_b": t.column("id_type_b"), "id_b": t.column("id_b"),
        "link_source": t.column("link_source") if "link_source" in t.column_names
        else pa.repeat(pa.scalar("api"), n),
        "event_id": t.column("event_id") if "event_id" in t.column_names else pa.nulls(n, pa.string()),
        "linked_at": t.column("linked_at").cast(IDENTITIES_SCHEMA.field("linked_at").type),
        "flagged": pa.array(flagged, pa.bool_()),
        "removed": removed if removed is not None else pa.array(np.zeros(n, np.bool_)),
    })


def _with_project(t: pa.Table, project: str) -> pa.Table:
    return t.set_column(0, "project", pa.repeat(pa.scalar(project, pa.string()), t.num_rows))


def apply_links_table(ws: Workspace, project: str, links: pa.Table, cfg: IdentityConfig | None = None,
                      ids: pa.Table | None = None, *, locked: bool = False) -> ResolveResult:
    """Fold new ``links`` (id_type_a, id_a, id_type_b, id_b, linked_at[, link_source,
    event_id]) and singleton ``ids`` (id_type, id) into the project's identity graph."""
    cfg = cfg or IdentityConfig.from_config(ws.config)
    if locked:
        return _apply(ws, project, links, ids, cfg)
    with ws.writing():
        return _apply(ws, project, links, ids, cfg)


def _apply(ws: Workspace, project: str, links: pa.Table, ids: pa.Table | None,
           cfg: IdentityConfig) -> ResolveResult:
    t0 = time.perf_counter()
    con = ws.con
    link_src = store.sql_source(ws, LINKS, project)  # the pairs only: their state does not matter here
    map_src = idmap.source(ws, project)
    if link_src is not None and links.num_rows:  # only links not stored before (removed ones stay removed)
        con.register("_new_links", links)
        links = _arrow(con.sql(
            f"SELECT * FROM _new_links n ANTI JOIN {link_src} o USING (id_type_a, id_a, id_type_b, id_b)"
        ).to_arrow_table())
        con.unregister("_new_links")
    if map_src is not None and ids is not None and ids.num_rows:
        con.register("_new_ids", ids)
        ids = _arrow(con.sql(f"SELECT * FROM _new_ids ANTI JOIN {map_src} USING (id_type, id)").to_arrow_table())
        con.unregister("_new_ids")
    nodes = (ids.column("id_type"), ids.column("id")) if ids is not None else None
    if map_src is None:
        s = stitch(Links.from_table(links), cfg, nodes)
        new_links = _with_project(_full_links(links, s.flagged), project)
        linkstore.append(ws, project, new_links)
        idmap.write_base(ws, project, s.table())
        persons = pc.count_distinct(s.person_id).as_py()
        idmap.record_counts(ws, project, len(s.id), persons)
        return ResolveResult(project, links.num_rows, links.num_rows, int(s.flagged.sum()), len(s.id),
                             persons, persons, True, round(time.perf_counter() - t0, 3))
    if links.num_rows == 0 and (ids is None or ids.num_rows == 0):
        total, n_ids, persons = _counts(ws, project)
        return ResolveResult(project, total, 0, 0, n_ids, persons, 0, False,
                             round(time.perf_counter() - t0, 3))
    # the persons the new links touch, as stars of their ids
    con.register("_nl", links.select(["id_type_a", "id_a", "id_type_b", "id_b"]))
    star = _arrow(con.sql(
        f"WITH touched AS (SELECT DISTINCT m.person_id FROM {map_src} m JOIN ("
        " SELECT id_type_a AS id_type, id_a AS id FROM _nl UNION SELECT id_type_b, id_b FROM _nl) n"
        " USING (id_type, id)),"
        f" members AS (SELECT m.* FROM {map_src} m SEMI JOIN touched USING (person_id))"
        " SELECT id_type AS id_type_a, id AS id_a,"
        " first_value(id_type) OVER w AS id_type_b, first_value(id) OVER w AS id_b, person_id"
        " FROM members WINDOW w AS (PARTITION BY person_id ORDER BY id_type, id)"
    ).to_arrow_table())
    con.unregister("_nl")
    touched = pc.unique(star.column("person_id"))
    n_star = star.num_rows
    star_links = pa.table({
        "id_type_a": star.column("id_type_a"), "id_a": star.column("id_a"),
        "id_type_b": star.column("id_type_b"), "id_b": star.column("id_b"),
        "linked_at": pa.array(np.full(n_star, _EPOCH, np.int64)),
    })
    new_l = Links.from_table(links)
    def chain(col: str, new: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
        parts = [*star_links.column(col).chunks, *(new.chunks if isinstance(new, pa.ChunkedArray) else [new])]
        return pa.chunked_array([c.cast(pa.string()) for c in parts], pa.string())

    all_links = Links(chain("id_type_a", new_l.type_a), chain("id_a", new_l.id_a), chain("id_type_b", new_l.type_b),
                      chain("id_b", new_l.id_b),
                      np.concatenate([star_links.column("linked_at").to_numpy(), new_l.linked_at]))
    s = stitch(all_links, cfg, nodes)
    flagged = s.flagged[n_star:]
    sub = s.table()
    ids0, persons0 = idmap.counts(ws, project)  # before: the touched persons' rows are replaced
    if flagged.any():
        # a cap was hit: which link wins depends on time order, and a late-arriving
        # earlier link must win as in a full resolve, so these persons are recomputed
        # from their real links instead of stars; one of their links that loses may
        # free room for a flagged link to another person, so those come along too
        members = _with_flagged_neighbours(ws, project, sub.select(["id_type", "id"]))
        ids_before, persons_before = _map_counts(ws, project, members)
        s, _ = _restitch(ws, project, cfg, members, links, None, "identity")
        n_ids = ids0 + len(s.id) - ids_before
        persons = persons0 - persons_before + pc.count_distinct(s.person_id).as_py()
        n_flagged = int(s.flagged.sum())
    else:
        idmap.write_delta(ws, project, sub)  # only the touched persons' rows: no rewrite of the map
        if links.num_rows:
            linkstore.append(ws, project, _with_project(_full_links(links, flagged), project))
        n_flagged = int(flagged.sum())
        n_ids = ids0 + len(s.id) - n_star
        persons = persons0 - len(touched) + pc.count_distinct(s.person_id).as_py()
    after = pc.count_distinct(s.person_id).as_py()
    idmap.record_counts(ws, project, n_ids, persons)
    return ResolveResult(project, sum(f.rows for f in store.live(ws, LINKS, project)), links.num_rows,
                         n_flagged, n_ids, persons, after, False, round(time.perf_counter() - t0, 3))


def _counts(ws: Workspace, project: str) -> tuple[int, int, int]:
    links = sum(f.rows for f in store.live(ws, LINKS, project))
    ids, persons = idmap.counts(ws, project)
    return links, ids, persons


def resolve(ws: Workspace, project: str | None = None, *, full: bool = False) -> ResolveResult:
    """Find new links in the project's events and fold them into the persons.

    ``full`` recomputes every person from all stored links (removed ones excluded),
    e.g. after changing caps or priorities in cxlens.toml.
    """
    project = project or ws.default_project
    cfg = IdentityConfig.from_config(ws.config)
    with ws.writing():
        links, ids = extract(ws, project, cfg)
        if full:
            return _recompute_all(ws, project, links, ids, cfg)
        return _apply(ws, project, links, ids, cfg)


def _recompute_all(ws: Workspace, project: str, links: pa.Table, ids: pa.Table,
                   cfg: IdentityConfig) -> ResolveResult:
    t0 = time.perf_counter()
    con = ws.con
    src = linkstore.source(ws, project)
    con.register("_ext", links)
    if src is not None:
        stored = _arrow(con.sql(
            f"SELECT id_type_a, id_a, id_type_b, id_b, link_source, event_id, linked_at, removed FROM {src}"
            " UNION ALL SELECT id_type_a, id_a, id_type_b, id_b, link_source, event_id, linked_at, false"
            f" FROM _ext ANTI JOIN {src} USING (id_type_a, id_a, id_type_b, id_b)"
        ).to_arrow_table())
    else:
        stored = _arrow(con.sql("SELECT *, false AS removed FROM _ext").to_arrow_table())
    con.unregister("_ext")
    removed = stored.column("removed").combine_chunks()
    active = stored.filter(pc.invert(removed))
    # ids of removed links stay persons of their own
    extra_t = pa.chunked_array([*ids.column("id_type").chunks, *stored.column("id_type_a").chunks,
                                *stored.column("id_type_b").chunks], pa.string())
    extra_i = pa.chunked_array([*ids.column("id").chunks, *stored.column("id_a").chunks,
                                *stored.column("id_b").chunks], pa.string())
    s = stitch(Links.from_table(active), cfg, (extra_t, extra_i))
    flagged = np.zeros(stored.num_rows, np.bool_)
    flagged[np.flatnonzero(~removed.to_numpy(zero_copy_only=False))] = s.flagged
    table = _with_project(_full_links(stored, flagged, removed), project)
    linkstore.replace(ws, project, table)
    idmap.write_base(ws, project, s.table())
    persons = pc.count_distinct(s.person_id).as_py()
    idmap.record_counts(ws, project, len(s.id), persons)
    return ResolveResult(project, stored.num_rows, links.num_rows, int(flagged.sum()), len(s.id),
                         persons, persons, True, round(time.perf_counter() - t0, 3))


# -- reading -------------------------------------------------------------------------
def id_map(ws: Workspace, project: str) -> duckdb.DuckDBPyRelation:
    """The current map: (id_type, id, person_id) of every id seen."""
    return idmap.relation(ws, project)


def with_person(ws: Workspace, rel: duckdb.DuckDBPyRelation, project: str | None = None
                ) -> duckdb.DuckDBPyRelation:
    """``rel`` (events or feedback: user_id, anonymous_id) plus a ``person_id`` column.

    The user id decides first, then the anonymous id, so anonymous events before the
    first identify belong to the person afterwards (backfill). Ids not resolved yet count
    as persons of their own, under the id itself (run ``cxlens identity resolve``).
    """
    project = project or ws.default_project
    src = idmap.source(ws, project)
    name = f"_wp_{uuid.uuid4().hex[:8]}"
    if src is None:
        return _rel(rel.query(name, f"SELECT *, coalesce(user_id, anonymous_id) AS person_id FROM {name}"))
    return _rel(rel.query(name, (
        f"SELECT e.*, coalesce(mu.person_id, ma.person_id, e.user_id, e.anonymous_id)"
        f" AS person_id FROM {name} e"
        f" LEFT JOIN (SELECT id, person_id FROM {src} WHERE id_type = 'user_id') mu ON mu.id = e.user_id"
        f" LEFT JOIN (SELECT id, person_id FROM {src} WHERE id_type = 'anonymous_id') ma"
        " ON ma.id = e.anonymous_id"
    )))


def person_of(ws: Workspace, project: str, id_: str) -> tuple[str, list[dict[str, str]]]:
    """The person an id (any type, or a person_id) belongs to, and all its ids."""
    src = idmap.source(ws, project)
    if src is None:
        raise NotFound(f"project {project!r} has no resolved identities; run: cxlens identity resolve")
    rows = ws.con.execute(
        f"SELECT id_type, id, person_id FROM {src} WHERE person_id IN"
        f" (SELECT person_id FROM {src} WHERE id = ? OR person_id = ?) ORDER BY id_type, id",
        [id_, id_],
    ).fetchall()
    if not rows:
        raise NotFound(f"no person has the id {id_!r} in project {project!r}; check the id or run:"
                       " cxlens identity resolve")
    persons = {r[2] for r in rows}
    if len(persons) > 1:
        raise ValidationError(
            f"{id_!r} is an id of {len(persons)} persons (as different id types); pass their person_id:"
            f" {', '.join(sorted(persons))}"
        )
    return rows[0][2], [{"id_type": r[0], "id": r[1]} for r in rows]


def _link_rows(ws: Workspace, project: str, ids: list[dict[str, str]]) -> list[LinkRow]:
    src = linkstore.source(ws, project)
    if src is None:
        return []
    con = ws.con
    con.register("_ids", pa.table({"id_type": [i["id_type"] for i in ids], "id": [i["id"] for i in ids]}))
    try:
        rows = con.execute(
            "SELECT id_type_a, id_a, id_type_b, id_b, link_source, event_id, CAST(linked_at AS VARCHAR),"
            f" flagged, removed FROM {src} l WHERE EXISTS (SELECT 1 FROM _ids i WHERE"
            " (i.id_type = l.id_type_a AND i.id = l.id_a) OR (i.id_type = l.id_type_b AND i.id = l.id_b))"
            " ORDER BY linked_at, id_a, id_b"
        ).fetchall()
    finally:
        con.unregister("_ids")
    return [LinkRow(*r) for r in rows]


def explain(ws: Workspace, project: str | None, id_: str) -> Explanation:
    """The person of ``id_``: its ids and every link that touches them, in time order,
    with the source and event that made each link (flagged and removed ones included)."""
    project = project or ws.default_project
    person, ids = person_of(ws, project, id_)
    return Explanation(project, id_, person, ids, _link_rows(ws, project, ids))


def _map_counts(ws: Workspace, project: str, members: pa.Table) -> tuple[int, int]:
    """(ids, persons) of ``members`` (id_type, id) in the id map as it is now."""
    src = idmap.source(ws, project)
    if src is None:
        return 0, 0
    ws.con.register("_counted", members)
    try:
        got = ws.con.execute(f"SELECT count(*), count(DISTINCT person_id) FROM {src}"
                             " SEMI JOIN _counted USING (id_type, id)").fetchall()
    finally:
        ws.con.unregister("_counted")
    return int(got[0][0]), int(got[0][1])


def _restitch(ws: Workspace, project: str, cfg: IdentityConfig, members: pa.Table,
              new: pa.Table | None, gone: pa.Table | None, kind: str) -> tuple[Stitched, bool]:
    """Recompute the persons of ``members`` (id_type, id) from their stored links (both
    ends among them), plus ``new`` links, minus the ``gone`` pairs (a, b), in time
    order, exactly as a full resolve would; record the links whose state changed and
    append the persons' map rows (neither table is rewritten). The flag says whether a
    stored link that was active is not any more (flagged or removed)."""
    src = linkstore.source(ws, project)
    assert src is not None
    con = ws.con
    con.register("_members", members)
    con.register("_gone", gone if gone is not None else pa.table({"a": pa.array([], pa.string()),
                                                                  "b": pa.array([], pa.string())}))
    try:
        # links to other persons (flagged) stay out, so no stranger's id joins alone
        stored = _arrow(con.sql(
            f"SELECT * FROM {src} l SEMI JOIN _members m ON m.id_type = l.id_type_a AND m.id = l.id_a"
            " SEMI JOIN _members m2 ON m2.id_type = l.id_type_b AND m2.id = l.id_b"
        ).to_arrow_table())
        was_removed = stored.column("removed").combine_chunks().to_numpy(zero_copy_only=False)
        con.register("_stored", stored)
        comp = _arrow(con.sql(
            "SELECT * REPLACE (removed OR EXISTS (SELECT 1 FROM _gone g WHERE g.a = l.id_a AND g.b = l.id_b)"
            " AS removed) FROM _stored l").to_arrow_table()).select(IDENTITIES_SCHEMA.names).cast(IDENTITIES_SCHEMA)
        if new is not None and new.num_rows:
            fresh = _with_project(_full_links(new, np.zeros(new.num_rows, np.bool_)), project)
            comp = pa.concat_tables([comp, fresh.cast(IDENTITIES_SCHEMA)])
        removed = comp.column("removed").combine_chunks().to_numpy(zero_copy_only=False)
        active = comp.filter(pa.array(~removed))
        s = stitch(Links.from_table(active), cfg,
                   (members.column("id_type").combine_chunks(), members.column("id").combine_chunks()))
        flags = np.zeros(comp.num_rows, np.bool_)
        flags[np.flatnonzero(~removed)] = s.flagged
        n_old = comp.num_rows - (new.num_rows if new is not None else 0)
        old_flags = comp.column("flagged").combine_chunks().to_numpy(zero_copy_only=False)[:n_old]
        comp = comp.set_column(comp.schema.get_field_index("flagged"), "flagged", pa.array(flags))
        old = comp.slice(0, n_old)
        changed = (old_flags != flags[:n_old]) | (removed[:n_old] != was_removed)
        freed = bool((~old_flags & ~was_removed & (flags[:n_old] | removed[:n_old])).any())
        if changed.any():  # a late-arriving earlier link won, or an unlink: new states only
            linkstore.set_state(ws, project, old.filter(pa.array(changed)), kind)
        if n_old < comp.num_rows:
            linkstore.append(ws, project, comp.slice(n_old), kind)
        idmap.write_delta(ws, project, s.table(), kind)
    finally:
        for name in ("_members", "_gone", "_stored"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)
    return s, freed


def _with_flagged_neighbours(ws: Workspace, project: str, members: pa.Table) -> pa.Table:
    """``members`` (id_type, id) plus every person reachable from them over flagged
    links, transitively: the connected components of all active and flagged links
    around them. Whether a flagged link fits under the caps depends on the persons
    at both ends, so after an unlink these are exactly the ids whose persons and
    link states a full resolve could give differently; links never cross this set."""
    src = linkstore.source(ws, project)
    map_src = idmap.source(ws, project)
    if src is None or map_src is None:
        return members
    con = ws.con
    # the flagged links are few (a cap is the exception): read them once, not per round
    flagged = _arrow(con.sql(f"SELECT id_type_a, id_a, id_type_b, id_b FROM {src}"
                             " WHERE flagged AND NOT removed").to_arrow_table())
    if flagged.num_rows == 0:
        return members
    con.register("_flagged", flagged)
    while True:
        con.register("_grow", members)
        try:
            grown = _arrow(con.sql(
                "WITH ends AS ("
                " SELECT l.id_type_b AS id_type, l.id_b AS id FROM _flagged l SEMI JOIN _grow g"
                " ON g.id_type = l.id_type_a AND g.id = l.id_a"
                " UNION SELECT l.id_type_a, l.id_a FROM _flagged l SEMI JOIN _grow g"
                " ON g.id_type = l.id_type_b AND g.id = l.id_b),"
                f" persons AS (SELECT DISTINCT m.person_id FROM {map_src} m SEMI JOIN ends e USING (id_type, id))"
                " SELECT id_type, id FROM _grow UNION SELECT id_type, id FROM ends"
                f" UNION SELECT m.id_type, m.id FROM {map_src} m SEMI JOIN persons USING (person_id)"
            ).to_arrow_table())
        finally:
            con.unregister("_grow")
        if grown.num_rows == members.num_rows:
            con.unregister("_flagged")
            return members
        members = grown


def unlink(ws: Workspace, project: str | None, id_a: str, id_b: str) -> UnlinkResult:
    """Undo the direct link(s) between two ids: marked removed (never re-added from the
    same events), and the person they joined is recomputed from its remaining links,
    together with every person its ids reach over flagged links: a link once over a
    cap may fit now (e.g. a shared device's second user), as in a full resolve."""
    project = project or ws.default_project
    cfg = IdentityConfig.from_config(ws.config)
    with ws.writing():
        person, ids = person_of(ws, project, id_a)
        links = _link_rows(ws, project, ids)
        direct = [ln for ln in links if not ln.removed and {ln.id_a, ln.id_b} == {id_a, id_b}]
        if not direct:
            raise NotFound(f"no direct link between {id_a!r} and {id_b!r}; see the chain with:"
                           f" cxlens profile explain {id_a}")
        own = pa.table({"id_type": [i["id_type"] for i in ids], "id": [i["id"] for i in ids]})
        members = _with_flagged_neighbours(ws, project, own)
        s, _ = _restitch(ws, project, cfg, members, None, pa.table({"a": [id_a, id_b], "b": [id_b, id_a]}),
                      "unlink")
        mine = pc.is_in(pc.binary_join_element_wise(s.id_type.cast(pa.string()), s.id, "\x1f"),
                        value_set=pc.binary_join_element_wise(own.column("id_type"), own.column("id"), "\x1f"))
        after = sorted(set(s.table().filter(mine).column("person_id").to_pylist()))
        return UnlinkResult(project, len(direct), [person], after)
