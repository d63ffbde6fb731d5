"""cxlens.personas: behavioural personas (docs/personas.md)."""
