"""Engine limits: the platform and the documented per-accelerator limits decide what an engine runs."""

from __future__ import annotations

import pytest

from sizer.catalog.loading import load_catalog
from sizer.sizing.engine_support import engine_limit
from sizer.sizing.fitter import fit

CAT = load_catalog()


@pytest.mark.parametrize(("engine", "gpu", "quant", "runs"), [
    ("vllm", "H100", "awq-int4-g128", True),
    ("vllm", "V100", "bf16", False),  # compute capability 7.0 < 7.5
    ("vllm", "Gaudi 3", "bf16", True),  # through the vllm-gaudi plugin
    ("vllm", "Gaudi 3", "awq-int4-g128", False),
    ("llama.cpp", "Gaudi 3", "q4_k_m", False),  # Gaudi is not a SYCL (xpu) device
    ("llama.cpp", "Ascend 910B", "q4_0", True),
    ("llama.cpp", "Ascend 910B", "q4_k_m", False),  # CANN: F16, BF16, Q8_0, Q4_0 only
    ("tensorrt-llm", "A100 80GB", "fp8-per-channel", False),  # FP8 needs compute capability 8.9
    ("tensorrt-llm", "L40S", "fp8-per-channel", True),
    ("mlx", "M3 Ultra", "mlx-4bit", True),
    ("mlx", "H100", "mlx-4bit", False),  # platform
])
def test_engine_limit(engine: str, gpu: str, quant: str, runs: bool) -> None:
    assert (engine_limit(CAT.engine(engine), CAT.accelerator(gpu), quant) is None) == runs


def test_an_engine_limit_naming_an_unknown_accelerator_is_a_catalog_error(tmp_path) -> None:
    from sizer.catalog.loading import validate_catalog

    overlay = tmp_path / "limits.yaml"
    overlay.write_text(
        "- id: vllm\n"
        "  limits:\n"
        "  - accelerators: [nvidia-h100-sxm-80g]\n"
        "    reason: test\n"
        "    source: https://example.com/limits\n"
        "  sources: [https://example.com/limits]\n"
    )
    issues = validate_catalog([overlay])
    assert any("unknown accelerator id 'nvidia-h100-sxm-80g'" in i.message and i.line == 3 for i in issues), issues


def test_fit_warns_when_the_engine_cannot_run_the_format_there() -> None:
    r = fit("llama-3.1-8b", quant="fp8-per-channel", gpus=(("A100 80GB", 1),), engine="tensorrt-llm", catalog=CAT)
    assert any("FP8 needs" in w for w in r.warnings)
