"""Whether an engine runs a format on an accelerator: platform, then the engine's documented limits."""

from __future__ import annotations

from sizer.schema import Accelerator, Engine

__all__ = ["engine_limit", "platform_limit", "platforms_of"]


def platforms_of(acc: Accelerator) -> frozenset[str]:
    """Engine platforms an accelerator runs (engines.yaml `platforms`). Gaudi is its own platform (hpu):
    vLLM's `xpu` means Intel's Arc and Data Center GPU Max, not Gaudi."""
    if "gaudi" in acc.architecture.lower() or "gaudi" in acc.name.lower():
        return frozenset({"hpu"})
    return frozenset({
        "nvidia": ("cuda", "vulkan"), "amd": ("rocm", "vulkan"), "apple": ("metal",), "intel": ("xpu", "vulkan"),
        "huawei": ("npu",), "google": ("tpu",),
    }.get(acc.vendor.lower(), ()))


def _capability(acc: Accelerator) -> tuple[int, ...] | None:
    if not acc.compute_capability:
        return None
    return tuple(int(x) for x in acc.compute_capability.split("."))


def engine_limit(engine: Engine, acc: Accelerator, quant_id: str) -> str | None:
    """None when `engine` runs `quant_id` on `acc`; otherwise the reason it does not."""
    if not platforms_of(acc) & set(engine.platforms):
        return f"{engine.name} does not run on {acc.name}"
    cc = _capability(acc)
    for limit in engine.limits:
        below = limit.compute_capability_below
        applies = acc.id in limit.accelerators or bool(platforms_of(acc) & set(limit.platforms)) or (
            below is not None and cc is not None and cc < tuple(int(x) for x in below.split(".")))
        if not applies:
            continue
        blocked = quant_id in limit.quants if limit.quants is not None else quant_id not in limit.except_quants
        if blocked:
            return f"{engine.name} on {acc.name}: {limit.reason} ({limit.source})"
    return None


def platform_limit(engine: Engine, platforms: frozenset[str], quant_id: str) -> str | None:
    """The reason a platform-wide limit (the engine's documented support matrix) forbids `quant_id` on any of
    `platforms`, or None."""
    for limit in engine.limits:
        if not platforms & set(limit.platforms):
            continue
        blocked = quant_id in limit.quants if limit.quants is not None else quant_id not in limit.except_quants
        if blocked:
            return f"{engine.name}: {limit.reason} ({limit.source})"
    return None
