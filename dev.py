#!/usr/bin/env python3
"""Set up cxlens in a local virtual environment and run the demo or the test suite.

Needs only Python 3.11+ and the package index: it creates ``.venv`` beside this file,
installs cxlens with the pinned versions from ``constraints.txt`` and then runs

    python3 dev.py demo    simulate a shop into ./demo-workspace and serve it
    python3 dev.py test    install the test extras and run the whole test suite

Further arguments are passed on (``python3 dev.py test -k funnel``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 the machine has
        raise SystemExit(f"cxlens needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Reinstall only when the pins or the requested extras changed since the last install.
    stamp = VENV / f".cxlens-installed-{extras or 'base'}"
    digest = hashlib.sha256(
        (ROOT / "constraints.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing cxlens{f'[{extras}]' if extras else ''} into .venv ...", flush=True)
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", "constraints.txt", "-e", target)
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """The dashboard's browser tests drive Debian's chromium (Playwright cannot download
    browsers here); install it when we may, otherwise those tests skip and say why."""
    if Path("/usr/bin/chromium").exists() or not Path("/etc/debian_version").exists():
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        print("note: browser tests skip without /usr/bin/chromium (apt-get install chromium)")
        return
    print("installing chromium for the browser tests ...", flush=True)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(cmd, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode:
            print("note: could not install chromium; the browser tests will skip")
            return


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        raise SystemExit(2)
    what, rest = argv[0], argv[1:]
    env = dict(os.environ)
    if what == "demo":
        ensure_venv("")
        run(VENV / "bin" / "cxlens", "demo", *rest, env=env)
    else:
        ensure_venv("dev")
        ensure_chromium()
        env.setdefault("PYTHONHASHSEED", "0")
        workers = "2" if (os.cpu_count() or 1) > 1 else "1"
        run(PY, "-m", "pytest", "-n", workers, "--dist", "loadgroup", *rest, env=env)


if __name__ == "__main__":
    main(sys.argv[1:])
