"""Identity resolution against the simulator's ground truth."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from cxlens.identity import id_map, resolve
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace


def test_default_rules_reconstruct_at_least_99_percent_of_simulated_shop_customers(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", project="shop")
    simulate(ws, business="shop", customers=3000, seed=11, days=60)
    resolve(ws, "shop")
    person = {(t, i): p for t, i, p in id_map(ws, "shop").fetchall()}
    members: dict[str, set[tuple[str, str]]] = {}
    for key, p in person.items():
        if key[0] in ("user_id", "anonymous_id"):
            members.setdefault(p, set()).add(key)
    truth = pq.read_table(ws.root / "ground_truth" / "shop" / "persons.parquet").to_pylist()
    exact = multi_device = multi_device_exact = 0
    for t in truth:
        # A device the person never logged in on carries no link to them: no
        # deterministic rule can join it, so it must stay a person of its own.
        # Everything else (user id + devices with a login) must be exactly one person.
        linked = {("anonymous_id", a) for a in t["identified_anonymous_ids"]}
        if t["user_id"]:
            linked.add(("user_id", t["user_id"]))
        alone = [("anonymous_id", a) for a in t["anonymous_ids"] if a not in t["identified_anonymous_ids"]]
        ok = all(members[person[a]] == {a} for a in alone)
        if linked:
            ps = {person.get(k) for k in linked}
            ok = ok and len(ps) == 1 and None not in ps and members[ps.pop()] == linked  # type: ignore[index]
        exact += ok
        if len(t["identified_anonymous_ids"]) > 1:
            multi_device += 1
            multi_device_exact += ok
    assert exact / len(truth) >= 0.99, f"{exact} of {len(truth)} reconstructed"
    assert multi_device >= 100  # persons who browsed on several devices before logging in
    assert multi_device_exact / multi_device >= 0.99
