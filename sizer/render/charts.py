"""Charts of the HTML report, drawn by matplotlib's SVG backend (the `sizer[html]` extra).

Every chart is one inline SVG string, deterministic for the same input: a fixed hash salt per chart
(so clip-path ids differ between the charts of one page and never change between runs), no date in
the metadata, text kept as text (`svg.fonttype: none`; small, selectable, printable). Each axes'
background carries the id `<chart>-ax<i>` and each drawn mark `<chart>-ax<i>-mark<j>`, so a test can
check after layout that every chart drew marks inside its axes.

Input is plain data (the JSON of a result, as `render` produces it): charts never compute a figure,
they draw the ones the result carries.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sizer.errors import InputError
from sizer.render.html_page import EXTRA_MISSING

__all__ = ["context_chart", "curve_chart", "memory_chart", "plan_chart", "price_speed_chart"]

_GIB = 2**30
# colours: Okabe-Ito (readable for colour-blind people), then greys for what is not a part of the model
_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
_WEIGHTS, _KV, _ACT, _OVH, _FREE = "#0072B2", "#D55E00", "#CC79A7", "#999999", "#E6E6E6"
_CLASS_COLOURS = ["#56B4E9", "#E69F00", "#009E73", "#F0E442", "#7F5FA8", "#8C564B", "#1B9E77", "#BCBD22", "#17BECF"]
_STYLE = {
    "svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.facecolor": "#FCFCFC", "axes.grid": True,
    "grid.color": "#E3E3E3", "grid.linewidth": 0.6, "axes.axisbelow": True, "legend.frameon": False,
}


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise InputError(EXTRA_MISSING) from None
    return matplotlib


@contextmanager
def _figure(name: str, width_in: float, height_in: float, ncols: int = 1,
            width_ratios: Sequence[float] | None = None) -> Iterator[tuple[Any, list[Any]]]:
    """A matplotlib Figure (no pyplot, no global state) under the house style and a salt named after the chart."""
    mpl = _matplotlib()
    from matplotlib.figure import Figure

    with mpl.rc_context({**_STYLE, "svg.hashsalt": f"sizer-{name}"}):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(1, ncols, width_ratios=width_ratios, squeeze=False)[0].tolist()
        for i, ax in enumerate(axes):
            ax.patch.set_gid(f"{name}-ax{i}")
        yield fig, axes


def _svg(fig: Any, name: str) -> str:
    mpl = _matplotlib()
    with mpl.rc_context({**_STYLE, "svg.hashsalt": f"sizer-{name}"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "sizer"})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # inline in HTML: no XML declaration or DOCTYPE
    # matplotlib numbers its groups per figure (figure_1, axes_1, patch_1...): prefix them with the chart's
    # name so two charts on one page never share an id (nothing refers to these ids)
    return _AUTO_ID.sub(lambda m: f'<g id="{name}-{m.group(1)}"', text)


_AUTO_ID = re.compile(r'<g id="([A-Za-z][\w.]*_\d+)"')


def _mark(artists: Any, name: str, axes_index: int, counter: list[int]) -> None:
    for artist in artists if isinstance(artists, list) else [artists]:
        artist.set_gid(f"{name}-ax{axes_index}-mark{counter[0]}")
        counter[0] += 1


def _gib(n: float) -> float:
    return n / _GIB


def memory_chart(fit: Mapping[str, Any]) -> str:
    """Left: the model's weights by tensor class (one stacked bar). Right: each device's memory, stacked
    weights / KV cache / activations / overhead / free up to its capacity; host RAM its own (hatched) bar."""
    name = "memory"
    devices = fit.get("placement") or []
    classes = [(k, v) for k, v in fit["memory"]["weights_by_class"].items() if v]
    width = min(11.0, 5.0 + 0.45 * len(devices))
    ratios = [1.0, max(len(devices), 2) * 0.8] if devices else [1.0]
    legend: dict[str, Any] = {}
    with _figure(name, width, 4.0, ncols=2 if devices else 1, width_ratios=ratios) as (fig, axes):
        ax, count, bottom = axes[0], [0], 0.0
        for i, (cls, size) in enumerate(classes):
            bars = ax.bar([0], [_gib(size)], bottom=[bottom], width=0.6, color=_CLASS_COLOURS[i % len(_CLASS_COLOURS)])
            legend[f"weights: {cls.replace('_', ' ')}"] = bars
            _mark(list(bars), name, 0, count)
            bottom += _gib(size)
        ax.set_xticks([0], ["model"])
        ax.set_xlim(-0.6, 0.6)
        ax.set_ylabel("weights (GiB)")
        ax.set_title("weights by class", fontsize=9)
        if devices:
            ax, count = axes[1], [0]
            labels = []
            for x, d in enumerate(devices):
                host = d["kind"] == "host_ram"
                labels.append("host RAM" if host else f"{d['index']}: {d['device']}"[:24])
                parts = [("weights (on device)", d["weights_bytes"], _WEIGHTS), ("KV cache", d["kv_cache_bytes"], _KV),
                         ("activations", d.get("activations_bytes", 0), _ACT),
                         ("overhead", d.get("overhead_bytes", 0), _OVH), ("free", max(d["free_bytes"], 0), _FREE)]
                bottom = 0.0
                for label, size, colour in parts:
                    if size <= 0:
                        continue
                    bars = ax.bar([x], [_gib(size)], bottom=[bottom], width=0.65, color=colour,
                                  hatch="///" if host else None, edgecolor="white", linewidth=0.4)
                    legend.setdefault(label, bars)
                    _mark(list(bars), name, 1, count)
                    bottom += _gib(size)
                cap = _gib(d["capacity_bytes"])
                legend.setdefault("capacity", ax.plot([x - 0.4, x + 0.4], [cap, cap], color="#000000", linewidth=1.4)[0])
            many = len(devices) > 3
            ax.set_xticks(range(len(devices)), labels, rotation=35 if many else 0, ha="right" if many else "center",
                          fontsize=7)
            ax.set_ylabel("memory (GiB)")
            ax.set_title("per device (host RAM hatched)", fontsize=9)
        fig.legend(list(legend.values()), list(legend.keys()), loc="outside lower center", ncols=4, fontsize=7)
        return _svg(fig, name)


def context_chart(points: Sequence[Mapping[str, Any]], requested_context: int, users: int) -> str:
    """Decode tokens/s (one sequence, and each of --users) against the context already filled; hollow
    markers where that context no longer fits."""
    name = "context"
    with _figure(name, 6.4, 3.2) as (fig, axes):
        ax, count = axes[0], [0]
        xs = [p["context_tokens"] for p in points]
        series = [("decode_tokens_per_s", "one sequence", _PALETTE[0])]
        if users > 1:
            series.append(("per_user_decode_tokens_per_s", f"each of {users} users", _PALETTE[1]))
        for key, label, colour in series:
            _mark(ax.plot(xs, [p[key] for p in points], color=colour, linewidth=1.3, label=label), name, 0, count)
            for fits, face in ((True, colour), (False, "white")):
                chosen = [p for p in points if bool(p.get("fits", True)) is fits]
                if chosen:
                    _mark(ax.scatter([p["context_tokens"] for p in chosen], [p[key] for p in chosen], s=16,
                                     facecolors=face, edgecolors=colour, zorder=3,
                                     label=None if fits else "does not fit"), name, 0, count)
        ax.axvline(requested_context, color="#555555", linestyle="--", linewidth=0.8,
                   label=f"requested context ({requested_context:,})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("context filled (tokens, log scale)")
        ax.set_ylabel("decode (tokens/s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="lower left")
        return _svg(fig, name)


def curve_chart(curve: Sequence[Mapping[str, Any]]) -> str:
    """The serving curve: tokens/s per user and all users together against concurrent users."""
    name = "curve"
    with _figure(name, 7.6, 3.0, ncols=2) as (fig, axes):
        users = [p["users"] for p in curve]
        for i, (key, title, colour) in enumerate([("per_user_decode_tokens_per_s", "per user", _PALETTE[0]),
                                                  ("aggregate_decode_tokens_per_s", "all users", _PALETTE[2])]):
            ax, count = axes[i], [0]
            line = ax.plot(users, [p[key] for p in curve], color=colour, linewidth=1.2)
            _mark(line, name, i, count)
            fits = [p for p in curve if p.get("fits", True)]
            short = [p for p in curve if not p.get("fits", True)]
            if fits:
                _mark(ax.scatter([p["users"] for p in fits], [p[key] for p in fits], s=14, color=colour,
                                 label="fits", zorder=3), name, i, count)
            if short:
                _mark(ax.scatter([p["users"] for p in short], [p[key] for p in short], s=14, facecolors="white",
                                 edgecolors=colour, label="does not fit", zorder=3), name, i, count)
            ax.set_xscale("log", base=2) if max(users) / max(min(users), 1) >= 8 else None
            ax.set_xlabel("concurrent users")
            ax.set_ylabel(f"decode {title} (tokens/s)")
            ax.set_ylim(bottom=0)
            ax.set_title(f"decode tokens/s {title}", fontsize=9)
            if short:
                ax.legend(fontsize=7)
        return _svg(fig, name)


def price_speed_chart(rec: Mapping[str, Any]) -> str:
    """Capital cost against per-user decode speed for every configuration that fits; the Pareto front
    marked, the ranked ones labelled `#n`, the dominated ones faded."""
    name = "price"
    points = [p for p in rec.get("configurations", []) if p.get("capex_usd") is not None]
    if not points:
        points = [{"capex_usd": r["cost"]["capex_usd"], "per_user_decode_tokens_per_s": r["per_user_decode_tokens_per_s"],
                   "pareto": True, "rank": r["rank"]} for r in rec["recommendations"] if r["cost"]["capex_usd"] is not None]
    with _figure(name, 7.2, 4.2) as (fig, axes):
        ax, count = axes[0], [0]
        faded = [p for p in points if not p["pareto"]]
        front = [p for p in points if p["pareto"]]
        if faded:
            _mark(ax.scatter([p["capex_usd"] for p in faded], [p["per_user_decode_tokens_per_s"] for p in faded],
                             s=16, color="#9A9A9A", alpha=0.35, linewidths=0, label="fits, dominated"), name, 0, count)
        if front:
            _mark(ax.scatter([p["capex_usd"] for p in front], [p["per_user_decode_tokens_per_s"] for p in front],
                             s=30, color=_PALETTE[0], edgecolors="white", linewidths=0.6, zorder=3,
                             label="Pareto front (price, speed, quality loss)"), name, 0, count)
        for p in points:
            if p.get("rank"):
                ax.annotate(f"#{p['rank']}", (p["capex_usd"], p["per_user_decode_tokens_per_s"]), fontsize=7,
                            xytext=(4, 3), textcoords="offset points", color="#003A5C")
        prices = [p["capex_usd"] for p in points]
        if prices and max(prices) / max(min(prices), 1.0) > 20:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_usd_formatter())
        ax.set_xlabel("capital cost (USD" + (", log scale)" if ax.get_xscale() == "log" else ")"))
        ax.set_ylabel("decode per user (tokens/s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper left")
        return _svg(fig, name)


def _usd_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    def usd(value: float, _pos: int) -> str:
        if value >= 1e6:
            return f"${value / 1e6:g}M"
        return f"${value / 1e3:g}k" if value >= 1e3 else f"${value:g}"

    return FuncFormatter(usd)


def _cost_parts(cost: Mapping[str, Any]) -> dict[str, float]:
    """The capital cost split as the result gives it, the rest of the capex (a system sold whole), and the
    energy over the period."""
    parts = {"GPUs": float(cost.get("gpus_usd") or 0.0), "host": float(cost.get("host_usd") or 0.0),
             "extra RAM": float(cost.get("ram_usd") or 0.0)}
    parts["system (sold whole)"] = max(float(cost["capex_usd"]) - sum(parts.values()), 0.0)
    parts["energy"] = float(cost.get("energy_usd_per_year") or 0.0) * float(cost["years"])
    return parts


def plan_chart(rec: Mapping[str, Any]) -> str:
    """Left: capital cost (GPUs, host, RAM) and energy over the period, per configuration. Right: USD per
    million generated tokens."""
    name = "plan"
    rows = [r for r in rec["recommendations"] if r["cost"]["capex_usd"] is not None]
    labels = [f"#{r['rank']}" for r in rows]
    height = 1.6 + 0.32 * max(len(rows), 1)
    with _figure(name, 8.4, height, ncols=2, width_ratios=[1.6, 1.0]) as (fig, axes):
        ax, count = axes[0], [0]
        y = list(range(len(rows)))
        left = [0.0] * len(rows)
        years = rows[0]["cost"]["years"] if rows else 3
        split = [_cost_parts(r["cost"]) for r in rows]
        colours = [_PALETTE[0], _PALETTE[4], _PALETTE[1], _PALETTE[2], _PALETTE[5]]
        for i, label in enumerate(["GPUs", "host", "extra RAM", "system (sold whole)", "energy"]):
            widths = [parts[label] for parts in split]
            if sum(widths) > 0:
                shown = f"energy over {years:g} years" if label == "energy" else label
                bars = ax.barh(y, widths, left=left, color=colours[i], height=0.6, label=shown)
                _mark(list(bars), name, 0, count)
                left = [a + b for a, b in zip(left, widths, strict=True)]
        for i, r in enumerate(rows):
            if r["cost"].get("energy_usd_per_year") is None:  # no power figure: the energy is not drawn
                ax.annotate("energy unknown", (left[i], i), xytext=(3, 0), textcoords="offset points", va="center",
                            fontsize=7, color="#5f6368")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(_usd_formatter())
        ax.set_xlabel(f"cost of ownership over {years:g} years (USD)")
        ax.set_ylabel("configuration (rank)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=7)
        ax, count = axes[1], [0]
        per_m = [r["cost"]["usd_per_million_tokens"] for r in rows]
        known = [(i, v) for i, v in enumerate(per_m) if v is not None]
        if known:
            bars = ax.barh([i for i, _ in known], [v for _, v in known], color=_PALETTE[3], height=0.6)
            _mark(list(bars), name, 1, count)
            if max(v for _, v in known) / max(min(v for _, v in known), 1e-9) > 50:
                ax.set_xscale("log")
        for i, v in enumerate(per_m):
            if v is None:
                ax.annotate("unknown", (0, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7,
                            color="#5f6368")
        ax.set_yticks(y, labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("USD per million tokens" + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_title("at the aggregate decode throughput", fontsize=8)
        return _svg(fig, name)
