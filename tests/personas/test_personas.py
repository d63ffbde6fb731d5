"""Personas from behaviour against the simulator's planted personas."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from cxlens.identity import id_map
from cxlens.personas.runs import assign_persons, check_stability, drift, load_run, run_discovery
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace


def _truth(ws: Workspace, project: str) -> dict[str, str]:
    """Resolved person id -> planted persona (a device never logged in on is a person of
    its own and keeps its true person's persona)."""
    pm = {(t, i): p for t, i, p in id_map(ws, project).fetchall()}
    out: dict[str, str] = {}
    for r in pq.read_table(ws.root / "ground_truth" / project / "persons.parquet").to_pylist():
        keys = [("anonymous_id", a) for a in r["anonymous_ids"]] + ([("user_id", r["user_id"])] if r["user_id"] else [])
        for k in keys:
            if k in pm:
                out[pm[k]] = r["persona"]
    return out


def _ari(ws: Workspace, project: str) -> float:
    run = load_run(ws, project)
    t = pq.read_table(ws.root / "tables" / "personas" / f"project={project}" / "runs" / run.run_id
                      / "assignments.parquet").to_pylist()
    truth = _truth(ws, project)
    rows = [r for r in t if r["person_id"] in truth]
    assert len(rows) == len(t)
    # unassigned persons count as a group of their own: they lower the score, never raise it
    return float(adjusted_rand_score([truth[r["person_id"]] for r in rows], [r["persona"] for r in rows]))


@pytest.mark.parametrize(("business", "customers", "k"), [("shop", 3000, 5), ("b2b", 2000, 4)])
def test_planted_personas_are_found_with_default_settings(tmp_path: Path, business: Literal["shop", "b2b"], customers: int,
                                                          k: int) -> None:
    ws = Workspace.init(tmp_path / "ws", project=business)
    simulate(ws, business=business, customers=customers, seed=3, days=60)
    run = run_discovery(ws, business)  # resolves identity itself
    assert run.k == k
    assert _ari(ws, business) >= 0.9
    assert sum(p.size for p in run.personas) + run.unassigned == run.persons
    assert abs(sum(p.revenue_share for p in run.personas) - 1) < 0.05
    # a new run over the same data is matched to the previous one persona by persona
    again = run_discovery(ws, business)
    assert {d.kind for d in again.drift} <= {"stable", "grew", "shrank"}
    # same seed, same data -> the very same personas (determinism)
    runs = ws.root / "tables" / "personas" / f"project={business}" / "runs"
    assert (pq.read_table(runs / run.run_id / "assignments.parquet")
            == pq.read_table(runs / again.run_id / "assignments.parquet"))
    assert [p.name_en for p in again.personas] == [p.name_en for p in run.personas]
    stab = check_stability(ws, business, (0, 1))
    assert stab.same_seed_identical and stab.k[0] == k and stab.ari[0] == 1.0
    res = assign_persons(ws, business)
    assert res.new_persons == 0 and sum(res.counts.values()) == run.persons


def test_shop_personas_are_named_and_described_with_numbers_in_german_and_english(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", project="shop")
    simulate(ws, business="shop", customers=2000, seed=5, days=60)
    run = run_discovery(ws, "shop")
    beauty = [p for p in run.personas if "Beauty" in p.name_de]
    assert len(beauty) == 1
    p = beauty[0]
    assert p.name_de.startswith("Mobil") and p.name_en.startswith("Mobile")
    assert "Paid Social" in p.description_de and "paid social" in p.description_en
    assert "angesehene Preise" in p.description_de and "unter dem Durchschnitt" in p.description_de
    assert "viewed prices" in p.description_en and "below average" in p.description_en
    # stage distribution, typical journey, pain points and feedback, with numbers
    assert abs(sum(p.stages.values()) - 1) < 1e-3 and p.stages[p.stage] == max(p.stages.values())
    assert p.journey[:2] == ["channel:paid_social", "Product Viewed"] and p.journey_share > 0.2
    assert "Typischer Weg: Paid Social → Product Viewed" in p.description_de
    assert "Typical journey: paid social → Product Viewed" in p.description_en
    assert p.pain_points and "Häufigste Probleme" in p.description_de and "Top pain points" in p.description_en
    assert p.feedback["score"] is not None and "Bewertung im Schnitt" in p.description_de
    # the planted late deliveries show up as a pain point, with the persona's and everyone else's rate
    late = [q for x in run.personas for q in x.pain_points if q["key"] == "late_delivery"]
    assert late and all(0 < q["share"] < 0.5 and q["others"] is not None for q in late)
    assert any("Lieferverzug" in x.description_de and "late delivery" in x.description_en for x in run.personas)
    assert "Personen (" in p.description_de and " %" in p.description_de and "% of revenue" in p.description_en


def test_drift_reports_a_split_and_a_merge() -> None:
    persons = np.array([f"p{i}" for i in range(100)], dtype=object)
    old = np.array([0] * 50 + [1] * 25 + [2] * 25)
    new = np.array([0] * 25 + [1] * 25 + [2] * 50)  # old 0 split into 0 and 1; old 1 and 2 merged into 2
    kinds = {d.persona: (d.kind, d.previous) for d in drift(persons, old, persons, new)}
    assert kinds == {0: ("split_from", (0,)), 1: ("split_from", (0,)), 2: ("merged_from", (1, 2))}


def test_cli_rejects_an_unknown_language_and_a_missing_run(tmp_path: Path) -> None:
    from cxlens.cli import main

    Workspace.init(tmp_path / "ws", project="shop").close()
    for args in (["personas", "list", "--lang", "fr"], ["personas", "list"]):
        with pytest.raises(SystemExit) as exc:
            main(["-w", str(tmp_path / "ws"), *args])
        assert exc.value.code == 2
