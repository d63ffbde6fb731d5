"""Identity resolution: declarative journeys in, persons out."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from cxlens.errors import NotFound
from cxlens.identity import explain, id_map, resolve, unlink, with_person
from cxlens.identity.config import IdentityConfig
from cxlens.identity.graph import Links, stitch
from cxlens.store.workspace import Workspace
from support import journeys


def ident(at: str, anon: str, user: str, **traits: Any) -> dict[str, Any]:
    return {"at": at, "type": "identify", "event": "Identify", "anonymous_id": anon, "user_id": user,
            "properties": traits or None}


def page(at: str, anon: str, user: str | None = None) -> dict[str, Any]:
    return {"at": at, "type": "page", "event": "Home", "anonymous_id": anon, "user_id": user}


def persons_by_event(ws: Workspace) -> dict[tuple[str | None, str | None], str]:
    rows = ws.query(lambda r: with_person(ws, r).select("anonymous_id, user_id, person_id").fetchall())
    return {(a, u): p for a, u, p in rows}


def test_anonymous_visits_on_two_devices_belong_to_the_person_after_login(ws: Workspace) -> None:
    ws.append(journeys({"alice": [
        page("2024-05-01 09:00", "phone"), page("2024-05-01 20:00", "laptop"),
        ident("2024-05-02 10:00", "laptop", "u-alice"), ident("2024-05-03 10:00", "phone", "u-alice"),
        page("2024-05-03 10:01", "phone", "u-alice"),
    ], "bob": [page("2024-05-01 09:30", "bob-dev")]}), source="test")
    res = resolve(ws)
    assert res.persons == 2
    by = persons_by_event(ws)
    alice = by[("laptop", "u-alice")]
    assert by[("phone", None)] == by[("laptop", None)] == by[("phone", "u-alice")] == alice
    assert by[("bob-dev", None)] != alice


def test_shared_device_over_the_cap_does_not_merge_its_users(ws: Workspace) -> None:
    # a family tablet: three people log in on it; a person holds at most one user_id
    ws.append(journeys({"family": [
        ident("2024-05-01 10:00", "tablet", "u-anna"), ident("2024-05-02 10:00", "tablet", "u-ben"),
        ident("2024-05-03 10:00", "tablet", "u-cleo"), ident("2024-05-03 11:00", "ben-phone", "u-ben"),
    ]}), source="test")
    res = resolve(ws)
    assert res.links_flagged == 2
    m = {(t, i): p for t, i, p in id_map(ws, "default").fetchall()}
    users = {m[("user_id", u)] for u in ("u-anna", "u-ben", "u-cleo")}
    assert len(users) == 3  # not merged through the tablet
    assert m[("anonymous_id", "ben-phone")] == m[("user_id", "u-ben")]
    flagged = [ln for ln in explain(ws, None, "u-ben").links if ln.flagged]
    assert [(ln.id_a, ln.id_b) for ln in flagged] == [("tablet", "u-ben")]  # kept, but flagged


def test_caps_come_from_cxlens_toml(tmp_path: Any) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text(
        (ws.root / "cxlens.toml").read_text() + "\n[identity.id_types.user_id]\ncap = 5\n")
    ws = Workspace.open(ws.root)
    ws.append(journeys({"f": [ident("2024-05-01 10:00", "tablet", "u-1"),
                              ident("2024-05-01 11:00", "tablet", "u-2")]}), source="test")
    assert resolve(ws).persons == 1


def test_the_same_links_in_any_order_give_the_same_persons() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    people = rng.integers(0, 400, n)
    anon = [f"a{p}-{d}" for p, d in zip(people.tolist(), rng.integers(0, 3, n).tolist(), strict=True)]
    # a few shared devices, so the caps (order-sensitive) are exercised too
    anon = [f"shared-{i % 5}" if i % 97 == 0 else a for i, a in enumerate(anon)]
    users = [f"u{p}" for p in people.tolist()]
    ts = rng.integers(0, 10**9, n)
    ts[:50] = 42  # ties are broken by the ids, not by position
    base = pa.table({"id_type_a": ["anonymous_id"] * n, "id_a": anon, "id_type_b": ["user_id"] * n,
                     "id_b": users, "linked_at": pa.array(ts.tolist(), pa.int64())})

    def persons(t: pa.Table) -> set[tuple[str, str, str]]:
        s = stitch(Links.from_table(t.cast(t.schema.set(4, pa.field("linked_at", pa.timestamp("us"))))),
                   IdentityConfig())
        return set(zip(s.id_type.to_pylist(), s.id.to_pylist(), s.person_id.to_pylist(), strict=True))

    first = persons(base)
    for seed in range(3):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        assert persons(base.take(pa.array(order))) == first



def test_caps_too_wide_to_share_a_word_are_honoured_as_narrow_ones() -> None:
    # the union-find packs each type's count into its cap's bit length; caps of
    # millions spill into further words, which must count and refuse alike
    from cxlens.identity.config import IdType
    wide = IdentityConfig((IdType("user_id", 1, 1), IdType("crm", 2, 2**30), IdType("shop", 3, 2**30),
                           IdType("email", 4, 2), IdType("anonymous_id", 9, 2)))
    t = pa.table({
        "id_type_a": ["anonymous_id", "anonymous_id", "anonymous_id", "email", "email", "email", "crm"],
        "id_a": ["d1", "d1", "d2", "a@x", "b@x", "c@x", "c1"],
        "id_type_b": ["user_id", "user_id", "user_id", "user_id", "user_id", "user_id", "user_id"],
        "id_b": ["u1", "u2", "u1", "u1", "u1", "u1", "u1"],
        "linked_at": pa.array(list(range(7)), pa.timestamp("us"))})
    s = stitch(Links.from_table(t), wide)
    # d1-u2: a second user id; c@x: a third e-mail; d2 fits (2 devices), c1 fits
    assert s.flagged.tolist() == [False, True, False, False, False, True, False]
    m = dict(zip(s.id.to_pylist(), s.person_id.to_pylist(), strict=True))
    assert m["d1"] == m["d2"] == m["a@x"] == m["b@x"] == m["c1"] == m["u1"]
    assert len({m["u1"], m["u2"], m["c@x"]}) == 3

def test_arrival_order_of_batches_does_not_change_person_ids(tmp_path: Any) -> None:
    evs = [ident("2024-05-01 10:00", "d1", "u-x", email="X@Example.de"),
           ident("2024-05-02 10:00", "d2", "u-x"), page("2024-05-02 11:00", "d3"),
           ident("2024-05-03 10:00", "d3", "u-y", email="x@example.de")]
    results = []
    for k, order in enumerate(([0, 1, 2, 3], [3, 2, 1, 0])):
        ws = Workspace.init(tmp_path / f"ws{k}")
        for i in order:  # one batch per event, resolved after each: incremental every time
            ws.append(journeys({"p": [evs[i]]}), source="test")
            resolve(ws)
        results.append(sorted(id_map(ws, "default").fetchall()))
        full = resolve(ws, full=True)
        assert sorted(id_map(ws, "default").fetchall()) == results[-1], "incremental == full"
        assert full.full
        ws.close()
    assert results[0] == results[1]


def test_incremental_resolve_merges_only_what_new_links_touch(ws: Workspace) -> None:
    ws.append(journeys({"p": [ident("2024-05-01 10:00", "d1", "u-1"), ident("2024-05-01 10:00", "d9", "u-9")]}),
              source="test")
    resolve(ws)
    before = persons_by_event(ws)
    ws.append(journeys({"p": [ident("2024-05-04 10:00", "d2", "u-1")]}), source="test")
    res = resolve(ws)
    assert not res.full and res.links_new == 1 and res.affected_persons == 1
    after = persons_by_event(ws)
    assert after[("d2", "u-1")] == after[("d1", "u-1")] == before[("d1", "u-1")]
    assert after[("d9", "u-9")] == before[("d9", "u-9")]


def test_unlink_splits_the_person_and_analyses_follow(ws: Workspace) -> None:
    ws.append(journeys({"p": [page("2024-05-01 09:00", "kiosk"), ident("2024-05-01 10:00", "kiosk", "u-1"),
                              ident("2024-05-02 10:00", "home", "u-1")]}), source="test")
    resolve(ws)
    assert len(set(persons_by_event(ws).values())) == 1
    res = unlink(ws, None, "kiosk", "u-1")
    assert res.removed_links == 1 and len(res.persons_after) == 2
    by = persons_by_event(ws)
    assert by[("kiosk", None)] != by[("home", "u-1")]
    assert by[("kiosk", "u-1")] == by[("home", "u-1")]  # the user id still decides
    resolve(ws)  # the same events do not bring the removed link back
    assert persons_by_event(ws)[("kiosk", None)] != by[("home", "u-1")]
    assert [ln.removed for ln in explain(ws, None, "kiosk").links] == [True]


def test_unlink_of_ids_that_are_not_directly_linked_says_how_to_look(ws: Workspace) -> None:
    ws.append(journeys({"p": [ident("2024-05-01 10:00", "d1", "u-1")]}), source="test")
    resolve(ws)
    with pytest.raises(NotFound, match="profile explain"):
        unlink(ws, None, "d1", "nobody")


def test_explain_lists_links_with_source_and_time(ws: Workspace) -> None:
    ws.append(journeys({"p": [ident("2024-05-01 10:00", "d1", "u-1", email="A@B.de"),
                              {"at": "2024-05-02 10:00", "type": "alias", "event": "Alias",
                               "anonymous_id": "old-crm-7", "user_id": "u-1"}]}), source="test")
    resolve(ws)
    ex = explain(ws, None, "a@b.de")
    got = {(ln.id_b if ln.id_type_b == "email" else ln.id_a, ln.link_source, ln.linked_at[:16]) for ln in ex.links}
    assert got == {("d1", "test:identify", "2024-05-01 10:00"), ("a@b.de", "test:trait:email", "2024-05-01 10:00"),
                   ("old-crm-7", "test:alias", "2024-05-02 10:00")}



def link_states(ws: Workspace) -> set[tuple[str, str, bool, bool]]:
    return {(ln.id_a, ln.id_b, ln.flagged, ln.removed) for i in ("u-1", "u-2", "u-3")
            for ln in explain(ws, None, i).links}


def the_map(ws: Workspace) -> dict[tuple[str, str], str]:
    return {(t, i): p for t, i, p in id_map(ws, ws.default_project).fetchall()}


def kiosk_workspace(tmp_path: Any) -> Workspace:
    """One user id and at most two devices per person; u-2 on d2, u-1 logs in on the
    shop's kiosk first (u-2's login there is over the user cap), d5 is u-2's second
    device (u-3's later login there is over the cap); resolved."""
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text(
        (ws.root / "cxlens.toml").read_text() + "\n[identity.id_types.anonymous_id]\ncap = 2\n")
    ws = Workspace.open(ws.root)
    ws.append(journeys({"p": [ident("2024-05-01 09:00", "d2", "u-2"),
                              ident("2024-05-01 10:00", "kiosk", "u-1"),
                              ident("2024-05-01 11:00", "kiosk", "u-2"),
                              ident("2024-05-01 12:00", "d5", "u-2"),
                              ident("2024-05-01 13:00", "d5", "u-3")]}), source="test")
    resolve(ws)
    return ws


def test_unlink_lets_a_link_once_over_the_cap_join_as_a_full_resolve_would(tmp_path: Any) -> None:
    # one user id and at most two devices per person. A shop kiosk: u-1 logs in on it
    # first, so u-2's login there is over the user cap and flagged, and u-2 still has
    # room for a second device, d5. Unlinking the kiosk from u-1 lets the kiosk join
    # u-2 (the flagged login becomes active); then d5 is u-2's third device (flagged
    # now) and d5's later login as u-3, flagged before, joins d5 to u-3: the change
    # travels over two flagged links.
    ws = kiosk_workspace(tmp_path)
    m = the_map(ws)
    assert m[("anonymous_id", "kiosk")] == m[("user_id", "u-1")]
    assert m[("anonymous_id", "d5")] == m[("user_id", "u-2")] != m[("user_id", "u-3")]
    assert {("kiosk", "u-2", True, False), ("d5", "u-2", False, False), ("d5", "u-3", True, False)
            } <= link_states(ws)

    res = unlink(ws, None, "kiosk", "u-1")

    assert res.removed_links == 1 and len(res.persons_after) == 2
    m = the_map(ws)
    assert m[("anonymous_id", "kiosk")] == m[("user_id", "u-2")] == m[("anonymous_id", "d2")]
    assert m[("anonymous_id", "d5")] == m[("user_id", "u-3")] != m[("user_id", "u-2")]
    assert len({m[("user_id", u)] for u in ("u-1", "u-2", "u-3")}) == 3
    states = link_states(ws)
    assert {("kiosk", "u-1", False, True), ("kiosk", "u-2", False, False), ("d5", "u-2", True, False),
            ("d5", "u-3", False, False)} <= states
    resolve(ws, full=True)
    assert the_map(ws) == m and link_states(ws) == states
    ws.close()


def test_a_late_earlier_link_that_frees_a_cap_lets_flagged_neighbours_join_as_a_full_resolve(
        tmp_path: Any) -> None:
    # as above (one user id, two devices per person): the kiosk is u-1's, so u-2's login
    # there is flagged, and d5 is u-2's second device. Late events, older than all of
    # that, show u-1 on two devices of their own: in time order u-1 is full when the
    # kiosk comes, the kiosk's login as u-1 is the flagged one, the kiosk joins u-2 and
    # d5 (now u-2's third device) goes to u-3. An incremental resolve must reach the
    # persons two flagged links away, as a full resolve does.
    ws = kiosk_workspace(tmp_path)
    assert the_map(ws)[("anonymous_id", "kiosk")] == the_map(ws)[("user_id", "u-1")]

    ws.append(journeys({"q": [ident("2024-05-01 08:00", "d7", "u-1"),
                              ident("2024-05-01 08:30", "d8", "u-1")]}), source="test")
    res = resolve(ws)

    assert not res.full
    m = the_map(ws)
    assert m[("user_id", "u-1")] == m[("anonymous_id", "d7")] == m[("anonymous_id", "d8")]
    assert m[("anonymous_id", "kiosk")] == m[("user_id", "u-2")] == m[("anonymous_id", "d2")]
    assert m[("anonymous_id", "d5")] == m[("user_id", "u-3")] != m[("user_id", "u-2")]
    states = link_states(ws)
    assert {("kiosk", "u-1", True, False), ("kiosk", "u-2", False, False), ("d5", "u-2", True, False),
            ("d5", "u-3", False, False)} <= states
    assert (res.ids, res.persons) == (8, 3)  # five devices, three user ids; three persons
    full = resolve(ws, full=True)
    assert the_map(ws) == m and link_states(ws) == states
    assert (full.ids, full.persons) == (res.ids, res.persons)
    ws.close()


def test_ids_coded_on_several_cores_get_one_dense_number_each(monkeypatch: pytest.MonkeyPatch) -> None:
    from cxlens.identity import codes as enc
    from cxlens.identity import unionfind as uf
    monkeypatch.setattr(enc, "_threads", lambda: 3)  # three partition ranges, whatever the machine
    rng = np.random.default_rng(3)
    distinct = rng.integers(0, 2**63, 700_000, dtype=np.int64).astype(np.uint64)
    pick = rng.integers(0, len(distinct), 1_200_000)
    h1 = distinct[pick]
    h2 = h1 * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    codes, first, n1, _, segs = enc.radix_codes(h1, h2)
    assert len(segs) == 3
    valid = np.concatenate([np.arange(lo, hi) for lo, hi in segs])
    assert len(valid) == len(np.unique(pick))
    assert (n1[codes] == h1).all()  # each row's code carries its own hash
    assert (codes[first[valid]] == valid).all()  # the first row of a code has that code
    by_hash = np.argsort(n1[valid])
    assert (first[valid][by_hash] == np.unique(h1, return_index=True)[1]).all()  # ... and is the first
    old = uf.time_numbering(codes, 600_000, np.arange(600_000, dtype=np.int32), segs)[3]
    assert sorted(old.tolist()) == sorted(valid.tolist())  # dense numbers for exactly the valid codes
