"""The B2C online shop: anonymous browsing, a first purchase, fulfilment, repeat or churn.

Rounds, each vectorised over all customers:
1. browsing visits (anonymous; several devices), the last one may try to buy — the
   checkout identifies the customer;
2. a retry for some who were lost at the payment step;
3. fulfilment of those orders; a late first delivery makes churn likely;
4. for those who stay: repeat purchases, newsletter clicks; their orders are fulfilled.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cxlens.simulate.arrowize import js, lookup
from cxlens.simulate.eventlog import I64, choice, group_ordinal
from cxlens.simulate.journeys import (
    BASE_CHURN_PROB,
    LATE_CHURN_PROB,
    LATE_PROB,
    US_PER_DAY,
    Outcome,
    Population,
    Sessions,
    Sim,
    device_profiles,
    draw_campaigns,
    fulfil,
    hour_offsets,
    newsletters,
    web_sessions,
)
from cxlens.simulate.personas import SHOP_PERSONAS
from cxlens.simulate.site import CAMPAIGNS_OF

#: share of newsletter clicks whose visit tries to buy (email-attributed orders)
NEWSLETTER_BUY_PROB = 0.25
REPEAT_CHANNELS = {"email": 0.3, "direct": 0.35, "organic_search": 0.15, "paid_search": 0.1,
                   "paid_social": 0.1}


def login_flags(sim: Sim, person: I64, dev: I64, start: I64,
                known: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For sessions of identified persons: (already logged in, logs in now). The first
    session on a device the person has not used since identifying starts with an identify;
    ``known`` (bit per device slot) is updated."""
    order = np.lexsort((start, person))
    p, d = person[order], dev[order]
    bit = (1 << d).astype(np.uint8)
    key = p * 4 + d
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, np.bool_)
    # lexsort by (person, start) then a stable sort by key keeps time order within a key
    k_order = np.argsort(key, kind="stable")
    first_k = np.zeros(len(key), np.bool_)
    ks = key[k_order]
    first_k[k_order] = np.r_[True, ks[1:] != ks[:-1]] if len(ks) else first
    already = (known[p] & bit) > 0
    id_first = first_k & ~already
    logged = ~id_first
    np.bitwise_or.at(known, p, bit)
    out_logged = np.empty(len(order), np.bool_)
    out_first = np.empty(len(order), np.bool_)
    out_logged[order] = logged
    out_first[order] = id_first
    return out_logged, out_first


def _session_arrays(sim: Sim, person: I64, start: I64, dev: I64, camp: I64, buy: npt.NDArray[np.bool_],
                    logged: npt.NDArray[np.bool_], id_first: npt.NDArray[np.bool_],
                    pv_scale: float = 1.0, loop_scale: float = 1.0,
                    land: I64 | None = None, form: I64 | None = None,
                    group: npt.NDArray[np.bool_] | None = None) -> Sessions:
    rng, n = sim.rng, len(person)
    n_pv = rng.poisson(sim.param("pages_per_visit", person) * pv_scale)
    n_pv = np.maximum(n_pv, buy.astype(np.int64))
    u = rng.random(n)
    loop_p = sim.param("loop", person) * loop_scale
    loop_len = np.where(u < loop_p, rng.integers(5, 8, n), np.where(u < loop_p + 0.08, 1, 0))
    return Sessions(person=person, start=start, dev=dev, camp=camp, n_pv=n_pv.astype(np.int64),
                    loop_len=loop_len.astype(np.int64), buy=buy, logged_in=logged, id_first=id_first,
                    form=np.full(n, -1, np.int64) if form is None else form,
                    land=np.full(n, -1, np.int64) if land is None else land,
                    group=np.zeros(n, np.bool_) if group is None else group)


def browse_round(sim: Sim, person: I64, count: I64, first_day: npt.NDArray[np.float64],
                 buy_last: npt.NDArray[np.bool_], gap_days: float = 3.0) -> tuple[Sessions, Outcome]:
    """Anonymous visits; visit k of a person uses device slot k first (so every device
    appears), later visits a random one; the last visit may try to buy."""
    rng, pop = sim.rng, sim.pop
    g, j = group_ordinal(count)
    p = person[g]
    gaps = np.where(j == 0, 0.0, rng.exponential(gap_days, len(g)))
    cum = np.cumsum(gaps)
    base = np.repeat(cum[np.cumsum(count) - count], count)
    day = np.floor(first_day[p] + cum - base)
    n_dev = pop.n_dev[p].astype(np.int64)
    dev = np.where(j < n_dev, j, rng.integers(0, 3, len(g)) % n_dev)
    mobile = pop.is_mobile(p, dev)
    start = sim.start_us + (day * US_PER_DAY).astype(np.int64) + hour_offsets(rng, mobile)
    is_last = j == count[g] - 1
    buy = is_last & buy_last[g]
    camp = draw_campaigns(sim, p)
    none = np.zeros(len(g), np.bool_)
    s = _session_arrays(sim, p, start, dev, camp, buy, none, none)
    return s, web_sessions(sim, s)


def first_orders(sim: Sim, s: Sessions, out: Outcome) -> tuple[I64, I64, I64]:
    """(person, order serial, order time) of each person's earliest order in ``out``."""
    has = out.order >= 0
    p, o, t = s.person[has], out.order[has], out.order_us[has]
    order = np.lexsort((t, p))
    p, o, t = p[order], o[order], t[order]
    first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, np.bool_)
    return p[first], o[first], t[first]


def run(sim: Sim, days: int) -> dict[str, np.ndarray]:
    """Simulate all customers; returns per-person facts for the ground truth."""
    rng, pop, n = sim.rng, sim.pop, sim.pop.n
    everyone = np.arange(n, dtype=np.int64)
    visits = sim.param("visits", everyone)
    count = 1 + np.minimum(rng.poisson(np.maximum(visits - 1, 0)), 9)
    converts = rng.random(n) < sim.param("conversion", everyone)
    s1, o1 = browse_round(sim, everyone, count, pop.first_day, converts)
    looper = np.zeros(n, np.bool_)
    looper[s1.person[s1.loop_len >= 5]] = True
    known = np.zeros(n, np.uint8)
    ident = o1.identify_us >= 0
    np.bitwise_or.at(known, s1.person[ident], (1 << s1.dev[ident]).astype(np.uint8))
    identified_at = np.full(n, -1, np.int64)
    identified_at[s1.person[ident]] = o1.identify_us[ident]

    # retry after a loss at the payment step, sometimes on another device
    lost = o1.reached_payment & (o1.order < 0)
    retry = lost & (rng.random(len(lost)) < 0.35)
    rp = s1.person[retry]
    r_dev = np.where(rng.random(len(rp)) < 0.5, s1.dev[retry], rng.integers(0, 3, len(rp)) % pop.n_dev[rp])
    r_start = s1.start[retry] + (rng.uniform(0.2, 5.0, len(rp)) * US_PER_DAY).astype(np.int64)
    logged, id_first = login_flags(sim, rp, r_dev, r_start, known)
    s2 = _session_arrays(sim, rp, r_start, r_dev, np.zeros(len(rp), np.int64),
                         np.ones(len(rp), np.bool_), logged, id_first, pv_scale=0.4)
    o2 = web_sessions(sim, s2)
    looper[s2.person[s2.loop_len >= 5]] = True

    # first orders, their fulfilment, and the churn decision it drives
    fp1, fo1, ft1 = first_orders(sim, s1, o1)
    fp2, fo2, ft2 = first_orders(sim, s2, o2)
    fp, fo, ftm = np.r_[fp1, fp2], np.r_[fo1, fo2], np.r_[ft1, ft2]
    f1 = fulfil(sim, fo, fp, ftm, looper)
    never = np.iinfo(np.int64).max
    churn_at = np.full(n, never, np.int64)  # when the customer decided not to buy again
    churn_draw = rng.random(len(fp)) < np.where(f1.late, LATE_CHURN_PROB, BASE_CHURN_PROB)
    churn_at[fp[churn_draw]] = f1.delivered_us[churn_draw]
    first_order_us = np.full(n, -1, np.int64)
    seen = ftm < sim.end_us  # an order after the period is not in the data
    first_order_us[fp[seen]] = ftm[seen]

    # those who stay: newsletter, repeat purchases and newsletter clicks (some of which buy)
    stay = fp[~churn_draw]
    stay_t = ftm[~churn_draw]
    opt = rng.random(len(stay)) < sim.param("newsletter", stay)
    nl_p = stay[opt]
    open_rate = 0.2 + 0.3 * sim.param("newsletter", nl_p)
    click_p, click_t = newsletters(sim, nl_p, stay_t[opt] + US_PER_DAY, open_rate)
    n_rep = np.minimum(rng.poisson(sim.param("repeat_orders", stay)), 8)
    g, j = group_ordinal(n_rep)
    rep_p = stay[g]
    span = np.maximum(sim.end_us - stay_t[g] - 5 * US_PER_DAY, US_PER_DAY)
    rep_t = stay_t[g] + 5 * US_PER_DAY + (rng.random(len(g)) * span).astype(np.int64)
    first_dev = np.zeros(n, np.int64)
    first_dev[s1.person[ident]] = s1.dev[ident]
    rep_dev = (first_dev[rep_p] + 1 + j) % pop.n_dev[rep_p]
    click_dev = rng.integers(0, 3, len(click_p)) % pop.n_dev[click_p]
    person = np.r_[rep_p, click_p]
    dev = np.r_[rep_dev, click_dev]
    start = np.r_[rep_t, click_t + 2_000_000]
    email_camp = np.array(CAMPAIGNS_OF["email"][:1], np.int64)
    camp = np.r_[draw_campaigns(sim, rep_p, REPEAT_CHANNELS), np.repeat(email_camp, len(click_p))]
    buy = np.r_[np.ones(len(rep_p), np.bool_), rng.random(len(click_p)) < NEWSLETTER_BUY_PROB]
    # One visit per person per round, in time order: a late delivery in one round can
    # end the relationship before the next visit (any late order, not only the first).
    order = np.lexsort((start, person))
    person, dev, start, camp, buy = (x[order] for x in (person, dev, start, camp, buy))
    _, k = group_ordinal(np.bincount(person, minlength=n))
    fulfilled = [f1]
    email_orders = np.zeros(n, np.int64)
    for r in range(int(k.max()) + 1 if len(k) else 0):
        sel = np.flatnonzero(k == r)
        p = person[sel]
        b = buy[sel] & (start[sel] < churn_at[p])  # churned customers still browse, never buy
        logged, id_first = login_flags(sim, p, dev[sel], start[sel], known)
        s3 = _session_arrays(sim, p, start[sel], dev[sel], camp[sel], b, logged, id_first,
                             pv_scale=0.6, loop_scale=0.5)
        o3 = web_sessions(sim, s3)
        has = o3.order >= 0
        in_data = has & (o3.order_us < sim.end_us)
        np.add.at(email_orders, p[in_data & (camp[sel] == email_camp[0])], 1)
        f3 = fulfil(sim, o3.order[has], p[has], o3.order_us[has], looper)
        fulfilled.append(f3)
        leaves = f3.late & (rng.random(len(f3.late)) < LATE_CHURN_PROB)
        np.minimum.at(churn_at, f3.person[leaves], f3.delivered_us[leaves])
    late_any = np.zeros(n, np.bool_)
    for f in fulfilled:
        late_any[f.person[f.late & (f.delivered_us < sim.end_us)]] = True
    late_first = np.zeros(n, np.bool_)
    late_first[f1.person[f1.late & (f1.delivered_us < sim.end_us)]] = True
    # a churn decided after the period is not observable in the data
    churned = churn_at < sim.end_us
    return {
        "churned": churned,
        "churned_at_us": np.where(churned, churn_at, -1),
        "late_first_delivery": late_first,
        "late_delivery": late_any,
        "looped": looper,
        "newsletter": np.isin(everyone, nl_p),
        "email_orders": email_orders,  # orders of visits that landed from an e-mail
        "first_order_us": first_order_us,
        "identified_at_us": identified_at,
    }


def population(rng: np.random.Generator, n: int, days: int) -> tuple[Population, dict[str, pa.Array]]:
    """Customers with persona, locale, devices and traits (age group, gender, region,
    interests). Traits come back as JSON value fragments per person, looked up from small
    per-persona tables (no Python loop per person)."""
    personas = SHOP_PERSONAS
    persona = choice(rng, np.array([[p.weight for p in personas]]), np.zeros(n, np.int64)).astype(np.int8)
    english = rng.random(n) < np.array([p.english for p in personas])[persona]
    de_loc = choice(rng, np.array([[0.78, 0.12, 0.10]]), np.zeros(n, np.int64))
    locale = np.where(english, 3 + (rng.random(n) < 0.3), de_loc).astype(np.int8)
    n_dev, prof = device_profiles(rng, personas, persona)
    # A shop wins new visitors every day until the data ends: arrivals spread over the
    # whole period (journeys that would end after it are cut off, as in real data), so the
    # last weeks show first visits too and period KPIs look like a live shop's.
    first_day = rng.random(n) * days
    # cross-border parcels (AT, CH) are late more often
    late_prob = LATE_PROB * np.where(np.isin(locale, (1, 2)), 1.6, 1.0)
    pop = Population(persona, locale, n_dev, prof, np.full(n, -1, np.int32),
                     np.full(n, -1, np.int8), first_day, late_prob)
    u = rng.random((n, 4))
    pk = persona.astype(np.int64)
    ages = np.zeros(n, np.int64)
    for k, p in enumerate(personas):
        sel = pk == k
        ages[sel] = np.minimum(np.searchsorted(np.cumsum(p.age_probs), u[sel, 0]), len(p.age_groups) - 1)
    female = np.array([p.female for p in personas])[pk]
    traits = {
        "age_group": per_persona_value(pk, ages, [[js(a) for a in p.age_groups] for p in personas]),
        "gender": lookup(['"female"', '"male"'], (u[:, 1] >= female).astype(np.int64)),
        "region": per_persona_value(pk, _scaled(u[:, 2], pk, [len(p.regions) for p in personas]),
                                    [[js(r) for r in p.regions] for p in personas]),
        # every second interest from a random start: 1-2 interests per person
        "interests": per_persona_value(pk, _scaled(u[:, 3], pk, [len(p.interests) for p in personas]),
                                       [[js(list(p.interests[i::2])) for i in range(len(p.interests))]
                                        for p in personas]),
    }
    return pop, traits


def _scaled(u: npt.NDArray[np.float64], persona: I64, sizes: list[int]) -> I64:
    size = np.array(sizes, np.int64)[persona]
    return np.minimum((u * size).astype(np.int64), size - 1)


def per_persona_value(persona: I64, idx: I64, tables: list[list[str]]) -> pa.Array:
    """``tables[persona][idx]`` per person, from one flattened lookup table."""
    offsets = np.r_[0, np.cumsum([len(t) for t in tables])][:-1].astype(np.int64)
    return lookup([v for t in tables for v in t], offsets[persona] + idx)
