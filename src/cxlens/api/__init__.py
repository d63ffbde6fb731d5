"""The HTTP side of cxlens: one ASGI app (collector now, JSON API and dashboard later)."""
