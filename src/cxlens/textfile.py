"""Text files users write by hand (mappings, journey and survey definitions, analysis
specs, ``cxlens.toml``): UTF-8 as TOML, YAML and JSON require, or one line saying how
to fix it. Editors on Windows often save in the ANSI code page (an umlaut in a column
name is then one byte that is not UTF-8) or put a byte order mark first; a
UnicodeDecodeError traceback helped no one, and TOML refused the mark as an "invalid
statement" in line 1."""

from __future__ import annotations

from pathlib import Path

from cxlens.errors import CxError


def read_user_text(path: Path, error: type[CxError], *, field: str | None = None) -> str:
    """The file's text; OSError is left to the caller, which knows what the file is for."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path} is not UTF-8 (byte 0x{raw[exc.start]:02x} in line {line}); save it as "
                    "UTF-8 (in Windows' editor: 'Save as', encoding UTF-8)", field=field) from None
