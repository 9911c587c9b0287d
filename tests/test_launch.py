"""Launch commands reproduce the layout the fit core chose (sizer.launch)."""

from __future__ import annotations

import shlex

import pytest

from sizer.catalog.loading import load_catalog
from sizer.memory.breakdown import Workload
from sizer.model.reference import resolve_model
from sizer.placement import Layout
from sizer.placement.hardware import build_hardware
from sizer.quant.assignment import resolve_quant
from sizer.recommendation.launch import LaunchSpec, commands_for, launch_command
from sizer.sizing.fitter import Fitter

CATALOG = load_catalog()


def _placed(model: str, quant: str, engine: str, gpus: tuple[tuple[str, int], ...], *, nodes: int = 1,
            ram_gb: int | None = None, context: int = 32768, users: int = 1) -> tuple[LaunchSpec, Layout]:
    resolved = resolve_model(model, CATALOG)
    fmt = resolve_quant(quant, resolved.entry, CATALOG)
    eng = CATALOG.engine(engine)
    fitter = Fitter(resolved, fmt, eng, Workload(context, users), CATALOG)
    hw = build_hardware(CATALOG, gpus, nodes=nodes, ram_bytes=ram_gb * 10**9 if ram_gb else None)
    placed = fitter.place(hw)
    assert placed is not None
    layout, verdict, _ = placed
    assert verdict.fits
    entry = resolved.entry
    assert entry is not None and fitter.memory is not None
    spec = LaunchSpec(repo=entry.hf_repos[0], model_name=entry.id, fmt=fmt, native_id=entry.native_quant,
                      layout=layout, nodes=hw.nodes, gpus_per_node=hw.gpus_per_node, context_tokens=context,
                      users=users, kv_dtype=fitter.memory.kv_dtype.name,
                      device_gib=hw.accelerators[0][0].memory_gib_usable)
    return spec, layout


def _args(command: str) -> list[str]:
    return shlex.split(command.splitlines()[-1])


def _value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_vllm_native_fp8_on_one_node() -> None:
    spec, layout = _placed("deepseek-v3", "native", "vllm", (("h200", 8),))
    cmd, _notes = launch_command(spec, CATALOG.engine("vllm"))  # type: ignore[misc]
    args = _args(cmd)
    assert args[:3] == ["vllm", "serve", "deepseek-ai/DeepSeek-V3"]
    assert _value(args, "--tensor-parallel-size") == str(layout.tp) == "8"
    assert _value(args, "--max-model-len") == "32768"
    assert "--quantization" not in args  # the FP8 checkpoint says what it is
    assert "--pipeline-parallel-size" not in args and "ray" not in cmd


def test_vllm_two_nodes_through_ray() -> None:
    spec, layout = _placed("llama-3.1-405b", "bf16", "vllm", (("h100", 8),), nodes=2, context=8192, users=4)
    cmd, _notes = launch_command(spec, CATALOG.engine("vllm"))  # type: ignore[misc]
    assert "ray start --head" in cmd and "ray start --address" in cmd
    args = _args(cmd)
    assert int(_value(args, "--tensor-parallel-size")) * int(_value(args, "--pipeline-parallel-size")) == 16
    assert _value(args, "--pipeline-parallel-size") == str(layout.pp) == "2"
    assert _value(args, "--max-num-seqs") == "4"
    assert _value(args, "--distributed-executor-backend") == "ray"


def test_vllm_quantizes_a_16_bit_model_to_fp8_on_load() -> None:
    spec, _ = _placed("llama-3.1-8b", "fp8", "vllm", (("h100", 1),), context=8192)
    args = _args(launch_command(spec, CATALOG.engine("vllm"))[0])  # type: ignore[index]
    assert _value(args, "--quantization") == "fp8"
    assert args[2] == spec.repo


def test_checkpoint_formats_name_a_placeholder() -> None:
    spec, _ = _placed("llama-3.3-70b", "int4", "vllm", (("h100", 1),), context=8192)
    cmd, notes = launch_command(spec, CATALOG.engine("vllm"))  # type: ignore[misc]
    name = spec.repo.rsplit("/", 1)[-1]
    assert _args(cmd)[2] == f"<user>/{name}-AWQ-4-bit-g128"
    assert any("placeholder" in n for n in notes)


def test_llama_cpp_expert_offload() -> None:
    spec, layout = _placed("deepseek-v3", "q4_k_m", "llama.cpp", (("rtx 4090", 1),), ram_gb=512, users=2)
    assert layout.cpu_moe_layers > 0
    cmd, _notes = launch_command(spec, CATALOG.engine("llama.cpp"))  # type: ignore[misc]
    args = _args(cmd)
    assert args[0] == "llama-server"
    assert _value(args, "--n-cpu-moe") == str(layout.cpu_moe_layers)
    assert _value(args, "-c") == str(32768 * 2) and _value(args, "--parallel") == "2"
    assert _value(args, "-ctk") == _value(args, "-ctv") == spec.kv_dtype
    assert _value(args, "-hf") == "<user>/DeepSeek-V3-GGUF:Q4_K_M"


def test_llama_cpp_tensor_split_covers_every_layer() -> None:
    spec, _layout = _placed("llama-3.3-70b", "q4_k_m", "llama.cpp", (("rtx 3090", 2),), context=8192)
    args = _args(launch_command(spec, CATALOG.engine("llama.cpp"))[0])  # type: ignore[index]
    split = [int(x) for x in _value(args, "--tensor-split").split(",")]
    assert len(split) == 2
    assert sum(split) == CATALOG.models["llama-3.3-70b"].architecture.num_hidden_layers
    assert _value(args, "-ngl") == "999"


def test_llama_cpp_layer_offload_sets_gpu_layers() -> None:
    spec, layout = _placed("llama-3.3-70b", "q8_0", "llama.cpp", (("rtx 4090", 1),), ram_gb=128, context=8192)
    assert layout.offload == "layers" and layout.gpu_layers is not None
    args = _args(launch_command(spec, CATALOG.engine("llama.cpp"))[0])  # type: ignore[index]
    assert _value(args, "-ngl") == str(layout.gpu_layers)


def test_ollama_follows_llama_cpp_but_not_expert_offload() -> None:
    engines = CATALOG.engines
    spec, _ = _placed("llama-3.1-8b", "q4_k_m", "llama.cpp", (("rtx 4090", 1),), context=16384, users=3)
    made = {e: cmd for e, cmd, _ in commands_for(spec, CATALOG.engine("llama.cpp"), engines)}
    assert list(made) == ["llama.cpp", "ollama"]
    assert "PARAMETER num_ctx 16384" in made["ollama"] and "OLLAMA_NUM_PARALLEL=3" in made["ollama"]
    moe, _ = _placed("deepseek-v3", "q4_k_m", "llama.cpp", (("rtx 4090", 1),), ram_gb=512)
    assert [e for e, _, _ in commands_for(moe, CATALOG.engine("llama.cpp"), engines)] == ["llama.cpp"]


def test_sglang_static_fraction_from_the_device_tier() -> None:
    spec, _ = _placed("llama-3.1-8b", "bf16", "vllm", (("h100", 1),), context=8192)
    sglang = CATALOG.engine("sglang")
    args = _args(launch_command(spec, sglang)[0])  # type: ignore[index]
    # By hand: an H100 SXM has 79.2 GiB usable (gpu_catalog/accelerators/nvidia.yaml); SGLang keeps 13.58 GiB
    # of a 60-90 GiB device outside its static pool (engines.yaml device_tiers, from its memory rule for a
    # chunked prefill of 8192), so the static fraction is 1 - 13.58 / 79.2 = 0.8285..., printed as 0.83.
    assert spec.device_gib == 79.2
    assert _value(args, "--mem-fraction-static") == "0.83"
    assert _value(args, "--tp-size") == "1" and _value(args, "--context-length") == "8192"


@pytest.mark.parametrize(("platforms", "expected"), [(frozenset({"cuda"}), {"vllm", "sglang", "tensorrt-llm"}),
                                                     (frozenset({"rocm"}), {"vllm", "sglang"})])
def test_alternatives_run_on_the_platform(platforms: frozenset[str], expected: set[str]) -> None:
    spec, _ = _placed("llama-3.1-8b", "bf16", "vllm", (("h100", 1),), context=8192)
    made = commands_for(spec, CATALOG.engine("vllm"), CATALOG.engines, platforms)
    assert {e for e, _, _ in made} == expected


def test_mlx_on_a_mac() -> None:
    spec, _ = _placed("llama-3.1-8b", "mlx-4bit", "mlx", (("M3 Ultra", 1),), context=8192)
    cmd, notes = launch_command(spec, CATALOG.engine("mlx"))  # type: ignore[misc]
    name = spec.repo.rsplit("/", 1)[-1]
    assert _args(cmd)[:3] == ["mlx_lm.server", "--model", f"mlx-community/{name}-4bit"]
    assert any("--q-bits 4" in n for n in notes)
