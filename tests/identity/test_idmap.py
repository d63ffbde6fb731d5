"""The id map at scale: ids to codes, base plus deltas, compaction, batch order."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa

from cxlens.identity import explain, id_map, idmap, resolve, unlink, with_person
from cxlens.identity import links as linkstore
from cxlens.identity.codes import encode, type_codes
from cxlens.identity.config import IdentityConfig
from cxlens.identity.resolve import apply_links_table
from cxlens.store.workspace import Workspace


def links(pairs: list[tuple[str, str, int]]) -> pa.Table:
    """(anonymous id, user id, time in s) -> a links table."""
    return pa.table({
        "id_type_a": ["anonymous_id"] * len(pairs), "id_a": [a for a, _, _ in pairs],
        "id_type_b": ["user_id"] * len(pairs), "id_b": [u for _, u, _ in pairs],
        "linked_at": pa.array([t * 1_000_000 for _, _, t in pairs], pa.timestamp("us", tz="UTC")),
    })


def test_equal_ids_get_equal_codes_across_chunks_and_string_types() -> None:
    rng = random.Random(3)
    words = [f"id-{rng.randrange(500)}" for _ in range(4000)]
    chunked = pa.chunked_array([pa.array(words[:1500]), pa.array(words[1500:2500])])
    wide = pa.array(words[2500:], pa.large_string())
    types_col = pa.chunked_array([pa.array(["user_id"] * 2000), pa.array(["email"] * 2000)])
    tcodes = type_codes([types_col], IdentityConfig().names)
    codes, first, _, _, _, segs = encode([chunked, wide], tcodes)
    assert [(lo, hi) for lo, hi in segs.tolist()] == [(0, len(set(zip(tcodes.tolist(), words, strict=True))))]
    seen: dict[tuple[int, str], int] = {}
    for i, w in enumerate(words):
        assert seen.setdefault((int(tcodes[i]), w), int(codes[i])) == codes[i]
    assert len(set(seen.values())) == len(seen)  # different (type, id): different codes
    assert all(words[first[c]] == w for (_, w), c in seen.items())


def test_incremental_batches_write_deltas_and_readers_see_base_plus_delta(ws: Workspace) -> None:
    apply_links_table(ws, "default", links([("d1", "u1", 1), ("d2", "u2", 2), ("d3", "u3", 3)]))
    base = ws.catalog.live_files(idmap.MAP, "default")
    apply_links_table(ws, "default", links([("d4", "u1", 4)]))  # joins a new device to u1
    assert ws.catalog.live_files(idmap.MAP, "default") == base  # the base was not rewritten
    delta = ws.catalog.live_files(idmap.DELTA, "default")
    assert len(delta) == 1 and delta[0].rows == 3  # only the touched person: d1, u1 and the new d4
    m = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert len(m) == 7 and m["d4"] == m["d1"] == m["u1"] != m["u2"]
    ws.append(pa.table({"event_id": ["e1"], "type": ["page"], "anonymous_id": ["d4"],
                        "timestamp": pa.array([0], pa.timestamp("us", tz="UTC"))}), source="test")
    assert with_person(ws, ws.events()).select("person_id").fetchall() == [(m["u1"],)]


def test_deltas_are_compacted_into_the_base(ws: Workspace) -> None:
    apply_links_table(ws, "default", links([(f"d{i}", f"u{i}", i) for i in range(20)]))
    for k in range(idmap.COMPACT_FILES):
        apply_links_table(ws, "default", links([(f"x{k}-{i}", f"u{i}", 100 + k) for i in range(5)]))
        deltas = len(ws.catalog.live_files(idmap.DELTA, "default"))
        assert deltas == (k + 1) % idmap.COMPACT_FILES  # the 16th delta folds them all into the base
    assert len(ws.catalog.live_files(idmap.MAP, "default")) == 1
    m = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert len(m) == 40 + 5 * idmap.COMPACT_FILES and m["x15-4"] == m["x0-4"] == m["u4"] != m["u3"]


def test_the_same_links_in_two_batch_orders_give_the_same_person_ids(tmp_path: Any) -> None:
    rng = np.random.default_rng(5)
    n = 600
    people = rng.integers(0, 120, n).tolist()
    # a few kiosk devices many people log in on: the caps decide, and time order with them
    pairs = [(f"kiosk-{i % 3}" if i % 41 == 0 else f"d{p}-{i % 4}", f"u{p}", int(t))
             for i, (p, t) in enumerate(zip(people, rng.integers(0, 10_000, n).tolist(), strict=True))]
    batches = [pairs[i : i + 50] for i in range(0, n, 50)]
    maps = []
    for k, order in enumerate((list(range(len(batches))), list(reversed(range(len(batches)))))):
        ws = Workspace.init(tmp_path / f"ws{k}")
        for i in order:
            res = apply_links_table(ws, "default", links(batches[i]))
            now = id_map(ws, "default").fetchall()  # the counts kept up to date are the real ones
            assert (res.ids, res.persons) == (len(now), len({p for _, _, p in now}))
        maps.append(sorted(id_map(ws, "default").fetchall()))
        ws.close()
    assert maps[0] == maps[1]
    assert len({p for _, _, p in maps[0]}) > 100


def test_a_late_earlier_link_flips_flags_without_rewriting_the_links(ws: Workspace) -> None:
    # a family tablet: anna logs in first, then ben (over the user id cap: flagged) ...
    apply_links_table(ws, "default", links([("tablet", "u-anna", 20), ("tablet", "u-ben", 30)]))
    stored = ws.catalog.live_files(linkstore.LINKS, "default")
    # ... and a link from before both arrives late: cleo's login wins, anna's is flagged now
    apply_links_table(ws, "default", links([("tablet", "u-cleo", 10)]))
    assert set(stored) < set(ws.catalog.live_files(linkstore.LINKS, "default"))  # appended, not rewritten
    assert [f.rows for f in ws.catalog.live_files(linkstore.STATE, "default")] == [1]  # anna's link
    flags = {ln.id_b: ln.flagged for ln in explain(ws, None, "tablet").links}
    assert flags == {"u-cleo": False, "u-anna": True, "u-ben": True}
    m = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert m["tablet"] == m["u-cleo"] != m["u-anna"]
    unlink(ws, None, "tablet", "u-cleo")  # an unlink is a state change too
    assert len(ws.catalog.live_files(linkstore.STATE, "default")) == 2
    assert [ln.removed for ln in explain(ws, None, "u-cleo").links] == [True]
    m = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert m["tablet"] != m["u-cleo"]
    # the links flagged because of cleo's stay flagged until a full resolve re-applies them all
    resolve(ws, full=True)
    m = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert m["tablet"] == m["u-anna"] != m["u-cleo"]
