"""`memory` of a fit result agrees with its placement (issue 9 item 4, issue 10 item 6).

The rule: with hardware, each part of `memory` is the sum of that part over the placement's devices
(host RAM included); without hardware, weights and KV cache are counted once plus one device's
activations and overhead, and the result says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from sizer.catalog.loading import load_catalog
from sizer.sizing.fitter import fit
from sizer.sizing.results import MEMORY_SUMMED_OVER_DEVICES, MEMORY_WITHOUT_HARDWARE, FitResult

GIB = 2**30
ENGINES = sorted(load_catalog().engines)
HARDWARE: dict[str, dict[str, Any]] = {
    "1x H100": {"gpus": (("h100", 1),)},
    "4x H100": {"gpus": (("h100", 4),)},
    "2x RTX 3090 + 128 GB RAM": {"gpus": (("rtx 3090", 2),), "ram_bytes": 128 * 10**9},
    "Mac Studio M3 Ultra": {"system": "mac-studio-m3-ultra-512gb"},
    "2 nodes of 8x H100": {"gpus": (("h100", 8),), "nodes": 2},
}
MODELS = [("llama-3.1-8b", "q4_k_m"), ("qwen3-30b-a3b", "native"), ("deepseek-v3", "native")]
PARTS = ("weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes")


def _assert_memory_is_the_placement_sum(r: FitResult) -> None:
    m = r.memory
    assert r.placement
    for part in PARTS:
        assert getattr(m, part) == sum(getattr(d, part) for d in r.placement), part
    assert m.total_bytes == sum(d.used_bytes for d in r.placement)
    assert m.summed_over_devices
    assert MEMORY_SUMMED_OVER_DEVICES in r.assumptions
    # copies only add: the model's own weights are never more than what the devices hold
    assert m.model_weights_bytes <= m.weights_bytes
    assert m.model_weights_bytes == sum(m.weights_by_class.values())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("hardware", list(HARDWARE), ids=list(HARDWARE))
@pytest.mark.parametrize(("model", "quant"), MODELS, ids=[m for m, _ in MODELS])
def test_memory_parts_are_the_sum_over_the_placement(engine: str, hardware: str, model: str, quant: str) -> None:
    r = fit(model, quant=quant, engine=engine, context_tokens=32768, users=2, **HARDWARE[hardware])
    _assert_memory_is_the_placement_sum(r)


def test_llama_70b_bf16_on_4x_h100_vllm_counts_every_device() -> None:
    """The issue's case: 135.8 GiB in memory but 142.8 GiB across the devices before the fix."""
    r = fit("llama-3.1-70b", quant="bf16", gpus=(("h100", 4),), engine="vllm")
    _assert_memory_is_the_placement_sum(r)
    assert [d.kind for d in r.placement] == ["gpu"] * 4
    # vLLM's runtime overhead is 1.5 GiB per device (gpu_catalog/engines.yaml): four devices hold 6 GiB
    assert r.memory.overhead_bytes == 4 * 3 * GIB // 2
    # tensor parallel 4 splits every matrix and keeps a full copy of every norm on each rank: Llama-3.1-70B has
    # 80 layers x 2 RMSNorm vectors + the final norm = 161 vectors of 8192 F32 values (norms stay F32), so three
    # extra copies of 161 x 8192 x 4 bytes
    assert r.memory.weights_bytes - r.memory.model_weights_bytes == 3 * 161 * 8192 * 4
    # the same activation term on each of the 4 devices, not one device's
    per_device = {d.activations_bytes for d in r.placement}
    assert len(per_device) == 1 and r.memory.activations_bytes == 4 * per_device.pop()


def test_sglang_long_context_activations_are_the_devices() -> None:
    """The issue's second case: SGLang at 128k x 8 users sized its activations for a default step in
    `memory` (0.4 GiB) and for the device's chunked prefill in the placement (13.1 GiB)."""
    r = fit("llama-3.3-70b", quant="q4_k_m", gpus=(("h100", 1),), context_tokens=131072, users=8, engine="sglang")
    _assert_memory_is_the_placement_sum(r)
    assert len(r.placement) == 1
    assert r.memory.activations_bytes == r.placement[0].activations_bytes > 10 * GIB


def test_memory_without_hardware_says_what_it_counts() -> None:
    r = fit("llama-3.1-70b", quant="bf16", engine="vllm")
    assert r.placement == [] and not r.memory.summed_over_devices
    assert MEMORY_WITHOUT_HARDWARE in r.assumptions
    # one device's runtime overhead, and the weights each tensor once
    assert r.memory.overhead_bytes == 3 * GIB // 2
    assert r.memory.weights_bytes == r.memory.model_weights_bytes
    m = r.memory
    assert m.total_bytes == m.weights_bytes + m.kv_cache_bytes + m.activations_bytes + m.overhead_bytes
