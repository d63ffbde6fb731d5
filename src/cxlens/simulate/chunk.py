"""One chunk of the simulation: a slice of persons, simulated completely.

The simulator never holds all events: persons are simulated in chunks of a fixed size
(so a seed means the same data whatever the machine), each chunk with its own seeded
generator. Shop customers are independent of each other; B2B chunks draw whole accounts,
so a buying centre never spans two chunks. Serial numbers (sessions, orders, tickets,
...) and account numbers continue from chunk to chunk, so every id stays unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cxlens.simulate import journeys as jr
from cxlens.simulate.arrowize import Arrowizer, Lookups, join, lookup, num
from cxlens.simulate.eventlog import EventLog
from cxlens.simulate.personas import PERSONAS
from cxlens.simulate.site import B2B_SITE, LOCALES, SHOP_SITE

Business = Literal["shop", "b2b"]

#: Persons per chunk: ~2M events of the shop, ~1 GB of working memory at most. Fixed,
#: not tuned to the machine, because the chunking is part of what a seed produces.
PERSONS_PER_CHUNK = 50_000

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_NIBBLES = np.arange(60, -4, -4, dtype=np.int64)  # 16 hex digits, most significant first


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    first_person: int
    first_account: int
    pop: jr.Population
    facts: dict[str, np.ndarray]
    log: dict[str, np.ndarray]  # frozen: time-sorted, inside the period
    lookups: Lookups
    arrow: Arrowizer
    accounts: dict[str, pa.Array]

    @property
    def n_accounts(self) -> int:
        return len(self.accounts["account_id"]) if self.accounts else 0

    @property
    def events(self) -> int:
        return len(self.log["ts"])


def chunk_sizes(customers: int) -> list[int]:
    full, rest = divmod(customers, PERSONS_PER_CHUNK)
    return [PERSONS_PER_CHUNK] * full + ([rest] if rest else [])


def generate(business: Business, seed: int, index: int, n: int, first_person: int,
             first_account: int, first_event: int, serials: dict[str, int], start_us: int,
             end_us: int, days: int) -> Chunk:
    """Simulate ``n`` persons; ``serials`` is carried on to the next chunk (updated)."""
    biz = 0 if business == "shop" else 1
    # chunk 0 keeps the generator of the unchunked simulator: small runs are unchanged
    rng = np.random.default_rng([seed, biz] if index == 0 else [seed, biz, index])
    site = SHOP_SITE if business == "shop" else B2B_SITE
    personas = PERSONAS[business]
    log = EventLog()
    order_base = serials.get("order", 0)
    accounts: dict[str, pa.Array] = {}
    if business == "shop":
        from cxlens.simulate import shop

        pop, traits = shop.population(rng, n, days)
        sim = jr.Sim(rng, log, site, personas, pop, start_us, end_us, serials=serials,
                     prices=site.product_prices())
        facts = shop.run(sim, days)
    else:
        from cxlens.simulate import b2b

        pop, traits, accounts = b2b.population(rng, n, days, first_account)
        sim = jr.Sim(rng, log, site, personas, pop, start_us, end_us, serials=serials,
                     prices=site.product_prices())
        facts = b2b.run(sim, days)
    frozen = log.freeze(end_us)
    # person strings: drawn after the journeys so that they never shift the journeys
    id_rng = np.random.default_rng([seed, 2 + biz] if index == 0 else [seed, 2 + biz, index])
    anon_hex = _hex16(id_rng.integers(0, 2**62, n * 3, dtype=np.int64))
    dash, four, a = _const(n * 3, "-"), _const(n * 3, "4"), _const(n * 3, "a")
    anon = _strings(np.concatenate([anon_hex[:, :8], dash, anon_hex[:, 8:12], dash, four,
                                    anon_hex[:, 13:16], dash, a, anon_hex[:, 1:4], dash,
                                    anon_hex[:, 4:16]], axis=1))
    user_hex = _hex16(id_rng.integers(0, 2**62, n, dtype=np.int64))
    users = _strings(np.concatenate([_const(n, "u-"), user_hex], axis=1))
    domain = "example.de" if business == "shop" else "firma.example"
    emails = _strings(np.concatenate([user_hex[:, :8], _const(n, "@" + domain)], axis=1))
    octets = id_rng.integers(10, 250, (n, 3))
    ips = join(num(octets[:, 0]), ".", num(octets[:, 1]), ".", num(octets[:, 2]), ".0")
    fields: list[str | pa.Array] = ['{"email":"', emails, '","locale":"',
                                    lookup(list(LOCALES), pop.locale.astype(np.int64)), '"']
    for key, values in traits.items():
        fields += [f',"{key}":', values]
    lk = Lookups(
        business=business, site=site, prices=sim.prices, anon_ids=anon, user_ids=users,
        emails=emails, traits=join(*fields, "}"),
        account_ids=accounts.get("account_id", pa.array([], pa.string())),
        account_traits=accounts.get("traits", pa.array([], pa.string())),
        locale=pop.locale.astype(np.int64), ips=ips, event_prefix=f"sim-{business}-{seed}-",
    )
    arrow = Arrowizer(lk, frozen, sim.orders.table(), order_base=order_base, first_event=first_event)
    return Chunk(index, first_person, first_account, pop, facts, frozen, lk, arrow, accounts)


def _hex16(raw: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    out: npt.NDArray[np.uint8] = _HEX[(raw[:, None] >> _NIBBLES) & 15]
    return out


def _const(n: int, text: str) -> npt.NDArray[np.uint8]:
    return np.broadcast_to(np.frombuffer(text.encode(), np.uint8), (n, len(text)))


def _strings(chars: npt.NDArray[np.uint8]) -> pa.Array:
    """Rows of ASCII bytes (all the same width) as an Arrow string array."""
    fixed = np.ascontiguousarray(chars).view(f"S{chars.shape[1]}").ravel()
    return pa.array(fixed, pa.binary()).cast(pa.string())
