"""Issue 13 item 6: prefill where the vendor publishes only FP4 and FP32 figures, and NVIDIA unified-memory
SoCs as their own device class (they sat 70-85 % low / 50 % high on the discrete cards' factors)."""

from __future__ import annotations

import pytest

from sizer.catalog.loading import load_catalog
from sizer.sizing.fitter import fit
from sizer.speed.terms import compute_tflops, device_class

CAT = load_catalog()


def test_tensor_rates_derived_from_the_fp4_figure() -> None:
    # RTX PRO 6000 Blackwell: 2,000 dense FP4 TFLOPS published (4,000 sparse); GeForce Blackwell's INT8 = FP4 / 2
    pro = CAT.accelerator("nvidia-rtx-pro-6000-blackwell-96gb")
    tflops, label = compute_tflops(pro, CAT.quant("q4_k_m"), CAT.engines["llama.cpp"], "k_quant")
    assert tflops == 1000.0 and "INT8" in label
    # a part with its own INT8 figure keeps it (RTX 5090: 838 TOPS dense)
    rtx = CAT.accelerator("nvidia-rtx-5090-32gb")
    assert compute_tflops(rtx, CAT.quant("q4_k_m"), CAT.engines["llama.cpp"], "k_quant")[0] == 838


def test_nvidia_unified_memory_parts_are_their_own_class() -> None:
    assert device_class(CAT.accelerator("nvidia-dgx-spark-gb10-128gb")) == "nvidia-unified"
    assert device_class(CAT.accelerator("nvidia-jetson-agx-orin-64gb")) == "nvidia-unified"
    assert device_class(CAT.accelerator("nvidia-rtx-4090-24gb")) == "nvidia-consumer"


@pytest.mark.parametrize(("gpu", "published_pp512"), [
    # llama.cpp discussion 15013 (CUDA scoreboard), Llama-2-7B Q4_0 pp512, as in sizer/calibration/measurements.yaml
    ("nvidia-dgx-spark-gb10-128gb", 3062),
    ("nvidia-rtx-pro-6000-blackwell-96gb", 16619),
])
def test_prefill_estimate_near_the_published_figure(gpu: str, published_pp512: float) -> None:
    r = fit("llama-2-7b", quant="q4_0", gpus=((gpu, 1),), context_tokens=512, engine="llama.cpp", catalog=CAT)
    assert r.performance is not None
    # before: 567 tok/s on the Spark (-81 %) and 2,287 on the PRO 6000 (-86 %), from FP32 CUDA-core rates
    assert r.performance.prefill_tokens_per_s == pytest.approx(published_pp512, rel=0.25)
