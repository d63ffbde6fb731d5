"""``cxlens.personas.current_assignments``: the stable read of the current persona per person."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import cxlens
from cxlens.errors import NotFound
from cxlens.personas.runs import assign_persons, run_discovery
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace


def test_current_assignments_give_every_person_of_the_latest_run_its_persona_and_name(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", project="shop")
    with pytest.raises(NotFound, match="cxlens personas discover -p shop"):
        cxlens.personas.current_assignments(ws, "shop")
    simulate(ws, business="shop", customers=800, seed=2, days=30)
    run = run_discovery(ws, "shop")
    t = cxlens.personas.current_assignments(ws, "shop")
    assert t.schema == pa.schema([("person_id", pa.string()), ("persona_id", pa.int32()),
                                  ("persona_name", pa.string())])
    assert t.num_rows == run.persons
    assert t.column("person_id").to_pylist() == sorted(t.column("person_id").to_pylist())
    names = {p.index: p.name_en for p in run.personas} | {-1: "Unassigned"}
    assert all(names[i] == n for i, n in zip(t.column("persona_id").to_pylist(),
                                             t.column("persona_name").to_pylist(), strict=True))
    sizes = {p.index: p.size for p in run.personas}
    ids = t.column("persona_id").to_pylist()
    assert {i: ids.count(i) for i in sizes} == sizes
    de = cxlens.personas.current_assignments(ws, "shop", lang="de")
    assert set(de.column("persona_name").to_pylist()) <= {p.name_de for p in run.personas} | {"Ohne Persona"}
    # assign without re-clustering keeps the same read
    assign_persons(ws, "shop")
    assert cxlens.personas.current_assignments(ws, "shop").column("persona_id") == t.column("persona_id")
