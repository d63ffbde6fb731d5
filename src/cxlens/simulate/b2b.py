"""The B2B supplier: buying centres research, a lead form identifies them, sales closes a
framework contract, members order through the portal, deliveries decide the renewal."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.simulate.arrowize import join, js, lookup, num
from cxlens.simulate.eventlog import I64, E, choice, group_ordinal
from cxlens.simulate.journeys import (
    BASE_CHURN_PROB,
    LATE_CHURN_PROB,
    LATE_PROB,
    US_PER_DAY,
    Fulfilment,
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
from cxlens.simulate.site import CAMPAIGNS_OF, CH

COUNTRIES = ("DE", "AT", "CH")
TERM_US = 90 * US_PER_DAY  # framework contracts run for 90 days, then renew or end
#: share of newsletter clicks by portal buyers that order (email-attributed orders)
NEWSLETTER_BUY_PROB = 0.25
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
    # newsletter for persons who will be known: lead-form persons from the form, buyers
    # of a signed account from the signature (they log in to the portal)
    signed_at = np.full(n_acc, -1, np.int64)
    signed_at[acct[sp]] = t_sign
    dm_of = np.full(n_acc, -1, np.int64)  # the decision maker who signed, per account
    dm_of[acct[sp]] = sp
    member_signed = signed_at[acct]
    buyer = (member_signed >= 0) & (pop.role != 3)
    known_from = np.full(n, -1, np.int64)
    known_from[buyer] = member_signed[buyer]
    known_from[fp] = t_form  # sessions start at t_form; the form follows within minutes
    cand = np.flatnonzero(known_from >= 0)
    opt = cand[rng.random(len(cand)) < sim.param("newsletter", cand)]
    click_p, click_t = newsletters(sim, opt, known_from[opt] + US_PER_DAY,
                                   0.2 + 0.3 * sim.param("newsletter", opt))
    click_t = click_t + 2_000_000
    click_buys = rng.random(len(click_p)) < NEWSLETTER_BUY_PROB
    click_used = np.zeros(len(click_p), np.bool_)
    # 90-day terms: members order through the portal (and from some newsletter clicks);
    # a late delivery in a term makes the cancellation at its end likely, every term
    acc, cur, cid_a, val_a = acct[sp], t_sign, cid, sv
    churned_acct = np.zeros(n_acc, np.bool_)
    late_acct_any = np.zeros(n_acc, np.bool_)
    fulfilled = []
    email_orders = np.zeros(n, np.int64)
    while len(acc):
        term_start = np.full(n_acc, -1, np.int64)
        term_start[acc] = cur
        t_end = cur + TERM_US
        b = np.flatnonzero(buyer & (term_start[acct] >= 0))
        t0 = term_start[acct[click_p]]
        in_term = (click_buys & ~click_used & buyer[click_p] & (t0 >= 0) & (click_t >= t0)
                   & (click_t < t0 + TERM_US))
        click_used |= in_term
        f, from_click = _portal_round(sim, b, term_start[acct[b]], term_start[acct[b]] + TERM_US,
                                      known, click_p[in_term], click_t[in_term])
        fulfilled.append(f)
        np.add.at(email_orders, f.person[from_click], 1)
        term_end_of = np.zeros(n_acc, np.int64)
        term_end_of[acc] = t_end
        late_in_term = f.late & (f.delivered_us < term_end_of[acct[f.person]])
        late_acct = np.zeros(n_acc, np.bool_)
        late_acct[acct[f.person[late_in_term]]] = True
        late_acct_any |= late_acct
        decide = t_end < sim.end_us  # a renewal after the period is not decided yet
        acc, cur, cid_a, val_a, t_end = acc[decide], cur[decide], cid_a[decide], val_a[decide], t_end[decide]
        dm_p = dm_of[acc]
        cancel = rng.random(len(acc)) < np.where(late_acct[acc], LATE_CHURN_PROB, BASE_CHURN_PROB)
        reason = np.where(late_acct[acc], 1, 2)
        sim.log.add(dm_p[cancel], t_end[cancel], E.CONTRACT_CANCELLED, ident=True, chan=CH["sales"],
                    oid=cid_a[cancel], val=val_a[cancel], aux=reason[cancel], acct=acc[cancel])
        sim.log.add(dm_p[~cancel], t_end[~cancel], E.CONTRACT_RENEWED, ident=True, chan=CH["sales"],
                    oid=cid_a[~cancel], val=val_a[~cancel], acct=acc[~cancel])
        churned_acct[acc[cancel]] = True
        acc, cur, cid_a, val_a = acc[~cancel], t_end[~cancel], cid_a[~cancel], val_a[~cancel]
    # the other clicks: a visit to the site that does not order
    rest = ~click_used
    rp = click_p[rest]
    rdev = rng.integers(0, 3, len(rp)) % pop.n_dev[rp]
    logged, id_first = login_flags(sim, rp, rdev, click_t[rest], known)
    email_camp = np.repeat(np.array(CAMPAIGNS_OF["email"][:1], np.int64), len(rp))
    web_sessions(sim, _session_arrays(sim, rp, click_t[rest], rdev, email_camp, np.zeros(len(rp), np.bool_),
                                      logged, id_first, pv_scale=0.5, loop_scale=0.5,
                                      group=np.ones(len(rp), np.bool_)))
    late_any = np.zeros(n, np.bool_)
    for f in fulfilled:
        late_any[f.person[f.late & (f.delivered_us < sim.end_us)]] = True
    return {
        "churned": churned_acct[acct],
        "late_delivery": late_any,
        "account_late_delivery": late_acct_any[acct],
        "deal": deal[acct],
        "contract_signed": signed_at[acct] >= 0,
        "email_orders": email_orders,
        "looped": np.zeros(n, np.bool_),
    }


def _portal_round(sim: Sim, person: I64, t0: I64, t1: I64, known: npt.NDArray[np.uint8],
                  click_p: I64, click_t: I64) -> tuple[Fulfilment, npt.NDArray[np.bool_]]:
    """Portal visits that order, between ``t0`` and ``t1`` per person, plus ordering
    visits from newsletter clicks; returns the fulfilment and which orders landed from an e-mail."""
    rng = sim.rng
    k = np.minimum(rng.poisson(sim.param("repeat_orders", person) / 2), 6)
    g, _ = group_ordinal(k)
    p = np.r_[person[g], click_p]
    span = np.maximum(t1[g] - t0[g] - US_PER_DAY, US_PER_DAY)
    start = np.r_[t0[g] + US_PER_DAY + (rng.random(len(g)) * span).astype(np.int64), click_t]
    dev = rng.integers(0, 3, len(p)) % sim.pop.n_dev[p]
    camp = np.r_[draw_campaigns(sim, person[g], PORTAL_CHANNELS),
                 np.repeat(np.array(CAMPAIGNS_OF["email"][:1], np.int64), len(click_p))]
    logged, id_first = login_flags(sim, p, dev, start, known)
    s = _session_arrays(sim, p, start, dev, camp, np.ones(len(p), np.bool_), logged, id_first,
                        pv_scale=0.5, loop_scale=0.5, group=np.ones(len(p), np.bool_))
    o = web_sessions(sim, s)
    looper = np.zeros(sim.pop.n, np.bool_)
    has = o.order >= 0
    by_mail = (camp == CAMPAIGNS_OF["email"][0])[has]  # newsletter click or portal e-mail
    return fulfil(sim, o.order[has], s.person[has], o.order_us[has], looper), by_mail


def accounts_table(accounts: dict[str, pa.Array], project: str) -> pa.Table:
    n = len(accounts["account_id"])
    cols = {k: accounts[k] for k in ("account_id", "name", "industry", "size", "country", "persona")}
    return pa.table({**cols, "project": pa.array(np.full(n, project))})
