"""The HTML reports in a real browser (Debian's `chromium`, headless): each page loads without an error and
without fetching anything, every chart has drawn marks inside its axes after layout, and the numbers of the
table output are on the page.

The page itself has no script; the test loads a copy with a probe script (tests/data/html_probe.js) put
first in <head>: it records errors from the start, and after the load event measures each axes'
background and each mark (ids `<chart>-ax<i>` and `<chart>-ax<i>-mark<j>`, set by sizer.render.charts)
with getBoundingClientRect, then writes what it found into the DOM that `--dump-dom` prints.

Chromium is installed by .ci/run; in CI (CI=true) a missing browser fails the test, elsewhere it skips.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli

DATA = Path(__file__).parent / "data"

_BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
if _BROWSER is None and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    raise RuntimeError("chromium is missing in CI: .ci/run installs it (apt-get install chromium)")
pytestmark = pytest.mark.skipif(_BROWSER is None, reason="chromium not installed (apt-get install chromium)")

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--window-size=1200,4000", "--hide-scrollbars", "--force-device-scale-factor=1",
          "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]

# the three reports, each with the charts it must draw (and the table command whose numbers it carries)
REPORTS = {
    "fit": (["fit", "llama-3.1-8b-instruct", "--gpu", "rtx4090", "-c", "16k"], {"chart-memory", "chart-context"}),
    "fit-offload": (["fit", "qwen3-235b-a22b", "--gpu", "rtx3090:2", "--ram", "256", "-c", "8k", "-u", "2",
                     "-e", "llama.cpp"], {"chart-memory", "chart-context"}),
    "recommend": (["recommend", "llama-3.1-70b-instruct", "-c", "8k", "--top", "5"], {"chart-price"}),
    "plan": (["plan", "llama-3.1-70b-instruct", "-c", "8k", "--top", "5"], {"chart-plan"}),
    "listing": (["gpus", "list", "--vendor", "amd"], set()),  # a plain table page, no chart
}


def _load(page: str, tmp_path: Path) -> tuple[dict[str, Any], str, str, Path]:
    """Open `page` (with the probe) in chromium: (probe findings, page text after layout, browser log, and a
    screenshot of the same layout)."""
    probe = (DATA / "html_probe.js").read_text(encoding="utf-8")
    path = tmp_path / "page.html"
    path.write_text(page.replace("<head>", f"<head><script>{probe}</script>", 1), encoding="utf-8")
    assert _BROWSER is not None
    done = subprocess.run([_BROWSER, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="sizer-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not run; browser log: {done.stderr[-2000:]}"
    text = html.unescape(re.sub(r"<[^>]+>", " ", done.stdout.replace(found.group(0), "")))
    shot = tmp_path / "page.png"
    subprocess.run([_BROWSER, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    path.as_uri()], capture_output=True, timeout=120, check=True)
    return json.loads(html.unescape(found.group(1))), " ".join(text.split()), done.stderr, shot


def _coloured_pixels(shot: Path, box: dict[str, float]) -> int:
    """Pixels inside `box` (CSS px = screen px at scale 1) whose colour is saturated: drawn marks, not the
    white / grey background, grid or frame."""
    from PIL import Image

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        crop = rgb.crop((int(box["left"]) + 2, int(box["top"]) + 2, int(box["right"]) - 2, int(box["bottom"]) - 2))
        data = crop.tobytes()
    return sum(1 for i in range(0, len(data), 3) if max(data[i:i + 3]) - min(data[i:i + 3]) > 60)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_report_loads_and_draws_every_chart(name: str, run_cli: RunCli, tmp_path: Path) -> None:
    args, charts = REPORTS[name]
    result = run_cli(*args, "--format", "html")
    assert result.exit_code == 0, result.output
    probe, text, log, shot = _load(result.stdout, tmp_path)
    assert probe["errors"] == []
    assert probe["resources"] == [], "the page fetched something"
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", log), log
    assert {c["id"] for c in probe["charts"]} == charts
    for chart in probe["charts"]:
        assert chart["axes"], f"{chart['id']}: no axes found"
        for axes in chart["axes"]:
            assert axes["width"] > 50 and axes["height"] > 50, axes  # laid out, not collapsed
            assert axes["inside"] >= 1, f"{chart['id']} {axes['id']}: no mark drawn inside the axes"
            assert axes["outside"] == 0, f"{chart['id']} {axes['id']}: a mark lies outside its axes"
            # and the browser painted them: coloured pixels inside the axes on the screenshot (a legend inside
            # the axes alone paints ~40; hiding the marks of the fit page leaves 0, 0 and 41 on its three axes)
            assert _coloured_pixels(shot, axes) >= 200, f"{chart['id']} {axes['id']}: nothing painted in the axes"
    table = run_cli(*args, "--format", "table").stdout
    table = re.sub(r"front \(\d+\.\d+ s\)", "", table)  # the search's own run time differs between two runs
    numbers = set(re.findall(r"\$[\d,]+(?:\.\d+)?|\d[\d,]*\.\d+", table))
    assert numbers, "no number found in the table output"
    missing = sorted(n for n in numbers if n not in text)
    assert not missing, f"numbers of the table output missing from the page: {missing}"
