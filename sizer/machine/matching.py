"""Match a GPU name as a driver reports it to a catalog accelerator id (private helper of `sizer.detect`).

Drivers spell names their own way ("NVIDIA GeForce RTX 4090", "NVIDIA H100 80GB HBM3", "Apple M3 Ultra",
"AMD Instinct MI300X OAM"); sysfs only gives AMD PCI device ids. This module turns those into names the
catalog resolver understands, tries them from the most specific to the least, and checks the reported
memory size against the entry's `memory_gib_usable` so a wrong variant is flagged, not silently used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sizer.errors import SizerError

__all__ = ["AcceleratorLookup", "Match", "amd_name_from_pci", "lookup_errors", "match_accelerator"]

GIB = 2**30

# AMD PCI device id -> (VRAM GiB, catalog name) choices, told apart by VRAM size. Source: the PCI ID
# repository, https://pci-ids.ucw.cz/read/PC/1002 (ids marked * were checked against the Debian `pci.ids`
# snapshot 2023.04.10; the others are newer than that snapshot and come from the online repository).
# Navi 31 0x744c is one id for RX 7900 XTX (24 GB), XT (20 GB) and GRE (16 GB): VRAM decides.
# Not mapped on purpose: 0x740c MI250X/MI250 (each GCD is its own 64 GB device, the catalog entry is the
# 128 GB package), 0x73bf Navi 21 (RX 6800, 6800 XT and 6900 XT all have 16 GB and one id).
AMD_PCI_SOURCE = "https://pci-ids.ucw.cz/read/PC/1002"
_AMD_PCI: dict[int, tuple[tuple[int | None, str], ...]] = {
    0x738C: ((32, "Instinct MI100"),),  # *
    0x740F: ((64, "Instinct MI210"),),  # *
    0x74A0: ((None, "Instinct MI300A"),),
    0x74A1: ((192, "Instinct MI300X"),),
    0x74A5: ((256, "Instinct MI325X"),),
    0x73AF: ((16, "Radeon RX 6900 XT"),),  # *
    0x744C: ((24, "Radeon RX 7900 XTX"), (20, "Radeon RX 7900 XT"), (16, "Radeon RX 7900 GRE")),  # *
    0x7448: ((48, "Radeon PRO W7900"),),
    0x747E: ((16, "Radeon RX 7800 XT"), (12, "Radeon RX 7700 XT")),
    0x7551: ((32, "Radeon AI PRO R9700"),),
}
# Integrated GPUs of desktop/laptop Ryzen CPUs (*): a few hundred MB carve-out, not a place for a model.
_AMD_INTEGRATED = {0x164E: "Raphael", 0x15BF: "Phoenix1", 0x1681: "Rembrandt"}

# Driver names that do not say what the catalog calls the part (after dropping the vendor word).
_NAME_FIXES: dict[str, str] = {
    "h100 80gb hbm3": "H100 SXM 80GB",  # the SXM5 board; the PCIe card reports "H100 PCIe", NVL "H100 NVL"
    "h100 pcie": "H100 PCIe 80GB",
    "h800": "H800 SXM 80GB",
    "h200": "H200 SXM 141GB",  # the SXM board; the NVL card reports "H200 NVL"
    "a100 80gb pcie": "A100 PCIe 80GB",
    "gh200 144g hbm3e": "GH200 144GB",
}
_VENDOR_WORDS = re.compile(r"^(nvidia|amd|apple|intel|geforce|tesla|quadro)\s+", re.IGNORECASE)
_NOISE = re.compile(r"\b(hbm2e?|hbm3e?|oam|graphics)\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z]+|[0-9]+")
_VENDOR_TOKENS = frozenset({"nvidia", "amd", "apple", "intel"})
_HAS_SIZE = re.compile(r"\d+\s*g(i)?b\b", re.IGNORECASE)


class AcceleratorLookup(Protocol):
    """What this module needs from `sizer.catalog.loading.Catalog`."""

    def accelerator(self, name: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Match:
    catalog_id: str | None
    note: str


def amd_name_from_pci(device_id: int, vram_bytes: int | None) -> tuple[str | None, str]:
    """Catalog name for an AMD PCI device id (by VRAM where one id covers several cards), and a note."""
    if device_id in _AMD_INTEGRATED:
        return None, f"integrated GPU ({_AMD_INTEGRATED[device_id]}, 0x{device_id:04x}); not counted"
    choices = _AMD_PCI.get(device_id)
    if not choices:
        return None, f"AMD device 0x{device_id:04x} is not in sizer's PCI id table ({AMD_PCI_SOURCE})"
    if len(choices) == 1:
        return choices[0][1], f"AMD device 0x{device_id:04x} is {choices[0][1]}"
    if vram_bytes is None:
        return (
            None,
            f"AMD device 0x{device_id:04x} is one of {', '.join(n for _, n in choices)}; VRAM unknown",
        )
    gib = vram_bytes / GIB
    _, name = min(choices, key=lambda c: abs((c[0] or 0) - gib))
    return name, f"AMD device 0x{device_id:04x} with {gib:.1f} GiB VRAM is {name}"


def _strip_vendor(name: str) -> str:
    text = " ".join(name.replace("-", " ").replace("_", " ").split())
    while True:
        stripped = _VENDOR_WORDS.sub("", text)
        if stripped == text:
            return text
        text = stripped


def _candidates(name: str, memory_bytes: int | None) -> Iterator[str]:
    """Names to try, most specific first (the driver's own spelling last)."""
    base = _strip_vendor(name)
    fixed = _NAME_FIXES.get(base.lower())
    if fixed:
        yield fixed
    cleaned = " ".join(_NOISE.sub(" ", base).split())
    # sizes tell discrete variants apart; Apple entries carry their largest configuration, so not for them
    if memory_bytes and not _HAS_SIZE.search(cleaned) and not name.lower().startswith("apple"):
        yield f"{cleaned} {round(memory_bytes / GIB)}GB"
    yield cleaned
    yield re.sub(r"^(nvidia|amd|apple|intel)\s+", "", name.strip(), flags=re.IGNORECASE)
    yield name.strip()


def lookup_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "no such entry" (UnknownNameError, AmbiguousNameError, ...)."""
    return (SizerError, LookupError, ValueError)


def _memory_check(entry: Any, memory_bytes: int | None) -> tuple[bool, str]:
    """Does the reported size fit this entry? A "24 GB" label may mean 24 GiB of chips or 24e9 bytes,
    and drivers keep a little back, so both readings of the label and the usable figure bound the range."""
    usable_gib = getattr(entry, "memory_gib_usable", None)
    if memory_bytes is None or not usable_gib:
        return True, "memory size not checked"
    marketed_gb = getattr(entry, "memory_gb_marketed", None) or usable_gib
    low_gib = min(usable_gib, marketed_gb * 1e9 / GIB) * 0.92
    high_gib = max(usable_gib, marketed_gb) * 1.04
    gib = memory_bytes / GIB
    said = f"{gib:.1f} GiB reported, catalog {usable_gib:g} GiB usable"
    if getattr(entry, "unified_memory", False):
        if gib > high_gib:
            return False, f"{said}: more than the catalog entry; check the match"
        if gib < low_gib:
            return True, f"{said}: a smaller configuration of this chip (the pool is this machine's RAM)"
        return True, said
    if low_gib <= gib <= high_gib:
        return True, said
    return False, f"{said}: memory size does not match; another variant or a modified card?"


def _extra_tokens(entry_id: str, query: str) -> int:
    """How many words of an id the query did not ask for ("rtx 3090 24gb" vs ...-3090-ti-24gb: 1)."""
    return len(set(_TOKEN.findall(entry_id.lower())) - set(_TOKEN.findall(query.lower())) - _VENDOR_TOKENS)


def match_accelerator(catalog: AcceleratorLookup | None, name: str, memory_bytes: int | None) -> Match:
    """Catalog id for a driver-reported GPU name; `catalog_id` is None (with the reason) when nothing fits.

    Each candidate name goes to `catalog.accelerator()`, most specific first. The first candidate that
    resolves to one entry whose memory agrees wins. Otherwise the entries an ambiguous name could mean
    (`AmbiguousNameError.candidates`) are filtered by memory and the one with the fewest words the driver
    name did not mention is taken. Failing both: the first entry found at all, noting that memory differs.
    """
    if catalog is None:
        return Match(None, "catalog not available; no match attempted")
    errors = lookup_errors()
    tried: list[str] = []
    ambiguous: list[tuple[Any, str, str]] = []  # (entry, candidate, memory note), memory agrees
    fallback: tuple[Any, str, str] | None = None
    for candidate in dict.fromkeys(_candidates(name, memory_bytes)):
        tried.append(candidate)
        try:
            entry = catalog.accelerator(candidate)
        except errors as exc:
            for other in getattr(exc, "candidates", None) or ():
                try:
                    option = catalog.accelerator(str(other))
                except errors:
                    continue  # "... (3 more)" and the like
                ok, said = _memory_check(option, memory_bytes)
                if ok:
                    ambiguous.append((option, candidate, said))
            continue
        ok, said = _memory_check(entry, memory_bytes)
        if ok:
            return _found(name, entry, candidate, said)
        fallback = fallback or (entry, candidate, said)
    if ambiguous:
        entry, candidate, said = min(ambiguous, key=lambda e: _extra_tokens(str(e[0].id), e[1]))
        return _found(name, entry, candidate, said + "; chosen among several entries")
    if fallback is not None:
        return _found(name, *fallback)
    return Match(None, f"no catalog entry for {name!r} (tried {', '.join(repr(t) for t in tried)})")


def _found(name: str, entry: Any, candidate: str, said: str) -> Match:
    return Match(str(entry.id), f"{name!r} -> {entry.id} (as {candidate!r}; {said})")
