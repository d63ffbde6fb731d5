"""One writer at a time per workspace, any number of readers.

Writers (imports, the collector's background writer, compaction, erasure) take an
exclusive ``flock`` on ``<workspace>/.writer.lock``; readers take no lock at all,
because they read a snapshot of the catalog and files are never changed in place.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cxlens.errors import WorkspaceLocked


@contextmanager
def writer_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkspaceLocked(
                        f"another process has been writing to the workspace for over {timeout:.0f} s "
                        f"({path}); wait for it to finish or stop it, then try again"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """The descriptor of ``path`` holding its exclusive ``flock``, taken without waiting,
    or None while another holds a lock on it; closing the descriptor releases it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
