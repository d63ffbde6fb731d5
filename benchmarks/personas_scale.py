"""Personas at scale: features + clustering for 1M persons, end to end.

    nice -n 10 .venv/bin/python benchmarks/personas_scale.py [--persons 1000000] [--seed 0]

The simulator needs minutes for a million customers (most of it the workspace append),
so this benchmark builds a synthetic events table in memory instead: every person has
1-4 sessions; each session lands with one page event carrying a channel and the device,
views 1-6 products (category and price in ``properties``, device in ``context``) and
sometimes orders (``revenue``). Five planted personas differ in channel, device,
category and price mix (like the simulator's shop, with more noise). The events already
carry ``person_id`` (as identity resolution would add it), so the timed part is exactly
what ``cxlens personas discover`` does after resolution:

1. ``features.compute_from``: the DuckDB feature queries and the NumPy pivot;
2. ``discover.discover``: choose k by silhouette on samples, fit everyone, sizes, outliers.

``explain`` (names, descriptions, typical journeys) is timed separately after the total.

Printed: seconds per phase (wall and CPU of this process), persons, events, k, the
adjusted Rand index against the planted personas, peak RSS and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHANNELS = np.array(["paid_social", "direct", "organic_search", "paid_search", "referral", "email", "display"])
DEVICES = np.array(["mobile", "desktop", "tablet"])
CATEGORIES = np.array(["Beauty", "Elektronik", "Kinder", "Damenmode", "Sport & Outdoor", "Wohnen"])
#: persona -> (channel weights, device weights, category weights, price level, sessions)
PLANTED = [
    ([6, 1, 1, 0, 0, 1, 1], [9, 1, 0], [8, 0, 1, 1, 0, 0], 15.0, 1.5),
    ([0, 6, 1, 1, 0, 2, 0], [1, 1, 8], [0, 1, 5, 0, 0, 4], 40.0, 3.5),
    ([0, 1, 6, 0, 3, 0, 0], [1, 9, 0], [0, 9, 0, 0, 1, 0], 300.0, 4.0),
    ([1, 0, 2, 0, 0, 1, 6], [5, 5, 0], [0, 0, 0, 9, 1, 0], 120.0, 2.0),
    ([0, 1, 0, 8, 0, 0, 1], [2, 8, 0], [0, 1, 0, 1, 8, 0], 60.0, 1.2),
]


def _pick(rng: np.random.Generator, weights: np.ndarray, who: np.ndarray) -> np.ndarray:
    """One level per row: row i draws from ``weights[who[i]]`` (rows of probabilities)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(who))[:, None]
    return np.asarray((u > cum[who]).sum(1))


def synth(persons: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """(events with person_id, planted persona per person in person-id order)."""
    rng = np.random.default_rng(seed)
    k = len(PLANTED)
    persona = rng.integers(0, k, persons)
    mixes = [[p[0] for p in PLANTED], [p[1] for p in PLANTED], [p[2] for p in PLANTED]]
    norm = [np.array([np.array(w, float) / sum(w) for w in ws]) for ws in mixes]
    mix = [0.85 * w + 0.15 / w.shape[1] for w in norm]  # every persona sometimes does anything
    price = np.array([p[3] for p in PLANTED])
    visits = np.array([p[4] for p in PLANTED])
    n_sess = 1 + rng.poisson(visits[persona] - 1 + 0.2)
    n_sess = np.minimum(n_sess, 8)
    sess_person = np.repeat(np.arange(persons), n_sess)
    sess_persona = persona[sess_person]
    ns = len(sess_person)
    sess_channel = _pick(rng, mix[0], sess_persona)
    person_device = _pick(rng, mix[1], persona)
    sess_device = np.where(rng.random(ns) < 0.85, person_device[sess_person], rng.integers(0, 3, ns))
    n_views = 1 + rng.poisson(2.0, ns)
    buys = rng.random(ns) < 0.12
    per_sess = 1 + n_views + buys
    ev_sess = np.repeat(np.arange(ns), per_sess)
    first = np.concatenate([[0], np.cumsum(per_sess)[:-1]])
    pos = np.arange(len(ev_sess)) - first[ev_sess]
    is_page = pos == 0
    is_order = buys[ev_sess] & (pos == per_sess[ev_sess] - 1)
    is_view = ~is_page & ~is_order
    ne = len(ev_sess)
    ev_persona = sess_persona[ev_sess]
    cat = _pick(rng, mix[2], ev_persona)
    p = np.round(price[ev_persona] * rng.lognormal(0, 0.5, ne), 2)
    start = 1_735_689_600_000_000 + rng.integers(0, 90 * 86_400, ns) * 1_000_000
    ts = start[ev_sess] + pos * 40_000_000
    props = pc.binary_join_element_wise(pa.scalar('{"category":"'), pa.array(CATEGORIES[cat]),
                                        pa.scalar('","price":'), pa.array(p.astype(str)), pa.scalar("}"), "")
    ctx = pc.binary_join_element_wise(pa.scalar('{"device":{"type":"'), pa.array(DEVICES[sess_device[ev_sess]]),
                                      pa.scalar('"}}'), "")
    person_ids = pc.binary_join_element_wise(pa.scalar("p"), pa.array(np.char.zfill(
        np.arange(persons).astype(str), 7)), "")
    names = np.where(is_page, "Home", np.where(is_order, "Order Completed", "Product Viewed"))
    mask = pa.array(is_view)
    events = pa.table({
        "person_id": person_ids.take(pa.array(sess_person[ev_sess])),
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "type": pa.array(np.where(is_page, "page", "track")),
        "event": pa.array(names),
        "session_id": pa.array(ev_sess.astype(str)),
        "channel": pc.if_else(pa.array(is_page), pa.array(CHANNELS[sess_channel[ev_sess]]), pa.scalar(None, pa.string())),
        "properties": pc.if_else(mask, props, pa.scalar(None, pa.string())),
        "context": ctx,
        "revenue": pc.if_else(pa.array(is_order), pa.array(p * 2), pa.scalar(None, pa.float64())),
    })
    return events, persona


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    from cxlens.personas.discover import DiscoverSpec, discover
    from cxlens.personas.features import DEFAULT_FEATURES, FeatureSpec, compute_from

    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t = time.perf_counter()
    events, planted = synth(a.persons, a.seed)
    print(f"synthetic: {a.persons:,} persons, {events.num_rows:,} events in {time.perf_counter() - t:.1f} s")
    con = duckdb.connect(config={"threads": a.threads})
    con.register("bench_events", events)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu_s()
    f = compute_from(con, "bench_events", FeatureSpec("bench"))
    t1, c1 = time.perf_counter(), cpu_s()
    d = discover(f, DEFAULT_FEATURES, DiscoverSpec(seed=a.seed))
    t2, c2 = time.perf_counter(), cpu_s()
    load1 = os.getloadavg()[0]
    from cxlens.personas.explain import explain

    explain(f, d.labels)
    t3, c3 = time.perf_counter(), cpu_s()
    ari = adjusted_rand_score(planted, d.labels)  # persons come sorted by id = planted order
    print(f"features   {t1 - t0:6.2f} s wall  {c1 - c0:6.2f} s cpu  ({len(f.columns)} columns)")
    print(f"clustering {t2 - t1:6.2f} s wall  {c2 - c1:6.2f} s cpu  (k = {d.k}, unassigned {(d.labels < 0).sum():,})")
    print(f"(explain   {t3 - t2:6.2f} s wall  {c3 - c2:6.2f} s cpu: names, descriptions, journeys; not in the total)")
    print(f"total      {t2 - t0:6.2f} s wall  {c2 - c0:6.2f} s cpu   ARI {ari:.3f}   "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB   "
          f"load average {load0:.1f} -> {load1:.1f}")


if __name__ == "__main__":
    main()
