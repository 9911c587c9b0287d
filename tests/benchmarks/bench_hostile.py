"""Benchmark: every hostile case of tests/hostile/cases.py in its own `python -m sizer` process.

    .venv/bin/python tests/benchmarks/bench_hostile.py [--timeout S] [--memory-mb MB]

Each case runs under a fresh HOME and XDG_CACHE_HOME, with a wall-clock timeout (default 10 s) and
an address-space cap (RLIMIT_AS, default 2000 MB). Prints per case: exit code (`kill` when the
timeout or the cap ended it), wall time, peak resident memory (ru_maxrss of that process), and
whether the exit is one the case accepts. At the end, lists every file created outside the
folder of the case files and sizer's cache folder. Figures are printed, never asserted (STYLE 8.7).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.hostile.cases import CASES, write_files  # noqa: E402


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float, memory: int) -> tuple[str, float, float, str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "sizer", *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd, preexec_fn=limit)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = 0  # reaped by wait4
        elapsed = time.monotonic() - start
        code = str(os.waitstatus_to_exitcode(status))
        if code.startswith("-"):
            code = "kill"
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return code, elapsed, usage.ru_maxrss / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--memory-mb", type=int, default=2000)
    parser.add_argument("-k", default="", help="only cases whose name holds this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        files, home, work = base / "files", base / "home", base / "cwd"
        write_files(files)
        home.mkdir()
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIZER_", "XDG_"))}
        env |= {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(ROOT)}
        print(f"{'case':<48} {'exit':>4} {'time s':>7} {'peak MB':>8}  ok")
        for case in CASES:
            if args.k not in case.name:
                continue
            argv = [a.replace("{dir}", str(files)) for a in case.argv]
            code, elapsed, peak, text = run(argv, env, work, args.timeout, args.memory_mb * 2**20)
            ok = code.isdigit() and int(code) in case.codes and case.says.lower() in text.lower()
            print(f"{case.name[:48]:<48} {code:>4} {elapsed:7.2f} {peak:8.0f}  {'yes' if ok else 'NO'}")
            if not ok:
                last = " | ".join(text.strip().splitlines()[-2:])[:200]
                print(f"    -> {last}")
        created = [p for p in sorted(base.rglob("*")) if not p.is_relative_to(files)
                   and not p.is_relative_to(home / ".cache" / "sizer") and p not in (home, work, home / ".cache")]
        print("files created outside the cache folder:", [str(p.relative_to(base)) for p in created] or "none")


if __name__ == "__main__":
    main()
