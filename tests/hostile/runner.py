"""Run `sizer` command lines in this process, each bounded in time; print one JSON line per run.

    python -m tests.hostile.runner < cases.jsonl   (each line: {"name": ..., "argv": [...]})

Used by the hostile-input tests, which start it in a subprocess with an address-space cap
(RLIMIT_AS), so a blow-up kills the runner instead of the test session. Each run gets a wall-clock
budget (SIGALRM); a run that overruns is reported with exit code "timeout".
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

from click.testing import CliRunner


class _Overrun(BaseException):
    """Raised by SIGALRM inside a run that took too long (BaseException: nothing in sizer catches it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Overrun


def main() -> None:
    from sizer.cli import cli

    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    signal.signal(signal.SIGALRM, _alarm)
    for line in sys.stdin:
        case = json.loads(line)
        runner = CliRunner()
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            result = runner.invoke(cli, case["argv"], catch_exceptions=True)
            code: int | str = result.exit_code
            output = result.stdout + result.stderr
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                code, output = "exception", f"{type(result.exception).__name__}: {result.exception}"
        except _Overrun:
            code, output = "timeout", ""
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.monotonic() - start
        print(json.dumps({"name": case["name"], "code": code, "seconds": seconds, "output": output[-2000:]}),
              flush=True)


if __name__ == "__main__":
    main()
