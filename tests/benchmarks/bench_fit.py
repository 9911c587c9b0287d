"""Benchmark of `sizer fit` (issue 3): cold CLI start and one warm library call for a 671B MoE.

Run: python tests/benchmarks/bench_fit.py    (figures are reported, never asserted)
Targets: cold CLI <= 0.3 s on a 2-core machine; one library fit <= 5 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def cold_cli(args: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sizer", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def warm_library(runs: int = 50) -> dict[str, float]:
    from sizer.catalog.loading import load_catalog
    from sizer.sizing.fitter import fit

    catalog = load_catalog()
    cases = {
        "deepseek-v3 native on 8x H200 (vLLM, TP 8)": dict(quant="native", gpus=(("H200", 8),)),
        "deepseek-v3 Q4_K_M on RTX 5090 + 768 GB (offload search)": dict(
            quant="q4_k_m", gpus=(("RTX 5090", 1),), ram_bytes=768 * 10**9),
        "deepseek-v3 Q4_K_M, memory only (no hardware)": dict(quant="q4_k_m"),
    }
    out = {}
    for label, kw in cases.items():
        fit("deepseek-v3", context_tokens=32768, catalog=catalog, **kw)  # warm caches
        t = time.perf_counter()
        for _ in range(runs):
            fit("deepseek-v3", context_tokens=32768, catalog=catalog, **kw)
        out[label] = (time.perf_counter() - t) / runs * 1000
    return out


def main() -> None:
    print(f"cold CLI  sizer --version: {cold_cli(['--version']) * 1000:.0f} ms")
    print(f"cold CLI  sizer fit deepseek-v3 -q q4_k_m -f json: "
          f"{cold_cli(['fit', 'deepseek-v3', '-q', 'q4_k_m', '-f', 'json']) * 1000:.0f} ms")
    print(f"cold CLI  sizer fit deepseek-v3 --gpu h200:8 -f json: "
          f"{cold_cli(['fit', 'deepseek-v3', '--gpu', 'h200:8', '-f', 'json']) * 1000:.0f} ms")
    for label, ms in warm_library().items():
        print(f"library   {label}: {ms:.2f} ms per call")


if __name__ == "__main__":
    main()
