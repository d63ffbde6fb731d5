"""Turn slices of the integer event log into canonical Arrow event tables.

All strings (ids, JSON properties and context) are assembled with Arrow compute
kernels from small lookup tables, never with a Python loop per event: that is what
keeps generation at hundreds of thousands of events per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.model.events import FILE_SCHEMA, TS
from cxlens.simulate import feedback_text as ft
from cxlens.simulate.eventlog import EVENTS, E
from cxlens.simulate.site import CAMPAIGNS, CHANNELS, DEVICE_PROFILES, LOCALES, Site

Piece: TypeAlias = str | pa.Array


def js(value: object) -> str:
    return orjson.dumps(value).decode()


def join(*parts: Piece) -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    arrays = [p for p in parts if not isinstance(p, str)]
    if not arrays:
        raise ValueError("join needs at least one array")
    return pc.binary_join_element_wise(*parts, "")  # type: ignore[no-any-return]


def lookup(table: list[str], idx: np.ndarray) -> pa.Array:
    """``table[idx]`` with ``-1`` meaning the empty string."""
    arr = pa.array([*table, ""], pa.string())
    safe = np.where(idx < 0, len(table), idx)
    return arr.take(pa.array(safe.astype(np.int64)))


def num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def money(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.round(values, 2)), pa.string())


@dataclass(frozen=True, slots=True)
class Lookups:
    """Per-person and per-account strings, built once per simulation."""

    business: str
    site: Site
    prices: np.ndarray
    anon_ids: pa.Array  # person * 3 + device slot
    user_ids: pa.Array
    emails: pa.Array
    traits: pa.Array  # identify traits JSON per person
    account_ids: pa.Array
    account_traits: pa.Array  # group traits JSON per account
    locale: np.ndarray  # per person index into LOCALES
    ips: pa.Array
    event_prefix: str


_CARRIERS = ["DHL", "DPD", "Hermes", "GLS"]
_STEP_NAMES = ["", "", "shipping", "payment"]
_TOUCHPOINTS = ["delivery", "support"]
_SURVEY_KINDS = [("nps", 10), ("csat", 5)]


class Arrowizer:
    """Builds FILE_SCHEMA tables from the frozen log, one slice at a time."""

    def __init__(self, lk: Lookups, log: dict[str, np.ndarray],
                 lines: tuple[np.ndarray, np.ndarray], order_base: int = 0, first_event: int = 0) -> None:
        self.lk = lk
        self.log = log
        self._lines = lines
        self._order_base = order_base  # order serial of lines[0] (serials continue across chunks)
        self.first_event = first_event  # event serial of log row 0
        site = lk.site
        pages = site.all_pages()
        base = f"https://{site.host}"
        ext = [c.referrer or "" for c in CAMPAIGNS]
        self.paths = [p for p, _ in pages]
        self.titles = [js(t)[1:-1] for _, t in pages]
        self.urls = [base + p for p, _ in pages] + ext
        cats = site.product_category()
        names = site.product_names()
        slugs = site.product_slugs()
        self.product = [
            f'"product_id":"{slugs[i]}","name":{js(names[i])},"category":{js(site.categories[cats[i]])},'
            f'"price":{lk.prices[i]:.2f},"currency":"EUR"'
            for i in range(site.n_products)
        ]
        self.product_line = [
            f'{{"product_id":"{slugs[i]}","category":{js(site.categories[cats[i]])},"price":{lk.prices[i]:.2f}'
            for i in range(site.n_products)
        ]
        q_pre, c_pre, c_post = [], [], []
        for c in CAMPAIGNS:
            if c.source is None:
                q_pre.append("")
                c_pre.append("")
                c_post.append("")
                continue
            q = f"?utm_source={c.source}&utm_medium={c.medium}&utm_campaign={c.name}"
            camp = f'"campaign":{{"source":"{c.source}","medium":"{c.medium}","name":"{c.name}"}},'
            if c.click_id:
                q_pre.append(q + f"&{c.click_id}=")
                c_pre.append(camp + f'"click_ids":{{"{c.click_id}":"')
                c_post.append('"},')
            else:
                q_pre.append(q)
                c_pre.append(camp)
                c_post.append("")
        self.q_pre, self.c_pre, self.c_post = q_pre, c_pre, c_post
        self.has_click = np.array([c.click_id is not None for c in CAMPAIGNS])
        self.device = [
            f'"device":{{"type":"{t}"}},"os":{{"name":"{o}","version":"{v}"}},"user_agent":{js(ua)},'
            for t, o, v, ua in DEVICE_PROFILES
        ]
        self.locales = [f'"locale":"{loc}"' for loc in LOCALES]
        self.texts = [js(t) for t in ft.FEEDBACK_TEXTS]
        self.ticket_texts = [js(t) for t in ft.TICKET_TEXTS]

    # -- one slice ---------------------------------------------------------------------
    def table(self, lo: int, hi: int, dev_profile: np.ndarray) -> pa.Table:
        lk, c = self.lk, {k: v[lo:hi] for k, v in self.log.items()}
        n = hi - lo
        person, dev, code = c["person"].astype(np.int64), c["dev"].astype(np.int64), c["code"]
        serial = np.arange(lo, hi, dtype=np.int64) + self.first_event
        ts = c["ts"]
        lag = ((serial * 7919) % 4000 + 150) * 1000
        web = dev >= 0
        ident = c["ident"]
        null_str = pa.nulls(n, pa.string())
        anon = pc.if_else(pa.array(web), lk.anon_ids.take(pa.array(person * 3 + np.maximum(dev, 0))),
                          null_str)
        user = pc.if_else(pa.array(ident), lk.user_ids.take(pa.array(person)), null_str)
        acct = c["acct"].astype(np.int64)
        has_acct = ident & (acct >= 0)
        account = pc.if_else(pa.array(has_acct), lk.account_ids.take(pa.array(np.maximum(acct, 0))),
                             null_str) if len(lk.account_ids) else null_str
        chan_tbl = pa.array(list(CHANNELS), pa.string())
        chan = pc.if_else(pa.array(c["chan"] >= 0), chan_tbl.take(pa.array(np.maximum(c["chan"], 0).astype(np.int64))), null_str)
        sess = c["sess"]
        session = pc.if_else(pa.array(sess >= 0), join("s", num(sess)), null_str)
        types = np.array([t for t, _ in EVENTS])
        names = [nm for _, nm in EVENTS]
        money_ev = np.isin(code, (E.ORDER_COMPLETED, E.CONTRACT_SIGNED, E.CONTRACT_RENEWED))
        revenue = pa.array(np.where(money_ev, c["val"], np.nan), pa.float64(), mask=~money_ev)
        currency = pc.if_else(pa.array(money_ev), pa.scalar("EUR"), null_str)
        event = pa.array([names[i] for i in range(len(names))], pa.string()).take(pa.array(code.astype(np.int64)))
        context = self._assemble(n, [
            (np.flatnonzero(web), self._web_context(c, np.flatnonzero(web), person, dev, dev_profile)),
            (np.flatnonzero(~web), join("{", lookup(self.locales, lk.locale[person[~web]]), "}")),
        ])
        groups = []
        for k in np.unique(code):
            idx = np.flatnonzero(code == k)
            groups.append((idx, self._properties(int(k), {n_: v[idx] for n_, v in c.items()})))
        properties = self._assemble(n, groups)
        cols = {
            "event_id": join(lk.event_prefix, num(serial)),
            "timestamp": pa.array(ts, TS),
            "received_at": pa.array(ts + lag, TS),
            "type": pa.array(types[code]),
            "event": event,
            "anonymous_id": anon,
            "user_id": user,
            "account_id": account,
            "channel": chan,
            "source": pa.array(np.full(n, f"simulate:{lk.business}")),
            "session_id": session,
            "properties": properties,
            "context": context,
            "revenue": revenue,
            "currency": currency,
        }
        return pa.Table.from_arrays([cols[f.name].cast(f.type) for f in FILE_SCHEMA], schema=FILE_SCHEMA)

    @staticmethod
    def _assemble(n: int, groups: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
        groups = [(i, a) for i, a in groups if len(i)]
        if not groups:
            return pa.nulls(n, pa.string())
        perm = np.concatenate([i for i, _ in groups])
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        merged = pa.concat_arrays([a.cast(pa.string()) for _, a in groups])
        return merged.take(pa.array(inv))

    def _web_context(self, c: dict[str, np.ndarray], idx: np.ndarray, person: np.ndarray,
                     dev: np.ndarray, dev_profile: np.ndarray) -> pa.Array:
        lk = self.lk
        page, ref, camp = c["page"][idx].astype(np.int64), c["ref"][idx].astype(np.int64), c["camp"][idx].astype(np.int64)
        p, d = person[idx], dev[idx]
        click = np.where(camp >= 0, self.has_click[np.maximum(camp, 0)], False)
        clickval = pc.if_else(pa.array(click), join("sim", num(c["sess"][idx])), pa.scalar(""))
        ref_frag = pc.if_else(pa.array(ref >= 0), join('"referrer":"', lookup(self.urls, ref), '",'),
                              pa.scalar(""))
        prof = dev_profile[p, d].astype(np.int64)
        return join(
            '{"page":{"path":"', lookup(self.paths, page), '",', ref_frag, '"title":"',
            lookup(self.titles, page), '","url":"', lookup(self.urls, page), lookup(self.q_pre, camp),
            clickval, '"},', lookup(self.c_pre, camp), clickval, lookup(self.c_post, camp),
            lookup(self.device, prof), lookup(self.locales, lk.locale[p]), ',"ip":"',
            lk.ips.take(pa.array(p)), '"}',
        )

    def _properties(self, code: int, c: dict[str, np.ndarray]) -> pa.Array:
        lk = self.lk
        m = len(c["person"])
        oid = c["oid"]
        item = c["item"].astype(np.int64)
        aux = c["aux"].astype(np.int64)
        if code == E.PAGE:
            page = c["page"].astype(np.int64)
            return join('{"name":"', lookup(self.titles, page), '","path":"', lookup(self.paths, page), '"}')
        if code == E.IDENTIFY:
            return lk.traits.take(pa.array(c["person"].astype(np.int64)))
        if code == E.GROUP:
            return lk.account_traits.take(pa.array(np.maximum(c["acct"], 0).astype(np.int64)))
        if code == E.PRODUCT_VIEWED:
            return join("{", lookup(self.product, item), "}")
        if code == E.PRODUCT_ADDED:
            return join("{", lookup(self.product, item), ',"quantity":1}')
        if code == E.CHECKOUT_STARTED:
            return join('{"order_id":"O', num(oid), '","value":', money(c["val"]), ',"currency":"EUR"}')
        if code == E.CHECKOUT_STEP:
            return join('{"checkout_id":"O', num(oid), '","step":', num(aux), ',"step_name":"',
                        lookup(_STEP_NAMES, aux), '"}')
        if code == E.ORDER_COMPLETED:
            items, qty = self._lines
            li, lq = items[oid - self._order_base], qty[oid - self._order_base]
            lines = []
            for k in range(3):
                frag = join(lookup(self.product_line, li[:, k]), ',"quantity":', num(lq[:, k]), "}")
                sep = "," if k else ""
                lines.append(pc.if_else(pa.array(li[:, k] >= 0), join(sep, frag) if sep else frag,
                                        pa.scalar("")))
            return join('{"order_id":"O', num(oid), '","total":', money(c["val"]), ',"revenue":',
                        money(c["val"]), ',"currency":"EUR","products":[', *lines, "]}")
        if code == E.ORDER_SHIPPED:
            return join('{"order_id":"O', num(oid), '","carrier":"', lookup(_CARRIERS, oid % 4), '"}')
        if code == E.ORDER_DELIVERED:
            late = lookup(["false", "true"], c["aux2"].astype(np.int64))
            return join('{"order_id":"O', num(oid), '","delivered_late":', late, ',"days_late":', num(aux), "}")
        if code == E.TICKET_CREATED:
            lang = lookup(list(ft.TICKET_LANGS), c["aux2"].astype(np.int64))
            return join('{"ticket_id":"T', num(oid), '","order_id":"O', num(c["val"].astype(np.int64)),
                        '","topic":"', lookup(list(ft.TOPICS), aux), '","text":',
                        lookup(self.ticket_texts, c["aux2"].astype(np.int64)), ',"language":"', lang, '"}')
        if code == E.TICKET_RESOLVED:
            return join('{"ticket_id":"T', num(oid), '","topic":"', lookup(list(ft.TOPICS), aux),
                        '","resolution_hours":', num(c["val"]), "}")
        if code in (E.SURVEY_SHOWN, E.SURVEY_ANSWERED):
            kind = aux if code == E.SURVEY_SHOWN else aux // 10
            touch = c["aux2"].astype(np.int64) if code == E.SURVEY_SHOWN else aux % 10
            head = join('{"survey_id":"S', num(oid), '","kind":"', lookup([k for k, _ in _SURVEY_KINDS], kind),
                        '","touchpoint":"', lookup(_TOUCHPOINTS, touch), '"')
            if code == E.SURVEY_SHOWN:
                return join(head, "}")
            text_idx = c["aux2"].astype(np.int64)
            has = text_idx >= 0
            text = pc.if_else(pa.array(has), lookup(self.texts, text_idx), pa.scalar("null"))
            lang = lookup(list(ft.FEEDBACK_LANGS), text_idx)
            lang_frag = pc.if_else(pa.array(has), join(',"language":"', lang, '"'), pa.scalar(""))
            return join(head, ',"score":', num(c["val"].astype(np.int64)), ',"scale_max":',
                        lookup([str(s) for _, s in _SURVEY_KINDS], kind), ',"text":', text, lang_frag, "}")
        if code in (E.NEWSLETTER_SENT, E.NEWSLETTER_OPENED, E.NEWSLETTER_CLICKED):
            return join('{"campaign_id":"nl-', num(aux), '","newsletter":"', lk.site.host, '"}')
        if code in (E.DEMO_REQUESTED, E.WHITEPAPER):
            form = "demo" if code == E.DEMO_REQUESTED else "whitepaper"
            return pa.array(np.full(m, f'{{"form":"{form}"}}'))
        if code == E.SALES_CALL:
            kinds = ["discovery", "demo", "negotiation"]
            return join('{"call_type":"', lookup(kinds, aux), '","duration_minutes":', num(c["aux2"]), "}")
        if code == E.QUOTE_SENT:
            return join('{"quote_id":"Q', num(oid), '","value":', money(c["val"]), ',"currency":"EUR"}')
        if code in (E.CONTRACT_SIGNED, E.CONTRACT_RENEWED, E.CONTRACT_CANCELLED):
            reasons = ["", "late_deliveries", "price"]
            reason = pc.if_else(pa.array(aux > 0), join(',"reason":"', lookup(reasons, aux), '"'),
                                pa.scalar(""))
            return join('{"contract_id":"C', num(oid), '","value":', money(c["val"]),
                        ',"currency":"EUR","term_months":3', reason, "}")
        return pa.array(np.full(m, "{}"))
