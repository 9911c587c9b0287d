"""Hostile and careless inputs (issue 10): every case ends with exit 1 or 2, a message that says what is
wrong, quickly, and within a memory cap; nothing is written outside sizer's cache folder.

The cases (tests/hostile/cases.py) run in one subprocess (tests/hostile/runner.py) under RLIMIT_AS,
each with a 10 s budget; the figures per case (time, peak memory, before and after the fixes) come
from `tests/benchmarks/bench_hostile.py`, which runs each case in its own process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.cases import CASES, write_files

REPO = Path(__file__).resolve().parents[1]
MEMORY_CAP = 2_000_000_000  # address space, bytes (resident memory stays far below: see the benchmark)
BUDGET_S = 10.0


def run_cases(argvs: dict[str, list[str]], home: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    """Run command lines in one bounded subprocess; name -> {"code", "seconds", "output"}."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIZER_", "XDG_"))}
    env |= {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(REPO)}
    lines = "".join(json.dumps({"name": n, "argv": a}) + "\n" for n, a in argvs.items())
    proc = subprocess.run([sys.executable, "-m", "tests.hostile.runner", str(BUDGET_S)], input=lines,
                          capture_output=True, text=True, env=env, cwd=cwd, preexec_fn=cap,
                          timeout=BUDGET_S * len(argvs) + 60)
    results = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 0 and len(results) == len(argvs), proc.stderr[-3000:]
    return results


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], Path]:
    base = tmp_path_factory.mktemp("hostile")
    files, home, cwd = base / "files", base / "home", base / "cwd"
    write_files(files)
    home.mkdir()
    cwd.mkdir()
    argvs = {c.name: [a.replace("{dir}", str(files)) for a in c.argv] for c in CASES}
    return run_cases(argvs, home, cwd), base


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gives_a_clean_error(hostile_results, case) -> None:
    results, _ = hostile_results
    result = results[case.name]
    assert result["code"] in case.codes, result
    assert "internal error" not in result["output"] and "Traceback" not in result["output"], result
    assert case.says.lower() in result["output"].lower(), result
    assert result["output"].strip(), result  # a message, not a silent exit
    assert result["seconds"] < 5.0, result


def test_nothing_is_written_outside_the_cache_folder(hostile_results) -> None:
    _, base = hostile_results
    allowed = (base / "files", base / "home" / ".cache" / "sizer")
    written = [p for p in base.rglob("*")
               if not any(p == a or p.is_relative_to(a) for a in allowed)
               and p not in (base / "home", base / "cwd", base / "home" / ".cache")]
    assert written == []
