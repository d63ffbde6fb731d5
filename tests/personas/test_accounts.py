"""Account-level (B2B buying centre) personas against the simulator's planted account personas."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score

import cxlens
from cxlens.personas.runs import assign_persons, load_run, run_discovery
from cxlens.personas.store import run_dir
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace


def test_b2b_account_personas_recover_the_planted_ones_and_reach_every_member(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", project="b2b")
    simulate(ws, business="b2b", customers=2000, seed=3, days=60)
    run = run_discovery(ws, "b2b", level="account")
    assert run.level == "account" and load_run(ws, "b2b", level="account").run_id == run.run_id
    truth = {r["account_id"]: r["persona"]
             for r in pq.read_table(ws.root / "ground_truth" / "b2b" / "accounts.parquet").to_pylist()}
    found = pq.read_table(run_dir(ws, "b2b", "account") / "assignments.parquet").to_pylist()
    assert {r["account_id"] for r in found} <= set(truth)
    ari = adjusted_rand_score([truth[r["account_id"]] for r in found], [r["persona"] for r in found])
    assert ari >= 0.9, (run.k, ari)
    # explained per account, with buying-centre facts available to the description
    assert all("Firmenkunden" in p.description_de and "accounts" in p.description_en for p in run.personas)
    # every member of an account gets the account's persona
    members = pq.read_table(run_dir(ws, "b2b", "account") / "members.parquet").to_pylist()
    t = cxlens.personas.current_assignments(ws, "b2b", level="account")
    by_account = {r["account_id"]: r["persona"] for r in found}
    got = dict(zip(t.column("person_id").to_pylist(), t.column("persona_id").to_pylist(), strict=True))
    assert len(got) == len(members) > len(found)
    assert all(got[m["person_id"]] == by_account[m["account_id"]] for m in members)
    # person-level runs are separate: the account run did not become the person run
    res = assign_persons(ws, "b2b", level="account")
    assert res.new_persons == 0 and sum(res.counts.values()) == run.persons
