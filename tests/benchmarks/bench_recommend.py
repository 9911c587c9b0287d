"""Benchmark `sizer recommend`: a full-catalog search for DeepSeek-V3 (671B MoE) at 32k context.

    /work/venv/bin/python tests/benchmarks/bench_recommend.py [--runs 7]

Prints (never asserts) the wall time of
- the cold CLI (`python -m sizer recommend deepseek-v3 -c 32k -f json`, a fresh process each run),
  with one and with two search processes (SIZER_WORKERS), and with the YAML parse cache off;
- the warm library call `recommend()` in one process (catalog loaded), one and two workers;
- the phases of one cold run: imports, catalog load, search, rendering.
Target: cold CLI under 1 s on a 2-core machine. Other processes on the machine skew the figures:
the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "sizer", "recommend", "deepseek-v3", "-c", "32k", "-f", "json"]
PHASES = """
import time
t0 = time.perf_counter()
import sizer.cli, sizer.commands.recommend
from sizer.recommend import recommend, Constraints
from sizer.render_recommend import render_recommendations
t1 = time.perf_counter()
from sizer.catalog import load_catalog
catalog = load_catalog()
t2 = time.perf_counter()
result = recommend("deepseek-v3", Constraints(context_tokens=32768), catalog=catalog)
t3 = time.perf_counter()
render_recommendations(result, "table")
t4 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f}")
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SIZER_CATALOG", None)
    env.update(extra)
    return env


def cold(runs: int, **extra: str) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(CMD, env=_env(**extra), check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return times


def warm(runs: int, workers: int) -> list[float]:
    sys.path.insert(0, str(ROOT))
    from sizer.catalog.loading import load_catalog
    from sizer.recommendation.pipeline import Constraints, recommend

    catalog = load_catalog()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        recommend("deepseek-v3", Constraints(context_tokens=32768, workers=workers), catalog=catalog)
        times.append(time.perf_counter() - start)
    return times


def _show(label: str, times: list[float]) -> None:
    print(f"{label:<44} min {min(times):.3f} s  median {statistics.median(times):.3f} s  ({len(times)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; python {sys.version.split()[0]}")
    cold(1)  # fill the YAML parse cache
    _show("cold CLI, 1 worker", cold(args.runs, SIZER_WORKERS="1"))
    _show("cold CLI, 2 workers", cold(args.runs, SIZER_WORKERS="2"))
    _show("cold CLI, default workers", cold(args.runs))
    _show("cold CLI, default workers, no YAML cache", cold(max(2, args.runs // 2), SIZER_NO_CACHE="1"))
    phases = [subprocess.run([sys.executable, "-c", PHASES], env=_env(), check=True, capture_output=True,
                             text=True, cwd=ROOT).stdout.split() for _ in range(3)]
    best = min(phases, key=lambda p: sum(map(float, p)))
    print("phases of the fastest of 3 cold runs: imports {} s, catalog {} s, search {} s, render {} s".format(*best))
    _show("warm library, 1 worker", warm(args.runs, 1))
    _show("warm library, 2 workers", warm(args.runs, 2))


if __name__ == "__main__":
    main()
