"""Launch commands for a placed configuration: vLLM, SGLang, TensorRT-LLM, llama.cpp, Ollama, MLX.

The command reproduces the layout the fit core chose: tensor / pipeline parallel sizes (vLLM, SGLang,
TensorRT-LLM; several nodes through Ray or the engine's own launcher), GPU layers, routed experts in
RAM and the per-GPU layer split (llama.cpp `-ngl`, `--n-cpu-moe`, `--tensor-split`), the context for
every sequence, the number of sequences and the KV cache type. Checkpoints: the model's Hugging Face
repo when the format is its native (or 16-bit) checkpoint; a published conversion the catalog lists
for the model (`conversions`: unsloth / bartowski GGUF repos, official FP8 / AWQ checkpoints) when one
holds the format; the repo the user gave (a Hugging Face repo or GGUF repo read header-only); and only
otherwise a placeholder naming the conversion to look for (`<user>/DeepSeek-V3-GGUF`).
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass

from sizer.placement import Layout
from sizer.schema import Conversion, Engine, QuantFormat
from sizer.sizing.engine_support import platform_limit

__all__ = ["LaunchSpec", "commands_for", "launch_command", "yarn_setting"]

# Rope-scaling flags per engine (YaRN beyond the trained positions):
# vLLM --hf-overrides (https://docs.vllm.ai/en/latest/configuration/engine_args.html; --rope-scaling is gone),
# SGLang --json-model-override-args (https://qwen.readthedocs.io/en/latest/deployment/sglang.html),
# llama.cpp --rope-scaling yarn --rope-scale F --yarn-orig-ctx N
# (https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md); Ollama has no such setting;
# mlx-lm and TensorRT-LLM read rope_scaling from config.json.

_PORT = 8000


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What a launch command needs, independent of the engine that prints it."""

    repo: str  # Hugging Face repo (or a path) of the model
    model_name: str
    fmt: QuantFormat
    native_id: str | None  # the model's native format id
    layout: Layout
    nodes: int
    gpus_per_node: int
    context_tokens: int
    users: int
    kv_dtype: str  # the engine's own spelling, from the memory breakdown
    device_gib: float  # memory of one GPU (for SGLang's static fraction)
    unified_apple: bool = False
    wired_limit_mb: int | None = None  # macOS GPU working set the layout needs, when above the default
    conversions: tuple[Conversion, ...] = ()  # published conversions of a catalog model
    gguf_repo: str | None = None  # a GGUF repo the user gave (org/name-GGUF), whose files hold the formats
    rope: tuple[float, int] | None = None  # YaRN (factor, original positions) when the context needs it


def _conversion(spec: LaunchSpec, fmt_kind: str) -> Conversion | None:
    """The first published conversion of this kind that holds the format (any file type for a GGUF repo)."""
    for c in spec.conversions:
        if c.format == fmt_kind and (fmt_kind == "gguf" or spec.fmt.id in c.quants):
            return c
    return None


def _published(c: Conversion) -> str:
    return f"published by {c.publisher or c.repo.split('/')[0]} ({c.source})"


def yarn_setting(context_tokens: int, max_position_embeddings: int, factor: float | None,
                 original: int | None) -> tuple[float, int] | None:
    """(factor, original positions) of the YaRN setting a context beyond the configured positions needs: the
    smallest factor (in steps of 0.5, at most the card's) that covers the context, per the Qwen cards' advice
    to scale only as far as needed."""
    if factor is None or original is None or context_tokens <= max_position_embeddings:
        return None
    need = math.ceil(context_tokens / original * 2) / 2
    return (min(max(need, 1.5), factor), original)


def _rope_json(spec: LaunchSpec, key: str = "rope_scaling") -> str:
    assert spec.rope is not None
    factor, original = spec.rope
    inner = json.dumps({"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original},
                       separators=(",", ":"))
    return shlex.quote(f'{{"{key}":{inner}}}')


def _rope_note(spec: LaunchSpec) -> list[str]:
    if spec.rope is None:
        return []
    return [f"context {spec.context_tokens:,} is beyond the {spec.rope[1]:,} trained positions: YaRN factor "
            f"{spec.rope[0]:g} (the model card's setting; static YaRN may cost some quality on short prompts)"]


def _placeholder(repo: str, suffix: str, owner: str = "<user>") -> str:
    """`<user>/DeepSeek-V3-GGUF`: the usual name of a conversion, with the uploader left to the user."""
    name = repo.rstrip("/").rsplit("/", 1)[-1]
    return f"{owner}/{name}-{suffix.replace(' ', '-')}"


def _checkpoint(spec: LaunchSpec) -> tuple[str, list[str], list[str]]:
    """(repo, extra flags, notes) for safetensors engines."""
    fmt = spec.fmt
    if fmt.id == spec.native_id:
        return spec.repo, [], []
    if fmt.format_kind == "float" or (fmt.base_ggml_type or fmt.name).upper() in ("BF16", "F16", "F32"):
        if spec.native_id in ("bf16", "f16", "f32", None):
            return spec.repo, [], []
        return _placeholder(spec.repo, fmt.name), [], [
            f"placeholder: {spec.repo} ships {spec.native_id}; convert it to {fmt.name} first"]
    conv = _conversion(spec, "safetensors")
    if conv is not None:
        return conv.repo, [], [f"{conv.repo}: {fmt.name} checkpoint {_published(conv)}"]
    if fmt.id == "fp8-per-tensor" and spec.native_id in ("bf16", "f16"):
        return spec.repo, ["--quantization", "fp8"], ["FP8 weights quantized on load (dynamic per-tensor scales)"]
    note = (f"placeholder: <user> is whoever published {spec.repo} in {fmt.name} (the engine reads the format "
            "from the checkpoint's config)")
    return _placeholder(spec.repo, fmt.name), [], [note]


def _gguf(spec: LaunchSpec) -> tuple[str, str]:
    """(repo:QUANT for llama.cpp's -hf, a note saying where it comes from)."""
    if spec.gguf_repo:
        return f"{spec.gguf_repo}:{spec.fmt.name}", f"{spec.gguf_repo}: the GGUF repo given"
    conv = _conversion(spec, "gguf")
    if conv is not None:
        return f"{conv.repo}:{spec.fmt.name}", (
            f"{conv.repo}: GGUF conversion {_published(conv)}; check that it has {spec.fmt.name} files")
    return f"{_placeholder(spec.repo, 'GGUF')}:{spec.fmt.name}", (
        f"placeholder: <user> is whoever published a GGUF conversion of {spec.repo} with {spec.fmt.name} "
        "files on Hugging Face; or -m /path/to/model.gguf")


def _vllm(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]]:
    repo, flags, notes = _checkpoint(spec)
    lay = spec.layout
    args = ["vllm", "serve", repo, "--tensor-parallel-size", str(lay.tp)]
    if lay.pp > 1:
        args += ["--pipeline-parallel-size", str(lay.pp)]
    args += flags + ["--max-model-len", str(spec.context_tokens), "--max-num-seqs", str(spec.users),
                     "--gpu-memory-utilization", f"{engine.gpu_memory_utilization:g}",
                     "--kv-cache-dtype", spec.kv_dtype]
    if spec.rope is not None:
        args += ["--hf-overrides", _rope_json(spec)]
        notes = notes + _rope_note(spec)
    if spec.nodes > 1:
        args += ["--distributed-executor-backend", "ray"]
        head = ["# on the head node:", "ray start --head --port 6379",
                f"# on each of the other {spec.nodes - 1} node(s):", "ray start --address <head-ip>:6379",
                "# then, on the head node:"]
        return "\n".join([*head, " ".join(args)]), notes + [
            f"{spec.nodes} nodes joined by Ray; pipeline parallel across nodes, tensor parallel inside each"]
    return " ".join(args), notes


def _sglang(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]]:
    repo, flags, notes = _checkpoint(spec)
    lay = spec.layout
    fraction = engine.gpu_memory_utilization
    best = -1.0
    for tier in engine.device_tiers:
        if best < tier.min_device_gib <= spec.device_gib and tier.reserved_gib is not None:
            best, fraction = tier.min_device_gib, 1 - tier.reserved_gib / spec.device_gib
    kv = "auto" if spec.kv_dtype in ("auto", "bfloat16", "float16") else spec.kv_dtype
    args = ["python", "-m", "sglang.launch_server", "--model-path", repo, "--tp-size", str(lay.tp)]
    if lay.pp > 1:
        args += ["--pp-size", str(lay.pp)]
    args += flags + ["--context-length", str(spec.context_tokens), "--max-running-requests", str(spec.users),
                     "--mem-fraction-static", f"{fraction:.2f}", "--kv-cache-dtype", kv, "--port", str(_PORT)]
    if spec.rope is not None:
        args += ["--json-model-override-args", _rope_json(spec)]
        notes = notes + _rope_note(spec)
    if engine.id == "ktransformers":
        method = "LLAMAFILE" if spec.fmt.format_kind == "gguf_file_type" else "AMXINT4"
        args += ["--kt-method", method, "--kt-weight-path", "<cpu-expert-weights>", "--kt-cpuinfer", "<cores>",
                 "--kt-num-gpu-experts", "0"]
        notes = notes + ["KTransformers inside SGLang: routed experts on the CPU (--kt-* options, SGLang 0.5.23); "
                         "<cpu-expert-weights> is the GGUF (LLAMAFILE) or the converted AMX weights, <cores> the "
                         "physical cores of one socket"]
    if spec.nodes > 1:
        lines = [f"# on node r = 0 .. {spec.nodes - 1} (node 0 is the head):",
                 " ".join([*args, "--nnodes", str(spec.nodes), "--node-rank", "<r>", "--dist-init-addr",
                           "<head-ip>:20000"])]
        return "\n".join(lines), notes
    return " ".join(args), notes + ["--dp-size N adds data-parallel replicas when more GPUs are available"]


def _trtllm(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]]:
    repo, _, notes = _checkpoint(spec)
    lay = spec.layout
    args = ["trtllm-serve", repo, "--tp_size", str(lay.tp), "--pp_size", str(lay.pp), "--max_seq_len",
            str(spec.context_tokens), "--max_batch_size", str(spec.users), "--kv_cache_free_gpu_memory_fraction",
            f"{engine.gpu_memory_utilization:g}"]
    if spec.rope is not None:
        notes = notes + [f"add rope_scaling (YaRN, factor {spec.rope[0]:g}, original_max_position_embeddings "
                         f"{spec.rope[1]}) to the checkpoint's config.json before building"]
    if spec.nodes > 1:
        return f"mpirun -np {spec.nodes * spec.gpus_per_node} --hostfile hosts " + " ".join(args), notes
    return " ".join(args), notes


def _gpu_layer_counts(layout: Layout) -> list[int]:
    return [sum(1 for f in s.kv_share if f > 0) for s in layout.slots if s.kind != "host_ram"]


def _llama_cpp(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]]:
    lay = spec.layout
    n_layers = len(lay.slots[0].kv_share) if lay.slots else 0
    ngl = lay.gpu_layers if lay.gpu_layers is not None else n_layers
    hf, where = _gguf(spec)
    args = ["llama-server", "-hf", hf, "-c", str(spec.context_tokens * spec.users)]
    if spec.users > 1:
        args += ["--parallel", str(spec.users)]
    args += ["-ngl", "999" if ngl >= n_layers else str(ngl)]
    if lay.cpu_moe_layers:
        args += ["--n-cpu-moe", str(lay.cpu_moe_layers)]
    counts = _gpu_layer_counts(lay)
    if len(counts) > 1:
        args += ["--tensor-split", ",".join(str(c) for c in counts)]
    args += ["-fa", "on", "-ctk", spec.kv_dtype, "-ctv", spec.kv_dtype, "--port", str(_PORT)]
    if spec.rope is not None:
        args += ["--rope-scaling", "yarn", "--rope-scale", f"{spec.rope[0]:g}", "--yarn-orig-ctx", str(spec.rope[1])]
    notes = [where, *_rope_note(spec)]
    if lay.cpu_moe_layers:
        notes.append(f"--n-cpu-moe {lay.cpu_moe_layers}: the routed experts of the first {lay.cpu_moe_layers} "
                     "layers stay in RAM and run on the CPU")
    if spec.wired_limit_mb:
        notes.append(f"macOS: allow the GPU {spec.wired_limit_mb:,} MiB first (sudo sysctl "
                     f"iogpu.wired_limit_mb={spec.wired_limit_mb})")
    if spec.nodes > 1:
        hosts = ",".join(f"<node{i}-ip>:50052" for i in range(1, spec.nodes))
        head = [f"# on each of the other {spec.nodes - 1} machine(s): rpc-server --host 0.0.0.0 -p 50052",
                "# then on the first:"]
        return "\n".join([*head, " ".join([*args, "--rpc", hosts])]), notes
    return " ".join(args), notes


def _ollama(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]] | None:
    lay = spec.layout
    if lay.cpu_moe_layers or spec.nodes > 1:
        return None  # no expert-only offload, one machine
    n_layers = len(lay.slots[0].kv_share) if lay.slots else 0
    ngl = lay.gpu_layers if lay.gpu_layers is not None else n_layers
    kv = spec.kv_dtype if spec.kv_dtype in ("f16", "q8_0", "q4_0") else "f16"
    name = f"{spec.model_name}-{spec.fmt.name}".lower().replace(" ", "-").replace("/", "-")
    hf, where = _gguf(spec)
    lines = ["cat > Modelfile <<'EOF'", f"FROM hf.co/{hf}", f"PARAMETER num_ctx {spec.context_tokens}"]
    if ngl < n_layers:
        lines.append(f"PARAMETER num_gpu {ngl}")
    lines += ["EOF", f"ollama create {name} -f Modelfile",
              f"OLLAMA_NUM_PARALLEL={spec.users} OLLAMA_FLASH_ATTENTION=1 OLLAMA_KV_CACHE_TYPE={kv} ollama serve"]
    rope = ([f"Ollama has no YaRN setting: beyond {spec.rope[1]:,} positions use llama.cpp (--rope-scaling yarn)"]
            if spec.rope is not None else [])
    return "\n".join(lines), ["num_ctx is per request; Ollama multiplies it by OLLAMA_NUM_PARALLEL", where, *rope]


def _mlx(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]]:
    fmt = spec.fmt
    notes: list[str] = []
    conv = _conversion(spec, "mlx") if fmt.format_kind == "mlx" else None
    if conv is not None:
        repo = conv.repo
        notes.append(f"{conv.repo}: MLX {fmt.name} build {_published(conv)}")
    elif fmt.format_kind == "mlx":
        bits = int(fmt.weight_bits or 4)
        repo = _placeholder(spec.repo, f"{bits}bit", owner="mlx-community")
        notes.append(f"placeholder: an MLX {fmt.name} conversion (mlx-community names them so), or make one with "
                     f"mlx_lm.convert --hf-path {spec.repo} -q --q-bits {bits}")
    else:
        repo, _, notes = _checkpoint(spec)
    lines = []
    if spec.wired_limit_mb:
        lines.append(f"sudo sysctl iogpu.wired_limit_mb={spec.wired_limit_mb}")
    lines.append(f"mlx_lm.server --model {repo} --port {_PORT}")
    if spec.rope is not None:
        notes = notes + [f"add rope_scaling {{\"rope_type\": \"yarn\", \"factor\": {spec.rope[0]:g}, "
                         f"\"original_max_position_embeddings\": {spec.rope[1]}}} to the model's config.json "
                         "(mlx-lm reads it from there)"]
    if spec.nodes > 1:
        notes.append(f"{spec.nodes} Macs: run the model sharded with mlx.launch (mx.distributed over Thunderbolt); "
                     "mlx_lm.server alone serves one machine")
    return "\n".join(lines), notes


_BUILDERS = {"vllm": _vllm, "sglang": _sglang, "ktransformers": _sglang, "tensorrt-llm": _trtllm,
             "llama.cpp": _llama_cpp, "ollama": _ollama, "mlx": _mlx}
# Engines that run the same layout, whose commands are printed after the chosen engine's.
_ALTERNATIVES = {"vllm": ("sglang", "tensorrt-llm"), "sglang": ("vllm",), "tensorrt-llm": ("vllm",),
                 "llama.cpp": ("ollama",), "ollama": ("llama.cpp",), "mlx": (), "ktransformers": ()}


def launch_command(spec: LaunchSpec, engine: Engine) -> tuple[str, list[str]] | None:
    """(shell lines, notes) starting `engine` with this layout, or None when it cannot run it."""
    build = _BUILDERS.get(engine.id)
    return None if build is None else build(spec, engine)


def commands_for(spec: LaunchSpec, engine: Engine, engines: dict[str, Engine],
                 platforms: frozenset[str] = frozenset()) -> list[tuple[str, str, list[str]]]:
    """(engine id, command, notes) for the chosen engine, then engines that load the same format the same way
    on these platforms (cuda, rocm, metal ...; empty: any)."""
    out = []
    for eid in (engine.id, *_ALTERNATIVES.get(engine.id, ())):
        e = engines.get(eid)
        if e is None or (eid != engine.id and (spec.fmt.id not in e.supported_quants
                                               or (platforms and not platforms & set(e.platforms))
                                               or platform_limit(e, platforms, spec.fmt.id) is not None)):
            continue  # the alternative does not load the format there (its documented support matrix)
        made = launch_command(spec, e)
        if made is not None:
            out.append((eid, made[0], made[1]))
    return out
