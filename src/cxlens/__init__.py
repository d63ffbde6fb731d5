"""cxlens: customer-experience and customer-journey analytics over open files."""

from __future__ import annotations

from cxlens.errors import CxError
from cxlens.store.workspace import Workspace, open

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Subpackages with heavier imports load on first use: ``cxlens.voice.sentiment(...)``.
    if name in {"voice", "journeys", "identity", "personas", "privacy", "simulate"}:
        import importlib

        return importlib.import_module(f"cxlens.{name}")
    raise AttributeError(f"module 'cxlens' has no attribute {name!r}")
__all__ = ["CxError", "Workspace", "__version__", "open"]
