"""Vectorised journey building blocks shared by the shop and the B2B simulation.

Each function takes one array entry per session (or order, ticket, ...) and writes
whole blocks of events to the log. Randomness comes only from the context's seeded
generator, consumed in a fixed order, which is what makes a seed reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cxlens.simulate import feedback_text as ft
from cxlens.simulate.eventlog import F64, I64, E, EventLog, choice, group_ordinal
from cxlens.simulate.personas import Persona
from cxlens.simulate.site import CAMPAIGNS, CH, DEVICE_PROFILES, Site

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S

#: Planted pain point (a): loss at the payment step, desktop/tablet vs mobile.
PAYMENT_LOSS_DESKTOP = 0.20
PAYMENT_LOSS_MOBILE_FACTOR = 1.4
#: Planted pain point (b): late deliveries and what they cause.
LATE_PROB = 0.12
LATE_TICKET_PROB = 0.65
OTHER_TICKET_PROB = 0.04
LATE_CHURN_PROB = 0.75
BASE_CHURN_PROB = 0.15
LATE_NPS_PENALTY = 4.5
#: Planted pain point (c): loops on the shipping-costs/returns page end the visit.
LOOP_MIN_HELP_VIEWS = 3


@dataclass(frozen=True, slots=True)
class Population:
    """Per-person attributes as arrays (index = person number)."""

    persona: npt.NDArray[np.int8]
    locale: npt.NDArray[np.int8]
    n_dev: npt.NDArray[np.int8]
    dev_profile: npt.NDArray[np.int8]  # (n, 3) device profile per device slot
    acct: npt.NDArray[np.int32]  # -1 for B2C
    role: npt.NDArray[np.int8]  # -1 for B2C
    first_day: F64
    late_prob: F64  # person-specific probability that a delivery is late

    @property
    def n(self) -> int:
        return len(self.persona)

    def is_mobile(self, person: npt.NDArray[np.int64], dev: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        prof = self.dev_profile[person, dev]
        return np.isin(prof, (2, 3))

    def lang(self, person: npt.NDArray[np.int64]) -> I64:
        return (self.locale[person] >= 3).astype(np.int64)  # en-GB, en-US -> 1


@dataclass(slots=True)
class Orders:
    """Order lines by order serial, for the products list of Order Completed."""

    items: list[npt.NDArray[np.int32]] = field(default_factory=list)  # (n, 3), -1 = no line
    qty: list[npt.NDArray[np.int32]] = field(default_factory=list)

    def table(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        if not self.items:
            return np.zeros((0, 3), np.int32), np.zeros((0, 3), np.int32)
        return np.concatenate(self.items), np.concatenate(self.qty)


@dataclass(slots=True)
class Sim:
    """Everything the building blocks share while one simulation runs."""

    rng: np.random.Generator
    log: EventLog
    site: Site
    personas: tuple[Persona, ...]
    pop: Population
    start_us: int
    end_us: int
    orders: Orders = field(default_factory=Orders)
    serials: dict[str, int] = field(default_factory=dict)
    prices: F64 = field(default_factory=lambda: np.zeros(0))

    def next_ids(self, kind: str, n: int) -> I64:
        first = self.serials.get(kind, 0)
        self.serials[kind] = first + n
        return np.arange(first, first + n, dtype=np.int64)

    def param(self, name: str, person: npt.NDArray[np.int64]) -> F64:
        values = np.array([float(getattr(p, name)) for p in self.personas])
        return values[self.pop.persona[person]]

    def draw_items(self, person: npt.NDArray[np.int64]) -> I64:
        """Products a person looks at: category by preference, cheaper ones more often
        the more price sensitive the persona is."""
        cat_probs = np.array([p.categories for p in self.personas], dtype=np.float64)
        cat = choice(self.rng, cat_probs, self.pop.persona[person])
        gamma = self.param("price_sensitivity", person)
        k = self.site.products_per_category
        rank = np.minimum((self.rng.random(len(person)) ** gamma * k).astype(np.int64), k - 1)
        return cat * k + rank


@dataclass(frozen=True, slots=True)
class Sessions:
    """One entry per web visit."""

    person: I64
    start: I64  # µs
    dev: I64  # device slot
    camp: I64  # landing campaign template
    n_pv: I64  # product views
    loop_len: I64  # help-page block: 0 none, 1 single look, >=5 a loop
    buy: npt.NDArray[np.bool_]  # tries to check out
    logged_in: npt.NDArray[np.bool_]  # user id known on this device from the start
    id_first: npt.NDArray[np.bool_]  # identify right after the landing page (login)
    form: I64  # -1, or the event code of a lead form that identifies (B2B)
    land: I64  # landing page index, -1: home, offers or a product page at random
    #: a group call (account) right after the login identify (B2B portal logins)
    group: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened in each session."""

    identify_us: I64  # time of an identify in the session, -1 if none
    order: I64  # order serial, -1 if no order
    order_us: I64
    reached_payment: npt.NDArray[np.bool_]


_CHECKOUT_WITH_ID = np.array([E.PRODUCT_ADDED, E.CHECKOUT_STARTED, E.IDENTIFY, E.CHECKOUT_STEP,
                              E.CHECKOUT_STEP, E.ORDER_COMPLETED], dtype=np.int16)
_CHECKOUT_NO_ID = np.array([E.PRODUCT_ADDED, E.CHECKOUT_STARTED, E.CHECKOUT_STEP,
                            E.CHECKOUT_STEP, E.ORDER_COMPLETED], dtype=np.int16)


def web_sessions(sim: Sim, s: Sessions) -> Outcome:
    """Landing page, product views, help-page visits or loops, checkout funnel, lead form."""
    rng, site, n = sim.rng, sim.site, len(s.person)
    sess = sim.next_ids("session", n)
    pace = rng.uniform(15, 75, n) * US_PER_S
    parts: list[dict[str, np.ndarray]] = []

    def part(si: I64, pos: I64, code: npt.ArrayLike, page: npt.ArrayLike, **cols: npt.ArrayLike) -> None:
        m = len(si)
        d: dict[str, np.ndarray] = {"si": si, "pos": pos, "code": np.broadcast_to(np.asarray(code, np.int16), (m,)),
             "page": np.broadcast_to(np.asarray(page, np.int64), (m,))}
        for k, v in cols.items():
            d[k] = np.broadcast_to(np.asarray(v), (m,))
        parts.append(d)

    every = np.arange(n, dtype=np.int64)
    # landing page: home, an offers page, or straight onto a product
    land_item = sim.draw_items(s.person)
    land_kind = rng.random(n)
    land_page = np.where(land_kind < 0.4, 0, np.where(land_kind < 0.55, 1, site.product_page(land_item)))
    land_page = np.where(s.land >= 0, s.land, land_page)
    part(every, np.zeros(n, np.int64), E.PAGE, land_page, landing=True)
    pos = np.ones(n, np.int64)
    idx_login = np.flatnonzero(s.id_first)
    part(idx_login, pos[idx_login], E.IDENTIFY, land_page[idx_login], noref=True)
    pos[idx_login] += 1
    if len(s.group):
        # B2B: whoever logs in to the portal is tied to the account, form or no form
        idx_group = np.flatnonzero(s.id_first & s.group)
        part(idx_group, pos[idx_group], E.GROUP, land_page[idx_group], noref=True)
        pos[idx_group] += 1
    # product views: a page view and a Product Viewed per product
    g, j = group_ordinal(s.n_pv)
    items = sim.draw_items(s.person[g])
    ppage = site.product_page(items)
    part(g, pos[g] + 2 * j, E.PAGE, ppage, item=items)
    part(g, pos[g] + 2 * j + 1, E.PRODUCT_VIEWED, ppage, item=items, val=sim.prices[items])
    last_item = land_item.copy()
    has_pv = s.n_pv > 0
    ends = np.cumsum(s.n_pv) - 1
    last_item[has_pv] = items[ends[has_pv]]
    pos += 2 * s.n_pv
    # help page: one look, or back and forth between it and the product (a loop)
    g, j = group_ordinal(s.loop_len)
    hpage = np.where(j % 2 == 0, site.help_page, site.product_page(last_item[g]))
    part(g, pos[g] + j, E.PAGE, hpage)
    pos += s.loop_len
    looped = s.loop_len >= 2 * LOOP_MIN_HELP_VIEWS - 1
    # checkout funnel; the stage reached is drawn per visit
    buying = s.buy & ~looped
    mobile = sim.pop.is_mobile(s.person, s.dev)
    loss = np.where(mobile, PAYMENT_LOSS_DESKTOP * PAYMENT_LOSS_MOBILE_FACTOR, PAYMENT_LOSS_DESKTOP)
    u = rng.random((n, 4))
    stage = np.where(buying, 1, 0)
    stage = np.where(buying & (u[:, 0] < 0.78), 2, stage)
    stage = np.where((stage == 2) & (u[:, 1] < 0.92), 3, stage)
    stage = np.where((stage == 3) & (u[:, 2] < 0.88), 4, stage)
    stage = np.where((stage == 4) & (u[:, 3] >= loss), 5, stage)
    with_id = ~s.logged_in & ~s.id_first & (stage >= 2)
    count = stage + with_id.astype(np.int64)
    g, j = group_ordinal(count)
    code = np.where(with_id[g], _CHECKOUT_WITH_ID[np.minimum(j, 5)], _CHECKOUT_NO_ID[np.minimum(j, 4)])
    ship, pay, confirm = site.checkout_pages
    cpage = np.select(
        [code == E.PRODUCT_ADDED, code == E.CHECKOUT_STARTED, code == E.IDENTIFY,
         code == E.ORDER_COMPLETED],
        [site.product_page(last_item[g]), site.cart_page, site.cart_page, confirm], ship)
    step_no = j - with_id[g].astype(np.int64)  # 2 = shipping step, 3 = payment step
    is_step = code == E.CHECKOUT_STEP
    cpage = np.where(is_step & (step_no == 3), pay, cpage)
    aux = np.where(is_step, step_no, -1)
    # orders: basket of up to three lines, the last viewed product first
    ordered = stage == 5
    started = stage >= 2
    n_started = int(started.sum())
    oid_started = np.full(n, -1, np.int64)
    oid_started[started] = sim.next_ids("order", n_started)
    sp = s.person[started]
    n_items = 1 + rng.poisson(np.maximum(sim.param("basket_items", sp) - 1, 0))
    lines = np.minimum(n_items, 3)
    line_items = np.stack([last_item[started], sim.draw_items(sp), sim.draw_items(sp)], axis=1)
    lines_i32 = np.where(np.arange(3)[None, :] < lines[:, None], line_items, -1).astype(np.int32)
    qty = np.where(np.arange(3)[None, :] < lines[:, None], 1, 0)
    qty[:, 0] += n_items - lines
    sim.orders.items.append(lines_i32)
    sim.orders.qty.append(qty.astype(np.int32))
    basket_value = np.zeros(n)
    basket_value[started] = np.round((sim.prices[np.maximum(lines_i32, 0)] * qty).sum(axis=1), 2)
    val = np.where(code == E.PRODUCT_ADDED, sim.prices[last_item[g]], basket_value[g])
    part(g, pos[g] + j, code, cpage, item=np.where(code == E.PRODUCT_ADDED, last_item[g], -1),
         oid=np.where(code == E.PRODUCT_ADDED, -1, oid_started[g]), val=val, aux=aux,
         noref=code == E.IDENTIFY)
    id_pos_ck = np.where(with_id, pos + 2, np.iinfo(np.int64).max)
    pos += count
    # B2B lead form: the form event, then identify and group
    idx_form = np.flatnonzero(s.form >= 0)
    fpage = np.where(s.form[idx_form] == E.DEMO_REQUESTED, 10, 9)
    part(idx_form, pos[idx_form], s.form[idx_form], fpage)
    part(idx_form, pos[idx_form] + 1, E.IDENTIFY, fpage, noref=True)
    part(idx_form, pos[idx_form] + 2, E.GROUP, fpage, noref=True)
    id_pos = np.where(s.form >= 0, pos + 1, id_pos_ck)
    id_pos = np.where(s.id_first, 1, id_pos)

    cat = {k: np.concatenate([p[k] if k in p else _default(k, len(p["si"])) for p in parts])
           for k in ("si", "pos", "code", "page", "item", "oid", "val", "aux", "landing", "noref")}
    si, p = cat["si"], cat["pos"]
    order = np.lexsort((p, si))
    cat = {k: v[order] for k, v in cat.items()}
    si, p = cat["si"], cat["pos"]
    jitter = rng.uniform(0.5, 1.5, len(si))
    ts = s.start[si] + (p * pace[si] * jitter).astype(np.int64)
    # referrer: the previous page of the visit; an external one for the landing page
    page = cat["page"]
    first = np.r_[True, si[1:] != si[:-1]]
    new_page = first | np.r_[True, page[1:] != page[:-1]]
    prev_page = np.r_[-1, page[:-1]]
    camp_ref = _campaign_referrer_page(site, s.camp)
    ref_at_new = np.where(first, camp_ref[si], prev_page)
    last_new = np.maximum.accumulate(np.where(new_page, np.arange(len(si)), 0))
    ref = ref_at_new[last_new]
    ref = np.where(cat["noref"], -1, ref)
    ident = s.logged_in[si] | (p >= id_pos[si])
    landing = cat["landing"]
    chan = np.where(landing, _campaign_channel()[s.camp[si]], -1)
    sim.log.add(
        s.person[si], ts, cat["code"], dev=s.dev[si], ident=ident, chan=chan,
        camp=np.where(landing, s.camp[si], -1), sess=sess[si], page=page, ref=ref,
        item=cat["item"], oid=cat["oid"], val=cat["val"], aux=cat["aux"],
        acct=sim.pop.acct[s.person[si]],
    )
    # per-session outcome
    ident_us = np.full(n, -1, np.int64)
    is_id = cat["code"] == E.IDENTIFY
    ident_us[si[is_id]] = ts[is_id]
    order_us = np.full(n, -1, np.int64)
    is_order = cat["code"] == E.ORDER_COMPLETED
    order_us[si[is_order]] = ts[is_order]
    return Outcome(ident_us, np.where(ordered, oid_started, -1), order_us, stage >= 4)


def _default(name: str, n: int) -> np.ndarray:
    if name in ("landing", "noref"):
        return np.zeros(n, np.bool_)
    if name == "val":
        return np.full(n, np.nan)
    return np.full(n, -1, np.int64)


def _campaign_channel() -> I64:
    return np.array([CH[c.channel] for c in CAMPAIGNS], dtype=np.int64)


def _campaign_referrer_page(site: Site, camp: I64) -> I64:
    """External referrers are stored after the site's pages (see ``arrowize``)."""
    base = len(site.all_pages())
    refs = np.array([base + i if c.referrer else -1 for i, c in enumerate(CAMPAIGNS)], np.int64)
    return refs[camp]


def draw_campaigns(sim: Sim, person: I64, override: dict[str, float] | None = None) -> I64:
    """Landing campaign template per visit from the persona's channel mix."""
    from cxlens.simulate.site import CAMPAIGNS_OF

    names = sorted({c.channel for c in CAMPAIGNS})
    if override is None:
        probs = np.array([[p.channels.get(ch, 0.0) for ch in names] for p in sim.personas])
        rows = sim.pop.persona[person].astype(np.int64)
    else:
        probs = np.array([[override.get(ch, 0.0) for ch in names]])
        rows = np.zeros(len(person), np.int64)
    ch = choice(sim.rng, probs, rows)
    out = np.empty(len(person), np.int64)
    for k, name in enumerate(names):
        sel = np.flatnonzero(ch == k)
        options = np.array(CAMPAIGNS_OF[name], dtype=np.int64)
        out[sel] = options[sim.rng.integers(0, len(options), len(sel))]
    return out


@dataclass(frozen=True, slots=True)
class Fulfilment:
    order: I64
    person: I64
    late: npt.NDArray[np.bool_]
    delivered_us: I64
    ticket: npt.NDArray[np.bool_]


def fulfil(sim: Sim, order: I64, person: I64, order_us: I64,
           looper: npt.NDArray[np.bool_]) -> Fulfilment:
    """Shipping, delivery (late or not), complaint tickets and post-delivery surveys."""
    rng, n = sim.rng, len(order)
    acct = sim.pop.acct[person]
    shipped = order_us + (rng.uniform(0.2, 1.5, n) * US_PER_DAY).astype(np.int64)
    late = rng.random(n) < sim.pop.late_prob[person]
    days_late = np.where(late, rng.integers(3, 8, n), 0)
    transit = rng.uniform(1.0, 2.5, n) + days_late
    delivered = shipped + (transit * US_PER_DAY).astype(np.int64)
    sim.log.add(person, shipped, E.ORDER_SHIPPED, ident=True, chan=CH["delivery"], oid=order, acct=acct)
    sim.log.add(person, delivered, E.ORDER_DELIVERED, ident=True, chan=CH["delivery"], oid=order,
                aux=days_late, aux2=late.astype(np.int32), acct=acct)
    # tickets: late deliveries cause complaints (often before the parcel arrives)
    ticket = np.where(late, rng.random(n) < LATE_TICKET_PROB, rng.random(n) < OTHER_TICKET_PROB)
    ti = np.flatnonzero(ticket)
    tid = sim.next_ids("ticket", len(ti))
    t_created = np.where(late[ti], shipped[ti] + (rng.uniform(3.0, 4.0, len(ti)) * US_PER_DAY),
                         delivered[ti] + (rng.uniform(0.2, 4.0, len(ti)) * US_PER_DAY)).astype(np.int64)
    topic = np.where(late[ti], ft.T["delivery_late"], ft.T["product_quality"])
    lang = sim.pop.lang(person[ti])
    text = ft.pick(rng, lang, topic, tickets=True)
    hours = np.where(late[ti], rng.uniform(20, 96, len(ti)), rng.uniform(2, 30, len(ti)))
    resolved = t_created + (hours * 3600 * US_PER_S).astype(np.int64)
    sim.log.add(person[ti], t_created, E.TICKET_CREATED, ident=True, chan=CH["support"], oid=tid,
                aux=topic, aux2=text, val=order[ti].astype(np.float64), acct=acct[ti])
    sim.log.add(person[ti], resolved, E.TICKET_RESOLVED, ident=True, chan=CH["support"], oid=tid,
                aux=topic, val=np.round(hours, 1), acct=acct[ti])
    # CSAT after a ticket: bad when the cause was a late delivery
    csat_ans = rng.random(len(ti)) < 0.45
    ci = ti[csat_ans]
    base = np.where(late[ci], 2.2, 4.2) + rng.normal(0, 0.8, len(ci))
    csat = np.clip(np.round(base), 1, 5)
    ctopic = np.where(csat >= 4, ft.T["support_good"], ft.T["support_bad"])
    survey(sim, person[ci], resolved[csat_ans] + 2 * 3600 * US_PER_S, "csat", csat, ctopic,
           touchpoint=1)
    # NPS a few days after delivery
    asked = rng.random(n) < 0.5
    ai = np.flatnonzero(asked)
    looped = looper[person[ai]]
    nps = (sim.param("nps_base", person[ai]) + rng.normal(0, 1.6, len(ai))
           - np.where(late[ai], LATE_NPS_PENALTY, 0.0) - np.where(looped, 1.0, 0.0))
    nps = np.clip(np.round(nps), 0, 10)
    topic = np.select(
        [late[ai], nps >= 9, looped, nps <= 4, nps <= 6],
        [ft.T["delivery_late"], ft.T["praise"], ft.T["shipping_costs_unclear"], ft.T["product_quality"],
         ft.T["price"]], ft.T["neutral"])
    survey(sim, person[ai], delivered[ai] + (rng.uniform(1, 3, len(ai)) * US_PER_DAY).astype(np.int64),
           "nps", nps, topic, touchpoint=0, answer_rate=0.6)
    return Fulfilment(order, person, late, delivered, ticket)


SURVEY_KINDS = ("nps", "csat")


def survey(sim: Sim, person: I64, shown_us: I64, kind: str, score: F64, topic: I64,
           touchpoint: int, answer_rate: float = 1.0) -> None:
    """Survey Shown, then (for some) Survey Answered with a score and maybe a text."""
    rng, n = sim.rng, len(person)
    sid = sim.next_ids("survey", n)
    k = SURVEY_KINDS.index(kind)
    acct = sim.pop.acct[person]
    sim.log.add(person, shown_us, E.SURVEY_SHOWN, ident=True, chan=CH["survey"], oid=sid, aux=k,
                aux2=touchpoint, acct=acct)
    ans = rng.random(n) < answer_rate
    with_text = rng.random(n) < 0.6
    text = np.where(with_text, ft.pick(rng, sim.pop.lang(person), topic), -1)
    delay = (rng.uniform(1, 90, n) * 60 * US_PER_S).astype(np.int64)
    a = np.flatnonzero(ans)
    # aux packs kind and touchpoint; aux2 is the text index
    sim.log.add(person[a], shown_us[a] + delay[a], E.SURVEY_ANSWERED, ident=True, chan=CH["survey"],
                oid=sid[a], val=score[a], aux=k * 10 + touchpoint, aux2=text[a], acct=acct[a])


def newsletters(sim: Sim, person: I64, from_us: I64, open_rate: F64) -> tuple[I64, I64]:
    """Fortnightly newsletter from opt-in to the end; returns (person, click time) of clicks."""
    rng = sim.rng
    every = 14 * US_PER_DAY
    first_send = sim.start_us + 3 * US_PER_DAY + 9 * 3600 * US_PER_S
    k0 = np.maximum(0, -(-(from_us - first_send) // every))
    k_end = (sim.end_us - first_send) // every + 1
    count = np.maximum(k_end - k0, 0)
    g, j = group_ordinal(count)
    camp = k0[g] + j
    sent = first_send + camp * every + rng.integers(0, 3600 * US_PER_S, len(g))
    p = person[g]
    acct = sim.pop.acct[p]
    sim.log.add(p, sent, E.NEWSLETTER_SENT, ident=True, chan=CH["email"], aux=camp, acct=acct)
    opened = rng.random(len(g)) < open_rate[g]
    t_open = sent + (rng.exponential(6, len(g)) * 3600 * US_PER_S).astype(np.int64)
    sim.log.add(p[opened], t_open[opened], E.NEWSLETTER_OPENED, ident=True, chan=CH["email"],
                aux=camp[opened], acct=acct[opened])
    clicked = opened & (rng.random(len(g)) < 0.3)
    t_click = t_open + (rng.uniform(5, 120, len(g)) * US_PER_S).astype(np.int64)
    sim.log.add(p[clicked], t_click[clicked], E.NEWSLETTER_CLICKED, ident=True, chan=CH["email"],
                aux=camp[clicked], acct=acct[clicked])
    return p[clicked], t_click[clicked]


def hour_offsets(rng: np.random.Generator, mobile: npt.NDArray[np.bool_]) -> I64:
    """Time of day of a visit in µs: desktop peaks in office hours, mobile in the evening."""
    desk = np.array([1, 1, 1, 1, 1, 2, 4, 6, 9, 10, 10, 10, 9, 9, 9, 9, 8, 7, 6, 6, 5, 4, 3, 2], float)
    mob = np.array([3, 2, 1, 1, 1, 1, 2, 4, 5, 5, 5, 6, 7, 6, 6, 6, 7, 8, 9, 11, 12, 12, 9, 6], float)
    probs = np.stack([desk / desk.sum(), mob / mob.sum()])
    hour = choice(rng, probs, mobile.astype(np.int64))
    return (hour * 3600 + rng.integers(0, 3600, len(hour))) * US_PER_S


def device_profiles(rng: np.random.Generator, personas: tuple[Persona, ...],
                    persona: npt.NDArray[np.int8]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Number of devices and a device profile per slot; slot 0 is the main device type,
    further devices are mostly of another type (phone + laptop, ...)."""
    n = len(persona)
    n_dev = (choice(rng, np.array([p.n_devices for p in personas]), persona) + 1).astype(np.int8)
    main = choice(rng, np.array([p.devices for p in personas]), persona)
    other = (main[:, None] + rng.integers(1, 3, (n, 2))) % 3
    types = np.concatenate([main[:, None], other], axis=1)
    type_names = ("desktop", "mobile", "tablet")
    first = {"desktop": 0, "mobile": 2, "tablet": 4}
    variants = {"desktop": 2, "mobile": 2, "tablet": 1}
    base = np.array([first[t] for t in type_names])
    nvar = np.array([variants[t] for t in type_names])
    var = rng.integers(0, 2, (n, 1)) % nvar[types]  # one OS family per person where possible
    prof = (base[types] + var).astype(np.int8)
    assert prof.max() < len(DEVICE_PROFILES)
    return n_dev, prof
