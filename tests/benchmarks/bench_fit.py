"""Benchmark of `sizer fit` (issue 3): cold CLI start and one warm library call for a 671B MoE.

Run: python tests/benchmarks/bench_fit.py    (figures are reported, never asserted)
Targets: cold CLI <= 0.3 s on a 2-core machine (0.1 s for a catalog model on one GPU, issue 9); one library fit <= 5 ms.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _env() -> dict[str, str]:
    """The environment of an installed sizer: pip writes bytecode at install, so the timed runs import
    compiled modules (kept in a temporary pycache prefix, not in the tree) even where
    PYTHONDONTWRITEBYTECODE is set."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "sizer-bench-pycache")
    return env


def cold_cli(args: list[str], runs: int = 9) -> tuple[float, float, float]:
    """Median wall time, median and minimum CPU time (user + system) of `python -m sizer ARGS`, after one
    untimed run that fills the catalog cache and the bytecode. CPU time is the steadier figure on a busy
    machine, the minimum the least disturbed run."""
    command = [sys.executable, "-m", "sizer", *args]
    env = _env()
    subprocess.run(command, check=True, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus), min(cpus)


def warm_library(runs: int = 50) -> dict[str, float]:
    from sizer.catalog.loading import load_catalog
    from sizer.sizing.fitter import fit

    catalog = load_catalog()
    cases: dict[str, dict[str, Any]] = {
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
        wall, cpu, least = cold_cli(args)
        print(f"cold CLI  sizer {' '.join(args)}: {wall * 1000:.0f} ms wall, CPU {cpu * 1000:.0f} ms "
              f"(least {least * 1000:.0f} ms)")
    for label, ms in warm_library().items():
        print(f"library   {label}: {ms:.2f} ms per call")


if __name__ == "__main__":
    main()
