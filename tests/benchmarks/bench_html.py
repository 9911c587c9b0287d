"""Benchmark `--format html`: page size and render time of a full-catalog recommend, and of fit and plan.

    .venv/bin/python tests/benchmarks/bench_html.py [--runs 5]

Prints (never asserts):
- the cold CLI `sizer recommend deepseek-v3 -c 32k -f html` (a fresh process each run) against the same
  command with `-f json`: wall time, and the page size in bytes;
- in one warm process: the search, then the page (charts + template) alone, and each chart alone;
- the import time of matplotlib (the `sizer[html]` extra) in a fresh process.
Other processes on the machine skew the figures: the load average is printed alongside.
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
RECOMMEND = ["recommend", "deepseek-v3", "-c", "32k"]
OTHERS = [["fit", "deepseek-v3", "-q", "Q4_K_M", "--gpu", "rtx4090:2", "--ram", "768", "-c", "32k"],
          ["plan", "deepseek-v3", "-c", "32k"]]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SIZER_CATALOG", None)
    return env


def _cli(args: list[str], fmt: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sizer", *args, "-f", fmt], capture_output=True, check=True,
                          env=_env(), cwd=ROOT)
    return time.perf_counter() - start, len(done.stdout)


def _median(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {runs} runs each")
    _cli(RECOMMEND, "html")  # warm the OS file cache and matplotlib's font cache
    for fmt in ("json", "html"):
        results = [_cli(RECOMMEND, fmt) for _ in range(runs)]
        print(f"cold CLI sizer {' '.join(RECOMMEND)} -f {fmt}: {_median([t for t, _ in results])}, "
              f"{results[-1][1]:,} bytes")
    for args in OTHERS:
        results = [_cli(args, "html") for _ in range(runs)]
        print(f"cold CLI sizer {' '.join(args)} -f html: {_median([t for t, _ in results])}, {results[-1][1]:,} bytes")

    sys.path.insert(0, str(ROOT))
    from sizer.catalog.loading import load_catalog
    from sizer.recommendation.pipeline import Constraints, recommend
    from sizer.render import charts
    from sizer.render.html_report import render_recommend_html

    catalog = load_catalog()
    start = time.perf_counter()
    result = recommend("deepseek-v3", Constraints(context_tokens=32768), catalog=catalog)
    print(f"warm search: {time.perf_counter() - start:.2f} s, {len(result.configurations)} configurations charted")
    render_recommend_html(result)  # first call pays matplotlib's import
    pages = []
    for _ in range(runs):
        start = time.perf_counter()
        render_recommend_html(result)
        pages.append(time.perf_counter() - start)
    print(f"warm page (charts + template): {_median(pages)}")
    data = result.model_dump(mode="json")
    for name, draw in (("price / speed", charts.price_speed_chart), ("plan", charts.plan_chart)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            draw(data)
            times.append(time.perf_counter() - start)
        print(f"warm chart {name}: {_median(times)}")
    probe = "import time; t = time.perf_counter(); import matplotlib.figure, matplotlib.backends.backend_svg; " \
            "print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
               for _ in range(runs)]
    print(f"import matplotlib (Figure + SVG backend), fresh process: {_median(imports)}")


if __name__ == "__main__":
    main()
