"""Data protection: consent, right of access, right to erasure, retention and
pseudonymisation (docs/privacy.md)."""
