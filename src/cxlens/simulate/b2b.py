"""The B2B supplier: buying centres research, a lead form identifies them, sales closes a
framework contract, members order through the portal, deliveries decide the renewal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.simulate.arrowize import join, js, lookup, num
from cxlens.simulate.eventlog import E, choice, group_ordinal
from cxlens.simulate.journeys import (
    BASE_CHURN_PROB,
    LATE_CHURN_PROB,
    LATE_PROB,
    US_PER_DAY,
    Population,
    Sim,
    device_profiles,
    draw_campaigns,
    fulfil,
    newsletters,
    web_sessions,
)
from cxlens.simulate.personas import B2B_PERSONAS, ROLE_PROBS, ROLES
from cxlens.simulate.shop import (
    _scaled,
    _session_arrays,
    browse_round,
    login_flags,
    per_persona_value,
)
from cxlens.simulate.site import CH

COUNTRIES = ("DE", "AT", "CH")
PORTAL_CHANNELS = {"direct": 0.7, "email": 0.2, "organic_search": 0.1}
#: landing content page by role: decision maker, purchasing, user, IT
ROLE_PAGES = ((1, 8), (2, 2), (0, 13), (11, 12))


def population(rng: np.random.Generator, n: int, days: int,
               first_account: int = 0) -> tuple[Population, dict[str, pa.Array], dict[str, pa.Array]]:
    """Accounts with buying centres; ``first_account`` numbers this chunk's accounts
    globally. Strings are built per column from small tables, not per account."""
    personas = B2B_PERSONAS
    w = np.array([[p.weight for p in personas]])
    est = int(n / 2.5) + 10
    a_persona = choice(rng, w, np.zeros(est, np.int64))
    members = 1 + rng.poisson(np.maximum(np.array([p.members for p in personas])[a_persona] - 1, 0))
    cum = np.cumsum(members)
    while cum[-1] < n:  # rare: draw more accounts
        more = choice(rng, w, np.zeros(est, np.int64))
        a_persona = np.r_[a_persona, more]
        members = np.r_[members, 1 + rng.poisson(np.maximum(np.array([p.members for p in personas])[more] - 1, 0))]
        cum = np.cumsum(members)
    n_acc = int(np.searchsorted(cum, n) + 1)
    a_persona, members = a_persona[:n_acc], members[:n_acc].copy()
    members[-1] -= int(members.sum() - n)
    acct, j = group_ordinal(members)
    persona = a_persona[acct].astype(np.int8)
    role = np.where(j == 0, 0, choice(rng, np.array([ROLE_PROBS]), np.zeros(n, np.int64))).astype(np.int8)
    english = rng.random(n) < np.array([p.english for p in personas])[persona]
    country = choice(rng, np.array([[0.8, 0.12, 0.08]]), np.zeros(n_acc, np.int64))
    locale = np.where(english, 3, country[acct]).astype(np.int8)
    n_dev, prof = device_profiles(rng, personas, persona)
    a_first = rng.random(n_acc) * days * 0.5
    first_day = a_first[acct] + rng.random(n) * 20
    late_prob = LATE_PROB * np.where(country[acct] > 0, 1.6, 1.0)
    pop = Population(persona, locale, n_dev, prof, acct.astype(np.int32), role, first_day, late_prob)
    titles = ("Geschäftsführung", "Einkauf", "Fachanwender", "IT-Leitung")
    role_i = role.astype(np.int64)
    traits = {"role": lookup([js(r) for r in ROLES], role_i), "title": lookup([js(t) for t in titles], role_i)}
    ap = a_persona.astype(np.int64)
    ind = per_persona_value(ap, _scaled(rng.random(n_acc), ap, [len(p.industries) for p in personas]),
                            [list(p.industries) for p in personas])
    size = per_persona_value(ap, _scaled(rng.random(n_acc), ap, [len(p.sizes) for p in personas]),
                             [list(p.sizes) for p in personas])
    g = np.arange(n_acc, dtype=np.int64) + first_account
    name = join(lookup(["Nord", "Süd", "West", "Ost", "Rhein", "Alpen"], g % 6),
                lookup(["tec", "werk", "bau", "log", "med"], g % 5), " ",
                lookup(["GmbH", "AG", "KG", "GmbH & Co. KG"], g % 4), " ", num(g))
    acc_ids = join("acc-", pc.utf8_lpad(num(g), 6, "0"))
    ctry = lookup(list(COUNTRIES), country)
    # names, industries and bands are plain words from fixed tables: no JSON escaping needed
    acc_traits = join('{"name":"', name, '","industry":"', ind, '","employees":"', size,
                      '","country":"', ctry, '"}')
    accounts = {"account_id": acc_ids, "traits": acc_traits, "name": name, "industry": ind,
                "size": size, "country": ctry, "persona": lookup([p.key for p in personas], ap)}
    return pop, traits, accounts


def run(sim: Sim, days: int) -> dict[str, np.ndarray]:
    rng, pop, n = sim.rng, sim.pop, sim.pop.n
    n_acc = int(pop.acct.max()) + 1
    everyone = np.arange(n, dtype=np.int64)
    acct = pop.acct.astype(np.int64)
    a_persona = np.zeros(n_acc, np.int64)
    a_persona[acct] = pop.persona
    deal = rng.random(n_acc) < np.array([p.conversion for p in sim.personas])[a_persona]
    count = 1 + np.minimum(rng.poisson(np.maximum(sim.param("visits", everyone) - 1, 0)), 9)
    # research visits; the last visit ends in a lead form: demo (decision maker of a
    # deal account) or a whitepaper (some others)
    s, _ = browse_round(sim, everyone, count, pop.first_day, np.zeros(n, np.bool_))
    del s  # anonymous research only; the form visit follows
    dm = pop.role == 0
    form = np.where(dm & deal[acct], E.DEMO_REQUESTED,
                    np.where(rng.random(n) < 0.35, E.WHITEPAPER, -1))
    fp = np.flatnonzero(form >= 0)
    t_form = sim.start_us + ((pop.first_day[fp] + count[fp] * 2.5) * US_PER_DAY).astype(np.int64)
    dev = np.zeros(len(fp), np.int64)
    none = np.zeros(len(fp), np.bool_)
    role_pages = np.array(ROLE_PAGES)[pop.role[fp], rng.integers(0, 2, len(fp))]
    sf = _session_arrays(sim, fp, t_form, dev, draw_campaigns(sim, fp), none, none, none,
                         land=role_pages, form=form[fp].astype(np.int64))
    of = web_sessions(sim, sf)
    known = np.zeros(n, np.uint8)
    known[fp] |= 1
    # sales: calls, quote, contract signed by the decision maker's account
    demo = fp[form[fp] == E.DEMO_REQUESTED]
    t_demo = of.identify_us[form[fp] == E.DEMO_REQUESTED]
    calls = 1 + rng.integers(0, 3, len(demo))
    g, j = group_ordinal(calls)
    t_call = t_demo[g] + ((j + 1) * rng.uniform(2, 8, len(g)) * US_PER_DAY).astype(np.int64)
    sim.log.add(demo[g], t_call, E.SALES_CALL, ident=True, chan=CH["sales"], aux=np.minimum(j, 2),
                aux2=rng.integers(20, 75, len(g)), acct=acct[demo[g]])
    t_quote = t_demo + ((calls + 1) * 6 * US_PER_DAY).astype(np.int64)
    value = np.round(np.array([p.contract_value for p in sim.personas])[pop.persona[demo]]
                     * rng.lognormal(0, 0.35, len(demo)), -1)
    qid = sim.next_ids("quote", len(demo))
    sim.log.add(demo, t_quote, E.QUOTE_SENT, ident=True, chan=CH["sales"], oid=qid, val=value,
                acct=acct[demo])
    signs = rng.random(len(demo)) < 0.8
    sp, sv = demo[signs], value[signs]
    t_sign = t_quote[signs] + (rng.uniform(3, 20, len(sp)) * US_PER_DAY).astype(np.int64)
    cid = sim.next_ids("contract", len(sp))
    sim.log.add(sp, t_sign, E.CONTRACT_SIGNED, ident=True, chan=CH["sales"], oid=cid, val=sv,
                acct=acct[sp])
    # portal orders by the account's members during the first 90-day term
    signed_at = np.full(n_acc, -1, np.int64)
    signed_at[acct[sp]] = t_sign
    member_signed = signed_at[acct]
    buyers = np.flatnonzero((member_signed >= 0) & (pop.role != 3))
    f1, _ = _portal_round(sim, buyers, member_signed[buyers],
                                   member_signed[buyers] + 90 * US_PER_DAY, known)
    # renewal: late deliveries in the term make a cancellation likely
    late_acct = np.zeros(n_acc, np.bool_)
    late_acct[acct[f1.person[f1.late & (f1.delivered_us < signed_at[acct[f1.person]] + 90 * US_PER_DAY)]]] = True
    a_sp = acct[sp]
    cancel = rng.random(len(sp)) < np.where(late_acct[a_sp], LATE_CHURN_PROB, BASE_CHURN_PROB)
    t_ren = t_sign + 90 * US_PER_DAY
    reason = np.where(late_acct[a_sp], 1, 2)
    sim.log.add(sp[cancel], t_ren[cancel], E.CONTRACT_CANCELLED, ident=True, chan=CH["sales"],
                oid=cid[cancel], val=sv[cancel], aux=reason[cancel], acct=a_sp[cancel])
    sim.log.add(sp[~cancel], t_ren[~cancel], E.CONTRACT_RENEWED, ident=True, chan=CH["sales"],
                oid=cid[~cancel], val=sv[~cancel], acct=a_sp[~cancel])
    renewed_at = np.full(n_acc, -1, np.int64)
    renewed_at[a_sp[~cancel]] = t_ren[~cancel]
    b2 = buyers[renewed_at[acct[buyers]] >= 0]
    f2, _ = _portal_round(sim, b2, renewed_at[acct[b2]], np.full(len(b2), sim.end_us), known)
    # newsletter for identified persons who opt in
    ided = np.flatnonzero(known > 0)
    opt = ided[rng.random(len(ided)) < sim.param("newsletter", ided)]
    newsletters(sim, opt, np.full(len(opt), sim.start_us), 0.2 + 0.3 * sim.param("newsletter", opt))
    churned_acct = np.zeros(n_acc, np.bool_)
    churned_acct[a_sp[cancel]] = True
    late_any = np.zeros(n, np.bool_)
    for f in (f1, f2):
        late_any[f.person[f.late]] = True
    return {
        "churned": churned_acct[acct],
        "late_delivery": late_any,
        "account_late_delivery": late_acct[acct],
        "deal": deal[acct],
        "contract_signed": signed_at[acct] >= 0,
        "looped": np.zeros(n, np.bool_),
    }


def _portal_round(sim: Sim, person: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                  known: np.ndarray) -> tuple[Any, int]:
    rng = sim.rng
    k = np.minimum(rng.poisson(sim.param("repeat_orders", person) / 2), 6)
    g, _ = group_ordinal(k)
    p = person[g]
    span = np.maximum(t1[g] - t0[g] - US_PER_DAY, US_PER_DAY)
    start = t0[g] + US_PER_DAY + (rng.random(len(g)) * span).astype(np.int64)
    dev = rng.integers(0, 3, len(g)) % sim.pop.n_dev[p]
    logged, id_first = login_flags(sim, p, dev, start, known)
    s = _session_arrays(sim, p, start, dev, draw_campaigns(sim, p, PORTAL_CHANNELS),
                        np.ones(len(g), np.bool_), logged, id_first, pv_scale=0.5, loop_scale=0.5)
    o = web_sessions(sim, s)
    looper = np.zeros(sim.pop.n, np.bool_)
    has = o.order >= 0
    return fulfil(sim, o.order[has], s.person[has], o.order_us[has], looper), int(has.sum())


def accounts_table(accounts: dict[str, pa.Array], project: str) -> pa.Table:
    n = len(accounts["account_id"])
    cols = {k: accounts[k] for k in ("account_id", "name", "industry", "size", "country", "persona")}
    return pa.table({**cols, "project": pa.array(np.full(n, project))})
