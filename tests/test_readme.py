"""Every example of README.md runs as written: each ```python block, and each `sizer ...` line of the sh and
console blocks (in one process, through click's runner, from a folder holding the files the examples name).

Only the fresh-machine lines (`python3 -m venv ... && .venv/bin/sizer ...`) are not run here: they install
the package, which is what .ci/run does (and test_docs checks .ci/run runs them as written).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sizer.cli import cli
from tests.test_importers import moe_meta, moe_tensors, write_gguf

README = Path(__file__).parent.parent / "README.md"
DATA = Path(__file__).parent / "data"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in _BLOCK.findall(README.read_text(encoding="utf-8")) if kind == lang]


def _shell_examples() -> list[str]:
    lines = []
    for body in _blocks("sh"):
        lines += [line for line in body.splitlines() if line.startswith("sizer ")]
    for body in _blocks("console"):
        lines += [line[2:] for line in body.splitlines() if line.startswith("$ sizer ")]
    return lines


def _not_run(line: str) -> bool:
    return line.startswith(("python3 -m venv", ".venv/bin/", "pip install", "ruff ")) or not line.strip()


def test_every_shell_line_is_run_or_named() -> None:
    """No example is left out silently: each line of an sh block is a `sizer` example or one named above."""
    for body in _blocks("sh"):
        for line in body.splitlines():
            assert line.startswith("sizer ") or _not_run(line), line


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples name: ./model.gguf, ./Llama-3.1-8B/, prices.yaml (the README's own overlay
    block), our-gpus/ (an overlay folder)."""
    root = tmp_path_factory.mktemp("readme")
    write_gguf(root / "model.gguf", "qwen3moe", moe_tensors(), moe_meta)
    (root / "Llama-3.1-8B").mkdir()
    shutil.copy(DATA / "hf_configs" / "llama-3.1-8b.json", root / "Llama-3.1-8B" / "config.json")
    (overlay,) = [b for b in _blocks("yaml") if "prices.yaml" in b]
    (root / "prices.yaml").write_text(overlay, encoding="utf-8")
    (root / "our-gpus").mkdir()
    (root / "our-gpus" / "prices.yaml").write_text(overlay, encoding="utf-8")
    return root


@pytest.mark.parametrize("line", _shell_examples(), ids=lambda line: " ".join(shlex.split(line, comments=True))[:80])
def test_shell_example_runs(line: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    args = shlex.split(line, comments=True)
    redirect = None
    if ">" in args:
        at = args.index(">")
        args, redirect = args[:at], args[at + 1]
    assert args[0] == "sizer"
    result = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
    assert result.exit_code == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    assert (result.stdout + result.stderr).strip(), line
    if redirect is not None:
        (workdir / redirect).write_text(result.stdout, encoding="utf-8")


def test_the_overlay_example_is_valid_yaml() -> None:
    (overlay,) = [b for b in _blocks("yaml") if "prices.yaml" in b]
    (entry,) = yaml.safe_load(overlay)
    assert entry["id"] == "nvidia-h100-sxm-80gb" and entry["sources"]


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_example_runs(block: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue()
    assert printed.strip()
    if "model_dump_json" in block:
        assert '"memory"' in printed and '"placement"' in printed
