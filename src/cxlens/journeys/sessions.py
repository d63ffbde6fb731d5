"""Sessions, computed when read: 30 minutes of inactivity (configurable) end a session.

Sessions are derived at query time rather than stored, because events arrive in many
small batches (the collector writes every few hundred milliseconds) and a session is
only known once the person's neighbouring events are there; changing the timeout in
``cxlens.toml`` then applies to all history at once. A session id an SDK sent (for
example PostHog's ``$session_id``) is kept as it is.

The session's channel follows GA4: events without acquisition information of their
own (internal navigation, server events) get the channel of the session's first
event that has one.
"""

from __future__ import annotations

import duckdb

from cxlens.errors import SpecError


def sessionize(rel: duckdb.DuckDBPyRelation, timeout_minutes: float = 30.0) -> duckdb.DuckDBPyRelation:
    """``rel`` with ``session_id`` filled and ``session_channel`` added.

    ``person_key`` is user_id, else anonymous_id (identity resolution replaces it with
    the resolved person later). Events without any id get no session.
    """
    if not timeout_minutes > 0:
        raise SpecError(
            f"session timeout must be a positive number of minutes, got {timeout_minutes}",
            field="timeout_minutes",
        )
    gap_us = int(timeout_minutes * 60_000_000)
    cols = ", ".join(f'"{c}"' for c in rel.columns if c != "session_id")
    sql = f"""
    WITH base AS (
        SELECT *, coalesce(user_id, anonymous_id) AS _pk FROM _sess_in
    ), marked AS (
        SELECT *, CASE WHEN _pk IS NULL THEN NULL
            WHEN lag(timestamp) OVER w IS NULL
              OR epoch_us(timestamp) - epoch_us(lag(timestamp) OVER w) > {gap_us} THEN timestamp
            END AS _start
        FROM base WINDOW w AS (PARTITION BY project, _pk ORDER BY timestamp, event_id)
    ), started AS (
        SELECT *, max(_start) OVER (PARTITION BY project, _pk ORDER BY timestamp, event_id
                                    ROWS UNBOUNDED PRECEDING) AS _session_start
        FROM marked
    ), with_id AS (
        SELECT {cols}, coalesce(session_id, CASE WHEN _pk IS NOT NULL THEN substr(md5(
            project || chr(31) || _pk || chr(31) || CAST(epoch_us(_session_start) AS VARCHAR)),
            1, 20) END) AS session_id
        FROM started
    )
    SELECT *, CASE WHEN session_id IS NULL THEN coalesce(channel, 'direct') ELSE
        coalesce(first_value(channel IGNORE NULLS) OVER (
        PARTITION BY project, session_id ORDER BY timestamp, event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), 'direct') END AS session_channel
    FROM with_id
    """
    result = rel.query("_sess_in", sql)
    assert result is not None  # a SELECT always gives a relation
    return result
