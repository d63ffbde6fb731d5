"""cxlens.personas: behavioural personas (docs/personas.md).

``current_assignments(ws, project)`` is the stable read of the current persona per
person (person_id, persona_id, persona_name); discovery and assignment live in
``cxlens.personas.runs`` (they import scikit-learn).
"""

from cxlens.personas.store import current_assignments

__all__ = ["current_assignments"]
