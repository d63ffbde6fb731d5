"""One exception tree for everything a user can get wrong.

Every message says what happened *and* how to fix it, in one line, so that the CLI
can print it as is and the HTTP layer can put it into a JSON body without a traceback.
"""

from __future__ import annotations


class CxError(Exception):
    """Base of all errors cxlens raises on purpose."""

    #: HTTP status the API answers with for this kind of error.
    status_code: int = 400
    #: short machine-readable code for JSON error bodies
    code: str = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class WorkspaceError(CxError):
    code = "workspace"


class WorkspaceNotFound(WorkspaceError):
    code = "workspace_not_found"
    status_code = 404


class WorkspaceLocked(WorkspaceError):
    code = "workspace_locked"
    status_code = 409


class ConfigError(CxError):
    code = "config"


class MappingError(ConfigError):
    code = "mapping"


class ImportError_(CxError):
    code = "import"


class BadRowsError(ImportError_):
    """Raised by ``--strict`` imports when any row is bad; nothing was written."""

    code = "bad_rows"

    def __init__(self, message: str, *, rejects: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.rejects = rejects or []


class SpecError(CxError):
    """An analysis spec or request is invalid (unknown event, bad window, ...)."""

    code = "invalid_spec"


class ValidationError(CxError):
    code = "invalid"


class AuthError(CxError):
    code = "unauthorized"
    status_code = 401


class NotFound(CxError):
    code = "not_found"
    status_code = 404


class MissingExtra(CxError):
    """An optional dependency is not installed; the message names the install command."""

    code = "missing_extra"
    status_code = 501

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed; install it with: pip install 'cxlens[{extra}]'"
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str) -> object:
    """Import an optional dependency lazily, or raise MissingExtra naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtra(module, extra) from exc
