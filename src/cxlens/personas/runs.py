"""Persona runs on disk: ``<ws>/tables/personas/project=<p>/runs/<run_id>/``.

A run directory holds ``model.npz`` (arrays of the fitted model), ``model.json``
(columns, groups, feature spec), ``personas.json`` (names, descriptions, sizes, drift)
and ``assignments.parquet`` (person_id, persona). It is written under ``_tmp`` and
renamed into place, and ``latest.json`` is replaced atomically afterwards, so a reader
sees either the old run or the complete new one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cxlens.personas.discover import DiscoverSpec, Model, assign, discover
from cxlens.personas.explain import Persona, explain
from cxlens.personas.features import Features, compute, levels_of, spec_from_config
from cxlens.personas.store import latest_id, read_run_doc, root
from cxlens.store.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Drift:
    persona: int
    kind: str  # new, grew, shrank, stable, split_from, merged_from
    previous: tuple[int, ...]
    size_change: float


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    project: str
    k: int
    persons: int
    unassigned: int
    silhouettes: dict[int, float]
    personas: tuple[Persona, ...]
    drift: tuple[Drift, ...]
    level: str = "person"
    seed: int = 0
    features: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Assignment:
    run_id: str
    persons: int
    new_persons: int
    counts: dict[int, int]  # persona -> persons (-1 = unassigned)


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + f".{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    os.replace(tmp, path)


def drift(prev_persons: np.ndarray, prev_labels: np.ndarray, persons: np.ndarray, labels: np.ndarray,
          share: float = 0.3) -> list[Drift]:
    """How each new persona relates to the previous run's, by the persons they share:
    drawn >= ``share`` from two old personas -> merged; an old persona sending >= ``share``
    to two new ones -> split; otherwise its best match, grown or shrunk by > 10 %."""
    old = dict(zip(prev_persons.tolist(), prev_labels.tolist(), strict=True))
    ko, kn = int(prev_labels.max()) + 1 if len(prev_labels) else 0, int(labels.max()) + 1 if len(labels) else 0
    m = np.zeros((kn, ko))
    for p, lab in zip(persons.tolist(), labels.tolist(), strict=True):
        o = old.get(p, -1)
        if lab >= 0 and o >= 0:
            m[lab, o] += 1
    old_sizes = np.bincount(prev_labels[prev_labels >= 0], minlength=ko)
    new_sizes = np.bincount(labels[labels >= 0], minlength=kn)
    out: list[Drift] = []
    for j in range(kn):
        from_ = m[j] / np.maximum(new_sizes[j], 1)
        to = m[:, :] / np.maximum(old_sizes[None, :], 1)
        sources = tuple(int(o) for o in np.flatnonzero(from_ >= share))
        if len(sources) >= 2:
            out.append(Drift(j, "merged_from", sources, 0.0))
            continue
        if not sources:
            out.append(Drift(j, "new", (), 0.0))
            continue
        o = sources[0]
        if (to[:, o] >= share).sum() >= 2:
            out.append(Drift(j, "split_from", (o,), 0.0))
            continue
        change = float(new_sizes[j] / max(old_sizes[o], 1) - 1)
        kind = "grew" if change > 0.1 else "shrank" if change < -0.1 else "stable"
        out.append(Drift(j, kind, (o,), round(change, 4)))
    return out


def _load_assignments(path: Path) -> tuple[np.ndarray, np.ndarray]:
    t = pq.read_table(path)  # first column: person_id (or account_id at account level)
    return (np.array(t.column(0).to_pylist(), dtype=object),
            t.column("persona").to_numpy().astype(np.int64))


def _assignments_table(f: Features, labels: np.ndarray) -> pa.Table:
    key = "account_id" if f.spec.level == "account" else "person_id"
    return pa.table({key: pa.array(f.persons.tolist(), pa.string()), "persona": pa.array(labels, pa.int32())})


def discover_spec(ws: Workspace, seed: int) -> DiscoverSpec:
    cfg = ws.config.get("personas", {})
    return DiscoverSpec(seed=seed, min_share=float(cfg.get("min_share", 0.02)), k_max=int(cfg.get("k_max", 10)))


def run_discovery(ws: Workspace, project: str | None = None, seed: int = 0, level: str = "person") -> Run:
    """Compute features, discover personas, explain them, compare with the previous run
    (drift) and store the run (model, assignments, names) atomically as the latest."""
    project = project or ws.default_project
    fspec = spec_from_config(ws, project, level)
    f = compute(ws, fspec)
    d = discover(f, fspec.features, discover_spec(ws, seed))
    personas = explain(f, d.labels)
    rdir = root(ws, project, level)
    prev = latest_id(ws, project, level)
    changes: list[Drift] = []
    if prev is not None:
        pp, pl = _load_assignments(rdir / "runs" / prev / "assignments.parquet")
        changes = drift(pp, pl, f.persons, d.labels)
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-s{seed}-{uuid.uuid4().hex[:6]}"
    run = Run(run_id, project, d.k, len(f.persons), int((d.labels < 0).sum()), d.silhouettes,
              tuple(personas), tuple(changes), level, seed, fspec.features)
    tmp = ws.root / "_tmp" / f"personas-{run_id}"
    tmp.mkdir(parents=True)
    m = d.model
    np.savez(tmp / "model.npz", fill=m.fill, log=m.log, mean=m.mean, scale=m.scale, centroids=m.centroids,
             threshold=m.threshold)
    _write_json(tmp / "model.json", {"columns": list(m.columns), "groups": list(m.groups),
                                     "features": list(fspec.features), "levels": levels_of(f), "seed": seed})
    _write_json(tmp / "personas.json", run.to_dict())
    pq.write_table(_assignments_table(f, d.labels), tmp / "assignments.parquet")
    if f.members is not None:
        pq.write_table(f.members, tmp / "members.parquet")
    (rdir / "runs").mkdir(parents=True, exist_ok=True)
    os.replace(tmp, rdir / "runs" / run_id)
    _write_json(rdir / "latest.json", {"run_id": run_id, "previous": prev})
    return run


def load_run(ws: Workspace, project: str | None = None, run_id: str | None = None, level: str = "person") -> Run:
    project = project or ws.default_project
    doc = read_run_doc(ws, project, level, run_id)
    return Run(doc["run_id"], doc["project"], doc["k"], doc["persons"], doc["unassigned"],
               {int(k): v for k, v in doc["silhouettes"].items()},
               tuple(Persona(**p) for p in doc["personas"]),
               tuple(Drift(d["persona"], d["kind"], tuple(d["previous"]), d["size_change"]) for d in doc["drift"]),
               doc.get("level", "person"), doc.get("seed", 0), tuple(doc.get("features", ())))


def load_model(ws: Workspace, project: str, run_id: str, level: str = "person"
               ) -> tuple[Model, dict[str, list[str]], tuple[str, ...]]:
    d = root(ws, project, level) / "runs" / run_id
    meta = json.loads((d / "model.json").read_text())
    with np.load(d / "model.npz") as z:
        model = Model(tuple(meta["columns"]), tuple(meta["groups"]), z["fill"], z["log"].astype(bool), z["mean"],
                      z["scale"], z["centroids"], z["threshold"])
    return model, meta["levels"], tuple(meta["features"])


def assign_persons(ws: Workspace, project: str | None = None, f: Features | None = None,
                   level: str = "person") -> Assignment:
    """Assign every person (or account; new ones included) with the latest run's model,
    without clustering again; the run's assignments are replaced atomically."""
    project = project or ws.default_project
    run = load_run(ws, project, level=level)
    model, levels, feats = load_model(ws, project, run.run_id, level)
    if f is None:
        from dataclasses import replace

        f = compute(ws, replace(spec_from_config(ws, project, level), features=feats), keep=levels)
    labels = assign(f, model)
    rdir = root(ws, project, level) / "runs" / run.run_id
    if f.members is not None:
        tmp_m = rdir / f"members.{uuid.uuid4().hex[:6]}.tmp"
        pq.write_table(f.members, tmp_m)
        os.replace(tmp_m, rdir / "members.parquet")
    path = rdir / "assignments.parquet"
    before, _ = _load_assignments(path)
    known = set(before.tolist())
    tmp = path.with_name(f"assignments.{uuid.uuid4().hex[:6]}.tmp")
    pq.write_table(_assignments_table(f, labels), tmp)
    os.replace(tmp, path)
    values, counts = np.unique(labels, return_counts=True)
    return Assignment(run.run_id, len(f.persons), sum(p not in known for p in f.persons.tolist()),
                      {int(v): int(c) for v, c in zip(values, counts, strict=True)})


@dataclass(frozen=True, slots=True)
class Stability:
    """Personas of the same data under several seeds: k per seed and the adjusted Rand
    index of each seed's assignment against the first seed's (1.0 = the same personas)."""

    project: str
    level: str
    seeds: tuple[int, ...]
    k: dict[int, int]
    ari: dict[int, float]
    same_seed_identical: bool

    @property
    def min_ari(self) -> float:
        return min(self.ari.values())


def check_stability(ws: Workspace, project: str | None = None, seeds: tuple[int, ...] = (0, 1, 2),
                    level: str = "person") -> Stability:
    """Discover with each seed on the same features (nothing is stored) and compare: the
    first seed twice (must be identical: determinism) and every seed with the first."""
    from sklearn.metrics import adjusted_rand_score

    from cxlens.errors import ValidationError

    if not seeds:
        raise ValidationError("--seeds: give at least one seed", field="seeds")
    project = project or ws.default_project
    fspec = spec_from_config(ws, project, level)
    f = compute(ws, fspec)
    runs = {s: discover(f, fspec.features, discover_spec(ws, s)) for s in seeds}
    again = discover(f, fspec.features, discover_spec(ws, seeds[0]))
    first = runs[seeds[0]].labels
    return Stability(project, level, tuple(seeds), {s: d.k for s, d in runs.items()},
                     {s: round(float(adjusted_rand_score(first, d.labels)), 4) for s, d in runs.items()},
                     bool(np.array_equal(first, again.labels)))
