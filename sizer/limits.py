"""Upper bounds on what a user or a file may claim, and the one way sizer opens an input file.

Every number a user types or a file supplies is checked once, where it enters (option parsing,
raw counts, the config/GGUF/safetensors importers, the catalog schema), against a physical upper
bound far above any real model or machine, so a typo or a hostile file cannot make sizer loop a
billion times or allocate terabytes. The bounds, with the largest real value each was set against:

- parameters 10^15 (largest open-weight models ~2 x 10^12);
- layers 4,096 (Llama 3.1 405B: 126);
- hidden size and other widths 2^20 (Llama 3.1 405B: 16,384; FFN widths up to ~53k);
- heads 2^14 (128 at most), head dimension 2^14 (MLA latent 576);
- experts 2^16 (Kimi K2: 384), vocabulary 2^24 (Gemma 3: 262,144);
- context 2^30 tokens (Llama 4 Scout: 10M), concurrent sequences 2^20;
- accelerators 1,024 per node (an NVL576 domain: 576), 1,024 nodes, and 4,096 devices in all: a
  placement lists every device, so this bound keeps `fit` under ~2.5 s (tests/benchmarks/bench_hostile.py).

`read_regular_file` opens without following a FIFO or device (O_NONBLOCK, then fstat) and reads
at most a given number of bytes: a FIFO, /dev/zero or a folder given as a file is refused at once.
"""

from __future__ import annotations

import errno
import gc
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "MAX_CONFIG_INTEGER",
    "MAX_CONTEXT_TOKENS",
    "MAX_DEVICES",
    "MAX_EXPERTS",
    "MAX_GPUS_PER_NODE",
    "MAX_HEADS",
    "MAX_HEAD_DIM",
    "MAX_LAYERS",
    "MAX_NODES",
    "MAX_PARAMS",
    "MAX_USERS",
    "MAX_VOCAB",
    "MAX_WIDTH",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "no_garbage_collection",
    "open_regular",
    "read_regular_file",
]

MAX_PARAMS = 10**15
MAX_LAYERS = 4096
MAX_WIDTH = 2**20
MAX_HEADS = 2**14
MAX_HEAD_DIM = 2**14
MAX_EXPERTS = 2**16
MAX_VOCAB = 2**24
MAX_CONTEXT_TOKENS = 2**30
MAX_USERS = 2**20
MAX_GPUS_PER_NODE = 1024
MAX_DEVICES = 4096
MAX_NODES = 1024
MAX_CONFIG_INTEGER = 2**40  # any integer of a config.json, before the schema's bound for its field
MAX_YAML_BYTES = 8 << 20  # the largest built-in catalog file is ~90 KiB
MAX_YAML_NODES = 250_000  # values built, aliases counted each time they are used (largest built-in file: ~3k)


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of a regular file; OSError (with a strerror that says why) for anything
    else. Opening never blocks (O_NONBLOCK: a FIFO with no writer opens at once and is refused)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
            raise OSError(errno.EINVAL, f"not a regular file ({kind})", os.fspath(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; OSError otherwise (see `open_regular`)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(fd).st_size
        data = handle.read(min(size, limit) + 1) if size <= limit else b""
        if size > limit or len(data) > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes: not a file sizer reads", os.fspath(path))
    return data


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """Parsing a large document (JSON, YAML) allocates millions of objects and frees none; the cyclic
    collector's passes then cost time that grows with the document (a 15 MB safetensors header: 2.5 s
    with them, 0.5 s without). Off for the parse, back on after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
