"""Reading spec values the way people write them: "7d", "30m", "2024-05-01"."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from cxlens.errors import SpecError

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def duration_seconds(value: Any, field: str) -> float:
    """Seconds from a number (seconds) or '90s', '30m', '12h', '7d', '2w'; must be > 0."""
    if isinstance(value, bool):
        raise SpecError(f"{field} must be a duration such as '7d', got {value!r}", field=field)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.lower())):
        unit = m.group(2) or "s"
        if unit not in _UNITS:
            raise SpecError(f"{field}: unknown unit {unit!r} in {value!r}; use s, m, h, d or w",
                            field=field)
        seconds = float(m.group(1)) * _UNITS[unit]
    else:
        raise SpecError(f"{field} must be a duration such as '7d' or '30m', got {value!r}",
                        field=field)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise SpecError(f"{field} must be a positive duration, got {value!r}", field=field)
    return seconds


def check_period(since: datetime | None, until: datetime | None) -> None:
    """A time range must not be empty."""
    if since is not None and until is not None and since >= until:
        raise SpecError(f"since must be before until, got {since.isoformat()} .. "
                        f"{until.isoformat()}", field="since")


def optional_time(value: Any, field: str) -> datetime | None:
    """None, or an aware UTC datetime from an ISO date/time (naive means UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise SpecError(f"{field} must be an ISO date or time, got {value!r}",
                            field=field) from None
    else:
        raise SpecError(f"{field} must be an ISO date or time, got {value!r}", field=field)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
