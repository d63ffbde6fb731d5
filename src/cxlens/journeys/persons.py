"""Who "a person" is, in one place.

Until identity resolution (``cxlens.identity``) stores a resolved ``person_id``, every
journey analysis counts ``coalesce(user_id, anonymous_id)`` as the person. All engines
compile this one expression, so switching to the resolved id is a one-line change here.
"""

from __future__ import annotations

from cxlens.engines.expr import Coalesce, Col, Expr

PERSON_KEY: Expr = Coalesce((Col("user_id"), Col("anonymous_id")))
