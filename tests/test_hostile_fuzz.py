"""Fuzzing (issue 10): seeded mutants of a YAML overlay, a config.json, a GGUF and a safetensors file go
through the whole command, in a subprocess capped in memory (RLIMIT_AS), each run bounded in time;
and hypothesis draws CLI values (numbers, NaN, infinities, huge counts, odd GPU specs) for `fit` and
`recommend`: every run ends with exit 0, 1 or 2, in bounded time, and JSON output never holds NaN.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizer.cli import cli

REPO = Path(__file__).resolve().parents[1]
MEMORY_CAP = 2_000_000_000


def test_mutated_files_never_crash_hang_or_blow_up(tmp_path: Path) -> None:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {k: v for k, v in os.environ.items() if not k.startswith("SIZER_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "tests.hostile.fuzz", str(tmp_path), "60", "10"],
                          capture_output=True, text=True, env=env, preexec_fn=cap, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    summary, failures = lines[-1], lines[:-1]
    assert failures == [] and summary["bad"] == 0
    assert summary["runs"] == 240
    # the mutants reach past the parsers: some still size a model (exit 0)
    assert any(k.endswith(":0") for k in summary["codes"]), summary


# ------------------------------------------------------------------------- random command-line values
class _Overrun(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Overrun


@pytest.fixture
def bounded() -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _alarm)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _no_nan(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"JSON output holds {name}")

    return json.loads(text, parse_constant=refuse)


def _invoke(argv: list[str], seconds: float = 10.0) -> tuple[int, str, str]:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    except _Overrun:
        raise AssertionError(f"sizer {' '.join(argv)} ran over {seconds} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return result.exit_code, result.stdout, result.stderr


_SPECIAL = ["nan", "NaN", "inf", "-inf", "+inf", "1e309", "-1", "0", "1e-300", "", " ", "1e30", "9" * 400,
            "0x10", "1_000", "١٢", "1e15", "4096", "1025"]
numbers = st.one_of(
    st.sampled_from(_SPECIAL),
    st.integers(min_value=-10, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds(lambda n, s: f"{n}{s}", st.integers(1, 2000), st.sampled_from(["", "k", "K", "M", "B", "T", "G"])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--params", "--layers", "--hidden", "--kv-heads", "--head-dim", "-c", "-u",
                                "--nodes", "--ram", "--ram-bandwidth", "--active"]),
       value=numbers, gpu=st.one_of(st.just("h100"), numbers.map(lambda n: f"h100:{n}")))
def test_fit_with_random_values_exits_cleanly(bounded: None, option: str, value: str, gpu: str) -> None:
    argv = ["fit", "--params", "8B", "--gpu", gpu, option, value, "-f", "json"]
    if option == "--active":
        argv = ["fit", "--params", "1T", "--gpu", gpu, "--nodes", "2", option, value, "-f", "json"]
    code, out, err = _invoke(argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "internal error" not in err
    if code == 0:
        _no_nan(out)
    else:
        assert err.strip()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--budget", "--min-tps", "--max-power", "--years", "--pue", "--kwh-price",
                                "--utilization", "--host-price", "--ram-price", "--max-quality-loss"]),
       value=numbers)
def test_plan_with_random_values_exits_cleanly_and_writes_no_nan(bounded: None, option: str, value: str) -> None:
    argv = ["plan", "llama-3.1-8b", option, value, "-f", "json", "--max-nodes", "1"]
    code, out, err = _invoke(argv, seconds=20.0)
    assert code in (0, 1, 2), (argv, code, err)
    assert "internal error" not in err
    if code == 0:
        _no_nan(out)
    elif code == 2:
        assert option in err or "Error" in err
    if value.strip().lower().lstrip("+-") in ("nan", "inf") or (code == 0 and not math.isfinite(float(value))):
        assert code == 2, (argv, out[:500])


def test_json_output_never_holds_nan_or_infinity() -> None:
    """Issue 10: `plan --pue nan` wrote a bare NaN into JSON. Inputs are now finite, and the renderer
    itself writes null for any non-finite float that would still reach it."""
    from sizer.render.formats import render

    text = render({"a": float("nan"), "b": [1.5, float("inf"), {"c": float("-inf")}], "d": 2}, "json")
    assert _no_nan(text) == {"a": None, "b": [1.5, None, {"c": None}], "d": 2}
