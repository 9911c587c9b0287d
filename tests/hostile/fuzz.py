"""Seeded mutation fuzzing of the readers sizer exposes to files: YAML overlays, config.json, GGUF and
safetensors. Each mutant goes through the whole command (`sizer catalog validate` or `sizer fit`), in
this process, each run bounded by SIGALRM; prints one JSON line per run that did not end cleanly
(exit 0, 1 or 2 without "internal error"), then a summary line.

    python -m tests.hostile.fuzz FOLDER [MUTANTS_PER_FORMAT] [SEED]

Started by tests/test_hostile_fuzz.py in a subprocess under RLIMIT_AS.
"""

from __future__ import annotations

import json
import random
import signal
import struct
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.hostile.cases import LLAMA_CONFIG, _gguf

OVERLAY = """\
- id: nvidia-h100-sxm-80gb
  memory_gib_usable: 79.1
  sources: [https://example.com/h100]
- id: my-card
  kind: accelerator
  name: My Card
  vendor: nvidia
  memory_gb_marketed: 24
  memory_gib_usable: 22.5
  usable_memory_basis: estimated
  memory_bandwidth_gb_s: 1000
  sources: [https://example.com/card]
"""
_INTERESTING = [b"0", b"-1", b"1e300", b"9" * 30, b"nan", b".inf", b"&a", b"*a", b"!!python/object", b"\x00",
                b"[", b"{", b"}", b"]", b":", b"- ", b"\n", b'"', b"4294967296", b"18446744073709551615"]


class _Overrun(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Overrun


def mutate(data: bytes, rng: random.Random, header: int | None = None) -> bytes:
    """One to four edits: flip a byte, splice an interesting token, cut, duplicate a slice, or write a
    random 32/64-bit integer; edits land in the first `header` bytes when given."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        limit = max(1, min(len(out), header or len(out)))
        at = rng.randrange(limit)
        kind = rng.randrange(6)
        if kind == 0:
            out[at] = rng.randrange(256)
        elif kind == 1:
            token = rng.choice(_INTERESTING)
            out[at:at + rng.randint(0, 4)] = token
        elif kind == 2:
            del out[rng.randrange(limit):]
        elif kind == 3:
            end = min(len(out), at + rng.randint(1, 64))
            out[at:at] = out[at:end] * rng.randint(1, 8)
        elif kind == 4:
            out[at:at + 4] = struct.pack("<I", rng.choice([0, 1, 2**31 - 1, 2**32 - 1, rng.randrange(2**32)]))
        else:
            out[at:at + 8] = struct.pack("<Q", rng.choice([0, 2**40, 2**63 - 1, 2**64 - 1, rng.randrange(2**64)]))
    return bytes(out)


_VALUES: list[Any] = [0, -1, 1, 2, 3, 1.5, 1e300, -1e300, 2**40, 2**64, 10**9, "x", "", None, [], {}, True, [0]]


def mutate_config(config: dict[str, Any], rng: random.Random) -> bytes:
    """config.json with one to three of its values replaced by an odd one (a structured mutation:
    it stays valid JSON, so it reaches the importer's arithmetic and the schema)."""
    out = dict(config)
    for _ in range(rng.randint(1, 3)):
        out[rng.choice(sorted(out))] = rng.choice(_VALUES)
    return json.dumps(out).encode()


def seeds(folder: Path) -> dict[str, tuple[Path, bytes, int | None, list[str]]]:
    """format -> (path to write mutants to, seed bytes, header bytes to mutate, command line)."""
    folder.mkdir(parents=True, exist_ok=True)
    _gguf(folder / "seed.gguf", block_count=2)
    gguf = (folder / "seed.gguf").read_bytes()
    header = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "__metadata__": {"format": "pt"}}
    raw = json.dumps(header).encode()
    safetensors = struct.pack("<Q", len(raw)) + raw + bytes(16)
    (folder / "st").mkdir(exist_ok=True)
    (folder / "st" / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    (folder / "cfg").mkdir(exist_ok=True)
    return {
        "yaml": (folder / "overlay.yaml", OVERLAY.encode(), None, ["catalog", "validate", str(folder / "overlay.yaml")]),
        "config.json": (folder / "cfg" / "config.json", json.dumps(LLAMA_CONFIG, indent=1).encode(), None,
                        ["fit", str(folder / "cfg" / "config.json"), "--gpu", "h100", "-f", "json"]),
        "gguf": (folder / "m.gguf", gguf, 1200, ["fit", str(folder / "m.gguf"), "--gpu", "h100", "-f", "json"]),
        "safetensors": (folder / "st" / "model.safetensors", safetensors, None,
                        ["fit", str(folder / "st" / "model.safetensors"), "--gpu", "h100", "-f", "json"]),
    }


def main() -> None:
    from sizer.cli import cli

    folder = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 10)
    signal.signal(signal.SIGALRM, _alarm)
    runs = bad = 0
    codes: dict[str, int] = {}
    for name, (path, data, header, argv) in seeds(folder).items():
        for i in range(count):
            if name == "config.json" and i % 2:
                mutant = mutate_config(LLAMA_CONFIG, rng)
            else:
                mutant = mutate(data, rng, header)
            path.write_bytes(mutant)
            signal.setitimer(signal.ITIMER_REAL, 5.0)
            try:
                result = CliRunner().invoke(cli, argv, catch_exceptions=True)
                code: Any = result.exit_code
                text = result.stdout + result.stderr
                if result.exception is not None and not isinstance(result.exception, SystemExit):
                    code, text = "exception", repr(result.exception)
            except _Overrun:
                code, text = "timeout", ""
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            runs += 1
            codes[f"{name}:{code}"] = codes.get(f"{name}:{code}", 0) + 1
            if code not in (0, 1, 2) or "internal error" in text:
                bad += 1
                print(json.dumps({"format": name, "mutant": i, "code": code, "output": text[-500:],
                                  "bytes": mutant[:2000].hex()}), flush=True)
    print(json.dumps({"runs": runs, "bad": bad, "codes": codes}), flush=True)


if __name__ == "__main__":
    main()
