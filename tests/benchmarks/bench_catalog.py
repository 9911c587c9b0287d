"""Catalog loading and cold CLI start-up times (run: python tests/benchmarks/bench_catalog.py).

Prints the best of several runs; figures are reported in closing notes, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def best_ms(fn: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    sys.path.insert(0, str(REPO))
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sizer-bench-")
    start = time.perf_counter()
    import sizer.catalog.loading as catalog
    from sizer.catalog.collect import Collector, validate_entries
    from sizer.catalog.files import builtin_files

    print(f"import sizer.catalog                      {1e3 * (time.perf_counter() - start):7.1f} ms")
    os.environ["SIZER_NO_CACHE"] = "1"
    print(f"build, YAML parsed (no parse cache)       {best_ms(lambda: catalog._build(()), 3):7.1f} ms")
    del os.environ["SIZER_NO_CACHE"]
    catalog._build(())  # fills the parse cache
    print(f"build, YAML from the parse cache          {best_ms(lambda: catalog._build(())):7.1f} ms")
    print(f"  reading the files from the parse cache  {best_ms(builtin_files):7.1f} ms")
    collector = Collector({kind: model.model_fields for kind, model in catalog.KIND_MODELS.items()})
    for kind, doc in builtin_files():
        collector.builtin(kind, doc)

    def validate() -> None:
        for kind in catalog.KIND_MODELS:
            validate_entries(catalog.KIND_MODELS[kind], list(collector.tables[kind].values()))

    print(f"  pydantic validation of every entry      {best_ms(validate):7.1f} ms")
    loaded = catalog.load_catalog()
    cached_us = best_ms(catalog.load_catalog, 1000) * 1e3
    print(f"load_catalog() when cached                {cached_us:7.1f} us  {loaded}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (["--help"], ["gpus", "list"], ["catalog", "validate"]):
        def run(args: list[str] = args) -> None:
            subprocess.run([sys.executable, "-m", "sizer", *args], env=env, cwd=tempfile.gettempdir(),
                           capture_output=True, check=True)  # fmt: skip

        print(f"cold `sizer {' '.join(args)}`".ljust(42) + f"{best_ms(run, 5):7.1f} ms")


if __name__ == "__main__":
    main()
