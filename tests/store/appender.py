"""Run as a separate process by the tests: append numbered batches, say 'ack N' after each.

Usage: python appender.py WORKSPACE BATCH_SIZE BATCHES
"""

from __future__ import annotations

import sys

from cxlens.store.workspace import Workspace
from support import numbered_events


def main() -> None:
    path, size, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ws = Workspace.open(path)
    for i in range(batches):
        ws.append(numbered_events(size, start=i * size), source="appender")
        print(f"ack {i}", flush=True)


if __name__ == "__main__":
    main()
