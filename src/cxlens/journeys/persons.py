"""Who "a person" is, in one place.

Journey analyses count resolved persons: the engines add identity resolution's
``person_id`` to the events (``cxlens.identity.with_person`` on DuckDB,
``cxlens.engines.spark.with_person`` on Spark — the same rule), so anonymous visits before
a login belong to the person afterwards and several devices count once. Ids that
``cxlens identity resolve`` has not seen yet count as persons of their own.
"""

from __future__ import annotations

from cxlens.engines.expr import Col, Expr

PERSON_KEY: Expr = Col("person_id")
