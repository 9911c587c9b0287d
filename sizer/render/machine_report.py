"""Human and machine output of `sizer detect`."""

from __future__ import annotations

from dataclasses import asdict

from sizer.machine.detection import LocalMachine
from sizer.render.formats import render
from sizer.units import format_gib

__all__ = ["render_detect"]


def render_detect(m: LocalMachine, fmt: str) -> str:
    if fmt in ("json", "yaml"):
        return render(asdict(m), fmt)
    gpus = [{"gpu": g.name, "memory": format_gib(g.memory_total_bytes) if g.memory_total_bytes else "?",
             "backend": g.backend, "catalog match": g.catalog_id or "none", "note": g.match_note} for g in m.gpus]
    host = [
        {"field": "CPU", "value": m.cpu_model or "unknown"},
        {"field": "cores / threads", "value": f"{m.cpu_cores_physical or '?'} / {m.cpu_threads or '?'}"},
        {"field": "host RAM", "value": format_gib(m.host_ram_bytes) if m.host_ram_bytes else "unknown"},
        {"field": "RAM available", "value": format_gib(m.host_ram_available_bytes) if m.host_ram_available_bytes
         else "unknown"},
        {"field": "OS", "value": m.os},
        {"field": "unified memory", "value": "yes" if m.unified_memory else "no"},
    ]
    if fmt == "csv":
        return render(gpus or [{"gpu": "none"}], fmt)
    if fmt == "html":  # one page, one table: the host, then each GPU, then the notes
        rows = host + [{"field": f"GPU {i}", "value": f"{g['gpu']} ({g['memory']} GiB, {g['backend']}; catalog: "
                        f"{g['catalog match']})"} for i, g in enumerate(gpus)]
        return render(rows + [{"field": "note", "value": n} for n in m.notes], fmt)
    out = [render(host, fmt)]
    out.append(render(gpus, fmt) if gpus else "No GPU found: sizer sizes for CPU and RAM (llama.cpp on the CPU).\n")
    notes = "".join(f"note: {n}\n" for n in m.notes)
    return "\n".join(out) + ("\n" + notes if notes else "")
