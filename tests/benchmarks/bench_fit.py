"""Benchmark of `sizer fit` (issue 3): cold CLI start and one warm library call for a 671B MoE.

Run: python tests/benchmarks/bench_fit.py    (figures are reported, never asserted)
Targets: cold CLI <= 0.3 s on a 2-core machine (0.1 s for a catalog model on one GPU, issue 9); one library fit <= 5 ms.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time


def cold_cli(args: list[str], runs: int = 7) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `python -m sizer ARGS`. The CPU time is the
    steadier figure on a busy machine."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sizer", *args], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


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


COLD_CASES = (
    ["--version"],
    ["fit", "deepseek-v3", "-q", "q4_k_m", "-f", "json"],
    ["fit", "deepseek-v3", "--gpu", "h200:8", "-f", "json"],
    ["fit", "llama-3.3-70b", "-q", "q4_k_m", "--gpu", "h100"],
    ["fit", "llama-3.3-70b", "-q", "q4_k_m", "--gpu", "h100", "-f", "json"],
)


def main() -> None:
    for args in COLD_CASES:
        wall, cpu = cold_cli(args)
        print(f"cold CLI  sizer {' '.join(args)}: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")
    for label, ms in warm_library().items():
        print(f"library   {label}: {ms:.2f} ms per call")


if __name__ == "__main__":
    main()
