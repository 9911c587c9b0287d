"""Activation / compute-buffer memory and runtime overhead per device, by the engine's rule.

- ``llama_cpp_compute_buffer`` (llama.cpp, Ollama): ggml-alloc sizes one compute buffer per device as
  the peak of simultaneously live intermediates of the worst-case graph: a ``n_ubatch`` micro-batch
  attending the whole ``n_ctx_seq`` with every token an output (``llama_context::sched_reserve``).
  All values are f32. The peak is the largest of three phases (values per token):

  * output: the logits (n_vocab) plus two hidden-state rows (``2h + vocab``): it dominates for the
    large vocabularies of current models;
  * feed-forward: ``4h + 3 n_ff`` (dense), ``max(2 k h + k n_ff_exp + 2h, 3 k n_ff_exp + 4h)`` (MoE);
  * attention: ``3h + 2 q + 2 kv`` (MLA, absorbed as llama.cpp runs it: ``3h + 2 heads x qk + heads x
    (kv_lora + rope) + heads x kv_lora``); without flash attention plus the K·Q scores, ``n_kv x heads``.

  The KQ mask (``n_kv`` values, f16 with flash attention, f32 without) lives through every layer.
  Fitted to ``llama-fit-params --fit-print`` of llama.cpp as vendored by llama-cpp-python 0.3.36:
  exact (within 0.1%) wherever the logits dominate, within 5% for dense and MLA layers, within 20% for
  MoE layers of small-vocabulary test shapes (tests/test_memory.py).
- ``vllm_profile_peak`` (vLLM, SGLang): the PyTorch peak of the profiling forward pass over
  ``max_num_batched_tokens`` tokens (``gpu_worker.determine_available_memory``), per tensor-parallel rank,
  in the model dtype (2 bytes): residual + hidden states, plus the larger of the attention block
  (q/k/v and output, heads split over ranks) and the MLP block (gate-up and activation, columns split;
  for fused MoE the per-token top-k intermediate caches and the router logits), or the dummy sampler
  run (fp32 logits of ``min(256, tokens)`` sequences, plus softmax and sort buffers: 3 copies),
  whichever is larger. An estimate from the shapes; vLLM measures it at start-up.
- ``mlx_lazy`` (MLX): evaluation is lazy and frees as it goes; one prefill step of ``activation_tokens``
  tokens holds about the hidden states and one MLP block, plus the last token's logits.

Runtime overhead (CUDA context, cuBLAS/NCCL workspaces, CUDA graphs) is the engine entry's
``runtime_overhead_gib`` per device.
"""

from __future__ import annotations

from sizer.errors import BadValueError
from sizer.schema import Architecture, Engine

__all__ = ["activation_bytes", "activation_tokens", "runtime_overhead_bytes"]

_GIB = 1 << 30
_VLLM_SAMPLER_SEQS = 256  # vLLM max_num_seqs default on GPUs below 70 GiB (EngineArgs defaults)


def activation_tokens(engine: Engine, override: int | None = None, device_memory_gib: float | None = None) -> int:
    """Tokens in the micro-batch that sizes activations: the override, else the engine's tier default."""
    if override is not None:
        if override < 1:
            raise BadValueError("batch tokens must be at least 1")
        return override
    tokens = engine.activation_tokens
    if device_memory_gib is not None:
        best = -1.0
        for tier in engine.device_tiers:
            if best < tier.min_device_gib <= device_memory_gib:
                best, tokens = tier.min_device_gib, tier.activation_tokens
    return tokens


def runtime_overhead_bytes(engine: Engine) -> int:
    """Per-device memory outside weights, KV and activations (the engine entry's figure)."""
    return int(engine.runtime_overhead_gib * _GIB)


def _ffn_widths(arch: Architecture) -> tuple[int, int, int, int]:
    """(dense width, expert width, experts per token, shared width) of the widest FFN layer kind."""
    dense = arch.intermediate_size or 0
    if not arch.is_moe:
        return dense, 0, 0, 0
    expert = arch.moe_intermediate_size or 0
    shared = arch.n_shared_experts * (arch.shared_expert_intermediate_size or expert)
    return dense, expert, arch.num_experts_per_tok or 0, shared


def _attn_widths(arch: Architecture) -> tuple[int, int]:
    """(query width, key + value width) of one token's attention projections, all heads."""
    if arch.kv_lora_rank is not None:  # MLA: queries and the per-head keys / values that prefill expands
        qk = (arch.qk_nope_head_dim or 0) + (arch.qk_rope_head_dim or 0)
        return arch.num_attention_heads * qk, arch.num_attention_heads * (qk + (arch.v_head_dim or 0))
    q = arch.num_attention_heads * arch.head_dim * (2 if arch.attention_output_gate else 1)
    return q, 2 * arch.num_key_value_heads * arch.head_dim


def _llama_cpp_bytes(arch: Architecture, tokens: int, n_kv: int, flash_attention: bool) -> int:
    """llama.cpp compute buffer: f32 intermediates of a ``tokens`` micro-batch attending ``n_kv`` cells.

    The phases of the module docstring; a shared expert adds ``3 n_ff_shexp`` to the MoE phase.
    """
    h, t, heads = arch.hidden_size, tokens, arch.num_attention_heads
    dense, expert, top_k, shared = _ffn_widths(arch)
    if arch.kv_lora_rank is not None:
        qk = (arch.qk_nope_head_dim or 0) + (arch.qk_rope_head_dim or 0)
        attn = 3 * h + 2 * heads * qk + heads * (arch.kv_lora_rank + (arch.qk_rope_head_dim or 0))
        attn += heads * arch.kv_lora_rank
    else:
        q, kv = _attn_widths(arch)
        attn = 3 * h + 2 * q + 2 * kv
    ffn = 4 * h + 3 * dense
    if top_k:
        ffn = max(ffn, 2 * top_k * h + top_k * expert + 2 * h + 3 * shared, 3 * top_k * expert + 4 * h)
    mask = n_kv * t * (2 if flash_attention else 4)
    scores = 0 if flash_attention else n_kv * t * heads * 4
    layer = max(4 * t * ffn, 4 * t * attn + scores) + mask
    return max(4 * t * (2 * h + arch.vocab_size), layer)


def _vllm_bytes(arch: Architecture, tokens: int, tp: int) -> int:
    h, t = arch.hidden_size, tokens
    dense, expert, top_k, shared = _ffn_widths(arch)
    q, kv = _attn_widths(arch)
    resident = 2 * t * h  # residual + hidden states
    attn = t * ((2 * q + kv) // tp + h)  # q, k, v, attention output (heads split), o_proj output
    if arch.is_moe:
        mlp = t * (top_k * (3 * expert // tp + h) + 2 * (arch.n_routed_experts or 0) + 3 * shared // tp + h)
    else:
        mlp = t * (3 * dense // tp + h)
    forward = 2 * (resident + max(attn, mlp))
    sampler = min(_VLLM_SAMPLER_SEQS, t) * arch.vocab_size * 4 * 3
    return max(forward, sampler)


def _mlx_bytes(arch: Architecture, tokens: int) -> int:
    dense, expert, top_k, shared = _ffn_widths(arch)
    width = max(dense, top_k * expert + shared)
    return 2 * tokens * (4 * arch.hidden_size + 3 * width) + 4 * arch.vocab_size


def activation_bytes(
    arch: Architecture,
    engine: Engine,
    *,
    n_devices: int = 1,
    context_tokens: int = 4096,
    users: int = 1,
    batch_tokens: int | None = None,
    flash_attention: bool = True,
    device_memory_gib: float | None = None,
) -> int:
    """Activation / compute-buffer bytes on one device (the busiest one) when ``n_devices`` share the model.

    llama.cpp splits layers, so every device holds a full-size buffer for its layers (the output phase
    lives on the last device: the figure is that device's); vLLM splits heads and MLP columns over
    tensor-parallel ranks.
    """
    if n_devices < 1:
        raise BadValueError("n_devices must be at least 1")
    tokens = activation_tokens(engine, batch_tokens, device_memory_gib)
    if engine.activation_rule == "llama_cpp_compute_buffer":
        pad = engine.context_pad_tokens
        n_ctx = -(-context_tokens * users // pad) * pad
        n_kv = -(-(n_ctx // users) // pad) * pad  # n_ctx_seq: the cells one sequence attends
        return _llama_cpp_bytes(arch, min(tokens, n_ctx), n_kv, flash_attention)
    if engine.activation_rule == "vllm_profile_peak":
        return _vllm_bytes(arch, tokens, n_devices)
    return _mlx_bytes(arch, tokens)
