"""Files users write by hand, saved by a Windows editor: ANSI code page or a byte order mark."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cxlens.errors import CxError
from cxlens.ingest.mapping import load_mapping
from cxlens.journeys.analyses import read_spec_file
from cxlens.journeys.touchpoints import load_definition
from cxlens.store.workspace import Workspace
from cxlens.surveys.definitions import load_file as load_survey
from cxlens.voice.feedback_import import load_mapping as load_feedback_mapping

MAPPING = '[fields]\ntimestamp = "Datum"\nevent = "Aktivität"\nuser_id = "Kunde"\n'

READERS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "import mapping": ("m.toml", load_mapping),
    "feedback mapping": ("f.toml", load_feedback_mapping),
    "journey definition": ("j.toml", load_definition),
    "analysis spec": ("a.toml", read_spec_file),
    "survey": ("s.toml", load_survey),
}


@pytest.mark.parametrize("what", list(READERS))
def test_a_file_in_the_windows_code_page_is_one_line_saying_to_save_it_as_utf8(
    tmp_path: Path, what: str
) -> None:
    name, read = READERS[what]
    file = tmp_path / name
    file.write_bytes(MAPPING.encode("cp1252"))  # was a UnicodeDecodeError traceback
    with pytest.raises(CxError, match=rf"{name} is not UTF-8 \(byte 0xe4 in line 3\); save it as UTF-8"):
        read(file)


def test_a_byte_order_mark_before_the_first_section_is_read_past(tmp_path: Path) -> None:
    file = tmp_path / "m.toml"
    file.write_bytes(b"\xef\xbb\xbf" + MAPPING.encode())  # was "Invalid statement (at line 1, column 1)"
    assert load_mapping(file).fields["event"].column == "Aktivität"


def test_a_workspace_config_in_the_windows_code_page_is_one_line(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    config = tmp_path / "ws" / "cxlens.toml"
    config.write_bytes(config.read_bytes() + "# Zeitzone für Berichte\n".encode("cp1252"))
    with pytest.raises(CxError, match=r"cxlens\.toml is not UTF-8"):
        Workspace.open(tmp_path / "ws")
