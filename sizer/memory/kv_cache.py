"""KV cache bytes per layer for a workload, computed the way each engine allocates them.

Cached width per token and layer (elements; bytes = elements x bytes per element of the KV dtype):

- GQA / MHA: ``2 x kv_heads x head_dim`` (K and V).
- MLA (deepseek_v3, deepseek_v32, Kimi K2): one latent of ``kv_lora_rank + qk_rope_head_dim`` and no
  separate V (576 values; 70,272 B/token over 61 layers in bf16). DeepSeek V3.2 adds its lightning-
  indexer key of ``index_head_dim`` per token per layer, stored as FP8 with one fp32 scale per 128
  values (132 B; DeepSeek's reference ``inference/model.py`` and vLLM) except in llama.cpp, which keeps
  it in the KV cache type (``llama-kv-cache-dsa.cpp``).
- Local layers (layer i is local unless ``(i + 1) % local_layer_period == 0``): sliding-window layers
  (Gemma 2/3, gpt-oss, Mistral v0.1) and Llama 4's chunked layers hold at most the window / chunk;
  linear-attention layers (Qwen3-Next Gated DeltaNet) hold a fixed state per sequence: the recurrent
  state ``v_heads x k_dim x v_dim`` plus the short-convolution state ``(kernel - 1) x (2 x k_heads x
  k_dim + v_heads x v_dim)`` (vLLM ``gated_delta_net_state_shape``, llama.cpp ``n_embd_r/n_embd_s``).
- DeepSeek V4: every layer keeps a raw window of ``local_window_tokens`` (128) rows of ``head_dim``
  (512, K = V); after ``window_only_layers`` the layers cycle through ``compress_ratios`` and add
  ``ceil(tokens / ratio)`` compressed rows, plus indexer keys per compressed row on ratio-4 (CSA)
  layers, plus the compressor's pending rows (fp32 kv and score, 2 x ratio rows of 2 x head_dim on CSA
  layers, ratio rows of head_dim on HCA layers: llama.cpp ``llama_dsv4_comp_state``) as fixed state.
  A ``compress_ratios`` as long as the non-window layers is simply the per-layer list.

Engine rules (chosen by the engine entry; ``engine=None`` is the model's reference code, exact):

- llama.cpp (``activation_rule: llama_cpp_compute_buffer``, also Ollama), as ``llama-server -c
  context x users -np users`` allocates (``llama-context.cpp``, ``llama-kv-cache*.cpp``): ``n_ctx =
  context x users`` padded to ``context_pad_tokens`` (256); each sequence gets a stream of ``n_ctx_seq
  = pad256(n_ctx / users)`` cells (``--kv-unified``: one stream of n_ctx cells shared by all); sliding-
  window layers hold ``pad256(min(n_ctx_seq, window + n_ubatch))`` cells per stream (unified:
  ``min(n_ctx, pad256(window x users + n_ubatch))``), or everything with ``--swa-full``; DeltaNet state
  is f32; the indexer keys use the KV cache type. DeepSeek V4 streams are always per sequence
  (``llama-kv-cache-dsv4.cpp``): compressed caches ``pad256(ceil(n_ctx_seq / ratio))`` cells, the raw
  window as an SWA cache. Checked against ``llama-fit-params --fit-print`` of the llama.cpp that
  llama-cpp-python 0.3.36 vendors (tests/test_kv_cache.py).
- vLLM (engine id ``vllm``): each sequence takes whole blocks
  of ``kv_block_tokens``. What it reserves per request (``kv_cache_interface.py``): sliding-window
  layers ``cdiv(min(window - 1 + max_num_batched_tokens, len), block) + 1`` blocks, chunked layers
  ``cdiv(min(chunk + max_num_batched_tokens, len), block)``; hybrid models group layers into equal-
  size groups sharing one page size, so a layer type whose count is not a multiple of the group size
  pays for padding layers (``kv_cache_planning._get_kv_cache_groups_uniform_page_size``: Gemma 3 27B's
  52 sliding layers are paid as 60). Linear-attention state is kept in the model dtype.
- Other engines (SGLang, TensorRT-LLM, MLX, KTransformers): each sequence rounded up to
  ``kv_block_tokens``; window layers hold the window rounded up to blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Literal

from sizer.errors import BadValueError, UnknownNameError, suggest
from sizer.schema import Architecture, Engine

__all__ = [
    "COMMON_KV_DTYPES",
    "KvDtype",
    "LayerKv",
    "kv_bytes_per_token",
    "kv_cache_per_layer",
    "kv_state_bytes",
    "kv_total_bytes",
    "resolve_kv_dtype",
]

LayerKind = Literal["full", "sliding_window", "chunked", "mla", "linear_attention", "compressed"]

# Bytes per cached element of the common KV cache types. ggml types are block formats (q8_0: 32 values in
# 34 bytes; gguf GGML_QUANT_SIZES); fp8_ds_mla is vLLM's DeepSeek layout: 656 B per 576-wide latent
# (512 fp8 + 4 fp32 scales + 64 bf16 rope values, FlashMLA); fp4_e2m1 / nvfp4: 16 values + 1 scale byte.
COMMON_KV_DTYPES: dict[str, float] = {
    "f32": 4.0, "f16": 2.0, "bf16": 2.0, "auto": 2.0,
    "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0, "fp8_inc": 1.0, "int8": 1.0,
    "fp8_ds_mla": 656 / 576,
    "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32, "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32,
    "fp4_e2m1": 9 / 16, "nvfp4": 9 / 16,
}
_SYNONYMS = {"float32": "f32", "fp32": "f32", "float16": "f16", "fp16": "f16", "half": "f16",
             "bfloat16": "bf16", "float8": "fp8", "float8_e4m3fn": "fp8_e4m3", "e4m3": "fp8_e4m3"}
_INDEXER_FP8_BYTES_PER_ELEMENT = 1 + 4 / 128  # fp8 key + one fp32 scale per 128 values (132 B per key)
_F32 = 4.0


@dataclass(frozen=True, slots=True)
class KvDtype:
    """A resolved KV cache element type."""

    name: str
    bytes_per_element: float


def _canon(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return _SYNONYMS.get(key, key)


def resolve_kv_dtype(name: str | None, engine: Engine | None = None) -> KvDtype:
    """The KV dtype a user named: the engine's own list first (its first entry when ``name`` is None).

    Raises BadValueError when the engine does not offer a known dtype, UnknownNameError for a name
    nobody uses.
    """
    if engine is not None:
        if name is None:
            first = engine.kv_cache_dtypes[0]
            return KvDtype(first.name, first.bytes_per_element)
        for d in engine.kv_cache_dtypes:
            if _canon(d.name) == _canon(name):
                return KvDtype(d.name, d.bytes_per_element)
        offered = ", ".join(d.name for d in engine.kv_cache_dtypes)
        if _canon(name) in COMMON_KV_DTYPES:
            raise BadValueError(f"{engine.name} does not offer KV cache dtype {name!r} (it offers: {offered})")
        raise UnknownNameError("KV cache dtype", name, suggest(name, [d.name for d in engine.kv_cache_dtypes]))
    key = _canon(name or "bf16")
    if key not in COMMON_KV_DTYPES:
        raise UnknownNameError("KV cache dtype", name or "", suggest(key, list(COMMON_KV_DTYPES)))
    return KvDtype(key, COMMON_KV_DTYPES[key])


@dataclass(frozen=True, slots=True)
class LayerKv:
    """One layer's KV for a workload, all sequences together (so placement can put it with its layer)."""

    layer: int
    kind: LayerKind
    cached_rows: int  # rows held per sequence (tokens; raw window + compressed rows for V4)
    cache_bytes: int  # rows x row bytes, all sequences: grows with context up to any cap
    state_bytes: int  # fixed per-sequence state (DeltaNet / compressor), all sequences

    @property
    def kv_bytes(self) -> int:
        return self.cache_bytes + self.state_bytes


@dataclass(frozen=True, slots=True)
class _Shape:
    kind: LayerKind
    row: int  # elements per cached row
    window: int = 0  # cap in tokens (sliding / chunked) or V4 raw window
    ratio: int = 0  # V4 tokens per compressed row (0: none)
    index: int = 0  # indexer key elements per row (V3.2 every token; V4 CSA compressed rows)
    state_f32: int = 0  # fixed state elements that engines keep in f32 (V4 compressor)
    state_conv: int = 0  # DeltaNet conv state elements
    state_recurrent: int = 0  # DeltaNet recurrent state elements
    per_seq: bool = False  # DeepSeek V4 layer: raw window and compressed rows kept per sequence


@lru_cache(maxsize=512)
def _shapes(arch: Architecture) -> tuple[_Shape, ...]:
    """What each layer caches, from the architecture alone (cached: Architecture is frozen)."""
    fam, n = arch.family, arch.num_hidden_layers
    if fam in ("deepseek_v4", "deepseek_v41"):
        return tuple(_v4_shape(arch, i) for i in range(n))
    if arch.kv_lora_rank is not None:
        row = arch.kv_lora_rank + (arch.qk_rope_head_dim or 0)
        index = (arch.index_head_dim or 0) if fam == "deepseek_v32" else 0
        return (_Shape("mla", row, index=index),) * n
    gqa = 2 * arch.num_key_value_heads * arch.head_dim
    kind, period = arch.local_layer_kind, arch.local_layer_period
    if fam == "qwen3_next" and kind is None:
        kind, period = "linear_attention", 4  # HF Qwen3NextConfig.full_attention_interval default
    if kind is None or period is None:
        return (_Shape("full", gqa),) * n
    local = _local_shape(arch, kind, gqa)
    return tuple(_Shape("full", gqa) if (i + 1) % period == 0 else local for i in range(n))


def _local_shape(arch: Architecture, kind: str, gqa: int) -> _Shape:
    if kind == "linear_attention":
        kh, vh = arch.linear_num_key_heads or 0, arch.linear_num_value_heads or 0
        kd, vd = arch.linear_key_head_dim or 0, arch.linear_value_head_dim or 0
        conv = ((arch.linear_conv_kernel_dim or 4) - 1) * (2 * kh * kd + vh * vd)
        return _Shape("linear_attention", 0, state_conv=conv, state_recurrent=vh * kd * vd)
    if arch.local_window_tokens is None:
        raise BadValueError(f"{arch.family}: local layers need local_window_tokens")
    return _Shape("chunked" if kind == "chunked" else "sliding_window", gqa, window=arch.local_window_tokens)


def _v4_shape(arch: Architecture, i: int) -> _Shape:
    width, window = arch.head_dim, arch.local_window_tokens or 128
    ratios, skip = arch.compress_ratios, arch.window_only_layers
    ratio = ratios[(i - skip) % len(ratios)] if ratios and i >= skip else 0
    idx = arch.index_head_dim or 0
    if arch.kv_source_layers:  # V4.1 CSA2: only KV-source layers own a compressed cache, shared by later layers
        if i not in arch.kv_source_layers or ratio <= 0:
            return _Shape("sliding_window", width, window=window, per_seq=True)
        index = idx if i in arch.index_source_layers else 0
        state = 2 * ratio * width if ratio > 1 else 0
        return _Shape("compressed", width, window=window, ratio=ratio, index=index, state_f32=state, per_seq=True)
    if ratio <= 0:
        return _Shape("sliding_window", width, window=window, per_seq=True)
    if ratio == 4:  # CSA: overlapping compressor (2 x ratio rows of 2 x width) and an indexer of its own
        state = 2 * (2 * ratio) * (2 * width) + 2 * (2 * ratio) * (2 * idx)
        return _Shape("compressed", width, window=window, ratio=ratio, index=idx, state_f32=state, per_seq=True)
    return _Shape("compressed", width, window=window, ratio=ratio, state_f32=2 * ratio * width, per_seq=True)


def _rule(engine: Engine | None) -> str:
    if engine is None:
        return "reference"
    if engine.activation_rule == "llama_cpp_compute_buffer":
        return "llama_cpp"
    return "vllm" if engine.id == "vllm" else "paged"


def _bytes(x: float) -> int:
    """Whole bytes, forgiving float noise (576 x 1.0625 x n is exact in theory)."""
    return ceil(x - 1e-6)


def _up(x: int, m: int) -> int:
    return -(-x // m) * m if m > 1 else x


def _vllm_padding(shapes: tuple[_Shape, ...]) -> dict[str, tuple[int, int]]:
    """(layers, layers paid for) per layer kind in vLLM's equal-size KV cache groups (hybrid models)."""
    counts: dict[str, int] = {}
    for s in shapes:
        if s.kind in ("full", "sliding_window", "chunked") and not s.per_seq:
            counts[s.kind] = counts.get(s.kind, 0) + 1
    if len(counts) < 2:
        return {}
    lo, hi = min(counts.values()), max(counts.values())
    group = hi if hi < 1.5 * lo else lo
    return {k: (c, _up(c, group)) for k, c in counts.items()}


def kv_cache_per_layer(
    arch: Architecture,
    context_tokens: int,
    kv_bytes_per_element: float,
    *,
    engine: Engine | None = None,
    sequences: int = 1,
    batch_tokens: int | None = None,
    indexer_bytes_per_element: float | None = None,
    swa_full: bool = False,
    unified_kv: bool = False,
) -> tuple[LayerKv, ...]:
    """Every layer's KV bytes for ``sequences`` sequences of ``context_tokens`` tokens each.

    ``batch_tokens`` overrides the engine's micro-batch (llama.cpp n_ubatch, vLLM
    max_num_batched_tokens), which sliding-window caches reserve on top of the window.
    ``indexer_bytes_per_element`` overrides the engine's storage of sparse-attention indexer keys.
    ``swa_full`` and ``unified_kv`` are llama.cpp's ``--swa-full`` and ``--kv-unified``.
    """
    if context_tokens < 0 or sequences < 1 or kv_bytes_per_element <= 0:
        raise BadValueError("context must be >= 0 tokens, sequences >= 1 and KV bytes per element > 0")
    rule, shapes = _rule(engine), _shapes(arch)
    s, t = sequences, context_tokens
    batch = batch_tokens if batch_tokens is not None else (engine.activation_tokens if engine else 0)
    block = engine.kv_block_tokens if engine is not None else 1
    if indexer_bytes_per_element is None:
        indexer_bytes_per_element = kv_bytes_per_element if rule == "llama_cpp" else _INDEXER_FP8_BYTES_PER_ELEMENT
    recurrent_bytes = conv_bytes = _F32  # llama.cpp: f32; reference (HF): recurrent f32, conv model dtype
    if rule == "vllm":
        recurrent_bytes = conv_bytes = 2.0  # vLLM: mamba state in the model dtype (bf16)
    elif rule == "reference":
        conv_bytes = 2.0
    padding = _vllm_padding(shapes) if rule == "vllm" else {}

    pad = engine.context_pad_tokens if engine is not None else 1
    n_ctx = _up(t * s, pad)  # llama.cpp -c (context x users), padded
    ubatch = min(n_ctx, batch)  # llama.cpp n_ubatch never exceeds n_ctx
    seq_ctx = n_ctx if unified_kv else _up(n_ctx // s, pad)  # llama.cpp n_ctx_seq: cells of one stream
    if not unified_kv:
        n_ctx = seq_ctx * s  # one stream of n_ctx_seq cells per sequence
    seq_len = _up(t, block)  # paged engines: whole blocks per sequence

    out: list[LayerKv] = []
    for i, sh in enumerate(shapes):
        if sh.kind == "linear_attention":
            state = s * (sh.state_conv * conv_bytes + sh.state_recurrent * recurrent_bytes)
            out.append(LayerKv(i, sh.kind, 0, 0, _bytes(state)))
            continue
        row_bytes = sh.row * kv_bytes_per_element
        if sh.per_seq:  # DeepSeek V4: raw window (+ compressed rows + indexer keys), per sequence
            if rule == "llama_cpp":
                raw = seq_ctx if swa_full else min(seq_ctx, _up(sh.window + ubatch, 256))
                comp = _up(ceil(seq_ctx / sh.ratio), 256) if sh.ratio else 0
            elif rule == "reference":
                raw, comp = min(t, sh.window), (ceil(t / sh.ratio) if sh.ratio else 0)
            else:
                raw = _window_rows(rule, sh, t, 1, batch, block)
                comp = ceil(seq_len / sh.ratio) if sh.ratio else 0
            rows_per_seq = raw + comp
            cache = s * ((raw + comp) * row_bytes + comp * sh.index * indexer_bytes_per_element)
        elif sh.kind in ("full", "mla"):
            total_rows = n_ctx if rule == "llama_cpp" else s * seq_len
            rows_per_seq = total_rows // s
            cache = total_rows * (row_bytes + sh.index * indexer_bytes_per_element)
        elif rule == "llama_cpp":
            total_rows = _llama_cpp_window_rows(sh.window, s, n_ctx, seq_ctx, ubatch, swa_full, unified_kv)
            rows_per_seq = total_rows // s
            cache = total_rows * row_bytes
        else:
            total_rows = _window_rows(rule, sh, t, s, batch, block)
            rows_per_seq = total_rows // s
            cache = total_rows * row_bytes
        out.append(LayerKv(i, sh.kind, rows_per_seq, _bytes(cache), _bytes(s * sh.state_f32 * _F32)))
    return _spread_padding(out, padding) if padding else tuple(out)


def _spread_padding(layers: list[LayerKv], padding: dict[str, tuple[int, int]]) -> tuple[LayerKv, ...]:
    """Charge vLLM's padding layers to the real layers of their kind, in whole bytes."""
    out = list(layers)
    for kind, (count, padded) in padding.items():
        idx = [i for i, x in enumerate(out) if x.kind == kind]
        if padded == count or not idx:
            continue
        extra = out[idx[0]].cache_bytes * (padded - count)  # layers of one kind are identical
        share, rest = divmod(extra, len(idx))
        for n, i in enumerate(idx):
            x = out[i]
            out[i] = LayerKv(x.layer, x.kind, x.cached_rows, x.cache_bytes + share + (1 if n < rest else 0),
                             x.state_bytes)
    return tuple(out)


def _llama_cpp_window_rows(window: int, s: int, n_ctx: int, seq_ctx: int, ubatch: int, swa_full: bool,
                           unified: bool) -> int:
    """Cells of llama.cpp's SWA cache, all sequences (``llama_kv_cache_iswa``: padded to 256)."""
    if swa_full:
        return n_ctx
    if unified:  # one stream shared by every sequence
        return min(n_ctx, _up(window * s + ubatch, 256))
    return s * min(seq_ctx, _up(window + ubatch, 256))  # one stream per sequence


def _window_rows(rule: str, sh: _Shape, t: int, s: int, batch: int, block: int) -> int:
    """Rows a window-capped layer holds, all sequences (reference and paged engines)."""
    if rule == "reference":
        return s * min(t, sh.window)
    if rule == "vllm":
        if sh.kind == "chunked":
            return s * block * -(-min(sh.window + batch, t) // block)
        return s * block * (-(-min(sh.window - 1 + batch, t) // block) + 1)
    return s * min(_up(t, block), _up(sh.window, block))


def kv_total_bytes(layers: tuple[LayerKv, ...]) -> int:
    """KV bytes of all layers (cache and fixed state)."""
    return sum(x.kv_bytes for x in layers)


def kv_state_bytes(layers: tuple[LayerKv, ...]) -> int:
    """The fixed per-sequence part of the KV (DeltaNet / compressor state), all sequences."""
    return sum(x.state_bytes for x in layers)


def kv_bytes_per_token(
    arch: Architecture,
    kv_bytes_per_element: float,
    *,
    context_tokens: int | None = None,
    engine: Engine | None = None,
    indexer_bytes_per_element: float | None = None,
) -> float:
    """KV bytes one sequence adds per token.

    Without ``context_tokens``: the asymptotic cost (window-capped layers and fixed state add nothing;
    a V4 layer adds row / ratio). With it: the cache of one sequence at that context divided by it
    (fixed state excluded), under the engine's rules.
    """
    if context_tokens is None:
        idx = indexer_bytes_per_element
        if idx is None:
            idx = kv_bytes_per_element if _rule(engine) == "llama_cpp" else _INDEXER_FP8_BYTES_PER_ELEMENT
        total = 0.0
        for sh in _shapes(arch):
            if sh.kind in ("full", "mla"):
                total += sh.row * kv_bytes_per_element + sh.index * idx
            elif sh.kind == "compressed":
                total += (sh.row * kv_bytes_per_element + sh.index * idx) / sh.ratio
        return total
    if context_tokens <= 0:
        raise BadValueError("context_tokens must be positive")
    layers = kv_cache_per_layer(arch, context_tokens, kv_bytes_per_element, engine=engine,
                                indexer_bytes_per_element=indexer_bytes_per_element)
    return sum(x.cache_bytes for x in layers) / context_tokens
