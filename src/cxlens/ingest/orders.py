"""Order and transaction tables -> ``Order Completed`` events.

Shop backends, ERPs and invoice exports all have the same four columns under
different names: order id, customer, date, amount. The ``[orders]`` section of a
mapping names them (or they are recognised by common names), and this module turns
that into an ordinary mapping: channel ``store``, revenue from the amount, and an
event id derived from the order id, so importing the same orders again adds nothing.
Negative amounts (credit notes, cancellations such as UCI's ``C...`` invoices) become
``Order Refunded`` with the amount as negative revenue.
"""

from __future__ import annotations

from typing import Any, Final

from cxlens.errors import MappingError
from cxlens.ingest.mapping import FieldSpec, Mapping, PropertiesSpec, parse_field

ORDER_EVENT: Final = "Order Completed"
REFUND_EVENT: Final = "Order Refunded"

#: common column names, compared case-insensitively without _ and spaces
_GUESS: Final = {
    "order_id": ("orderid", "order", "ordernumber", "orderno", "invoiceno", "invoice",
                 "invoiceid", "invoicenumber", "transactionid", "bestellnummer", "rechnungsnummer"),
    "customer": ("customerid", "customer", "userid", "clientid", "kundennummer", "kundenid",
                 "customerunique_id", "buyerid"),
    "date": ("orderdate", "date", "invoicedate", "timestamp", "createdat", "orderpurchasetimestamp",
             "transactiondate", "datum", "bestelldatum"),
    "amount": ("amount", "total", "totalprice", "revenue", "ordertotal", "grandtotal", "value",
               "betrag", "summe", "umsatz"),
    "currency": ("currency", "currencycode", "waehrung", "währung"),
}
_KEYS: Final = frozenset({"order_id", "customer", "date", "amount", "currency", "account",
                          "channel", "refunds", "event"})


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace(" ", "").replace("-", "")


def guess_columns(columns: list[str] | tuple[str, ...]) -> dict[str, str]:
    by_norm = {_norm(c): c for c in columns}
    found: dict[str, str] = {}
    for role, names in _GUESS.items():
        for n in names:
            if _norm(n) in by_norm:
                found[role] = by_norm[_norm(n)]
                break
    return found


def orders_mapping(base: Mapping | None, columns: list[str] | tuple[str, ...]) -> Mapping:
    """Mapping for an orders table: the ``[orders]`` section, else guessed columns."""
    section: dict[str, Any] = dict(base.extra.get("orders", {})) if base else {}
    unknown = set(section) - _KEYS
    if unknown:
        raise MappingError(f"section 'orders' has unknown key {sorted(unknown)[0]!r}; allowed: "
                           f"{', '.join(sorted(_KEYS))}", field="orders")
    guessed = guess_columns(columns)
    roles: dict[str, Any] = {**{k: v for k, v in guessed.items()}, **section}
    for role in ("order_id", "customer", "date", "amount"):
        if role not in roles:
            raise MappingError(
                f"cannot tell which column is the {role.replace('_', ' ')}; add section 'orders' {role} = "
                f"\"<column>\" to a mapping file (columns: {', '.join(columns[:20])})",
                field=f"orders.{role}",
            )
    event = str(roles.get("event", ORDER_EVENT))
    amount = parse_field(roles["amount"], "orders.amount")
    date = parse_field(roles["date"], "orders.date")
    fields: dict[str, FieldSpec] = dict(base.fields) if base else {}
    fields.setdefault("timestamp", date)
    fields.setdefault("user_id", parse_field(roles["customer"], "orders.customer"))
    fields.setdefault("revenue", amount)
    fields.setdefault("channel", FieldSpec(value=str(roles.get("channel", "store"))))
    fields.setdefault("type", FieldSpec(value="track"))
    order_col = parse_field(roles["order_id"], "orders.order_id").column
    if order_col is None:
        raise MappingError("orders.order_id must name a column", field="orders.order_id")
    fields.setdefault("event_id", FieldSpec(from_columns=(order_col,), prefix="order"))
    if "account" in roles:
        fields.setdefault("account_id", parse_field(roles["account"], "orders.account"))
    if "currency" in roles:
        cur = roles["currency"]
        # a three-letter upper-case code that is not a column is a constant (EUR, GBP)
        if isinstance(cur, str) and cur not in columns and len(cur) == 3 and cur.isupper():
            fields.setdefault("currency", FieldSpec(value=cur))
        else:
            fields.setdefault("currency", parse_field(cur, "orders.currency"))
    if "event" not in fields:
        fields["event"] = FieldSpec(value=event)
    props = base.properties if base else PropertiesSpec()
    rename = {order_col: "order_id", **props.rename}
    props = PropertiesSpec(columns=props.columns, exclude=props.exclude, rename=rename,
                           types={order_col: "string", **props.types}, values=props.values)
    return Mapping(
        fields=fields,
        properties=props,
        context=base.context if base else {},
        person_required=base.person_required if base else None,
        csv=base.csv if base else Mapping(fields={}).csv,
        format="orders",
        extra={"orders": section, "refunds": bool(roles.get("refunds", True))},
    )


def refund_event_sql(event_sql: str, revenue_sql: str) -> str:
    """Event name expression that turns negative amounts into refunds."""
    return (f"(CASE WHEN {revenue_sql} < 0 AND {event_sql} = '{ORDER_EVENT}' "
            f"THEN '{REFUND_EVENT}' ELSE {event_sql} END)")
