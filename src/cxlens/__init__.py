"""cxlens: customer-experience and customer-journey analytics over open files."""

from __future__ import annotations

from cxlens.errors import CxError
from cxlens.store.workspace import Workspace, open

__version__ = "0.1.0"
__all__ = ["CxError", "Workspace", "__version__", "open"]
