"""Speed of the voice pipeline: language + sentiment + aspects (seed and discovered) of
100,000 texts in one process.

    .venv/bin/python benchmarks/voice_speed.py [--n 100000] [--repeat 2]

Texts: the simulator's German and English feedback and ticket texts mixed with the real
SB10k train tweets (when ../shared/data is there), each made unique by a suffix so that
no per-text cache can help; the per-token memo tables start empty in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SB10K = ROOT.parent / "shared" / "data" / "sentiment" / "sb10k_train.tsv"


def texts(n: int) -> list[str]:
    from cxlens.simulate import feedback_text as ft
    from cxlens.voice.evaluate import read_sb10k

    base = [*ft.FEEDBACK_TEXTS, *ft.TICKET_TEXTS]
    if SB10K.exists():
        base += read_sb10k(SB10K)[0]
    return [f"{base[i % len(base)]} #{i}" for i in range(n)]


def once(n: int) -> dict[str, float]:
    from cxlens.voice.pipeline import analyze_texts

    data = texts(n)
    t0, c0 = time.perf_counter(), time.process_time()
    an = analyze_texts(data)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    langs = sum(1 for s in an.sentiments if s.language == "en")
    # the machine is shared: CPU seconds of this process tell the cost when wall time is
    # inflated by other processes (load average printed alongside)
    return {"n": n, "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "load_avg_1m": round(os.getloadavg()[0], 1), "texts_per_second": round(n / secs),
            "english": langs, "mentions": sum(len(m) for m in an.mentions)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(once(args.n)))
        return 0
    for _ in range(args.repeat):  # a fresh process each time: cold memo tables
        out = subprocess.run([sys.executable, __file__, "--child", "--n", str(args.n)],
                             capture_output=True, text=True, check=True)
        print(out.stdout.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
