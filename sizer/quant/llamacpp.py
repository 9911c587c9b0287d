"""llama-quantize's choice of a ggml type per tensor, for the llama.cpp file types (Q4_K_M ...).

A faithful port of ``llama_tensor_get_type_impl`` and ``tensor_type_fallback`` in llama.cpp
``src/llama-quant.cpp`` (the tensor list itself: `sizer._quant_gguf`). Checked tensor by tensor
against ``llama-quantize --dry-run`` (llama.cpp as vendored by llama-cpp-python 0.3.36) for 32 file
types on synthetic dense/MoE models and 11 file types on 14 catalog models:

- Tensors are visited in llama.cpp's order (globals first, then by block number, then by name), so
  the running counters (``i_attention_wv`` over attn_v-like tensors, ``i_ffn_down`` ...) match.
- Not quantized (kept as converted): tensors with fewer than two dimensions as ggml counts them
  (trailing 1s dropped), names not ending in ``weight``, ``*_norm.weight``, the router
  ``ffn_gate_inp``, ``ffn_gate_tid2eid`` and the other names of ``tensor_allows_quantization``.
  Their converted type is F32 (1-D, norms, routers, biases, conv1d, DSA indexer proj), I32 for the
  DeepSeek-V4 token-to-expert table, else the converter's outtype, taken as BF16 (the default for
  BF16 checkpoints).
- Family-specific tensors (engram_*, indexer_*, hc_*) follow the same name rules: 2-D weights
  get the recipe's type for their category (usually the base type), 1-D ones stay F32.
- MLA: current conversions split ``attn_kv_b`` into ``attn_k_b`` (rows qk_nope_head_dim long) and
  ``attn_v_b`` (rows kv_lora_rank long), both 3-D (one slice per head) and neither attn_v-like.
  When the caller gives those sizes (``Hints.mla``) the split is reproduced; the qtype is then
  ``"<k_b type>+<v_b type>"`` and the bytes are the sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sizer.errors import BadValueError, FormatNotMadeError
from sizer.model.tensors import Tensor
from sizer.quant.ggml_types import ATTN_V_LIKE, BLK, Cat, Layouts, ggml_bytes, ggml_n_dims, prepare

__all__ = ["FALLBACK", "Hints", "ggml_bytes", "ggml_n_dims", "gguf_tensor_types"]

# fmt: off
FALLBACK: dict[str, str] = {  # tensor_type_fallback: row length not divisible by the block size
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL", "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL",
    "Q2_0": "Q4_0", "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
_FLOAT_FTYPES = frozenset({"F32", "F16", "BF16"})  # ggml_is_quantized(default type) is false: no recipe
_IQ_GROUP = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_OUTPUT_Q5K = frozenset({"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_TOKEN_EMBD = {  # untied token_embd, by file type
    "IQ2_XXS": "Q2_K", "IQ2_XS": "Q2_K", "IQ1_S": "Q2_K", "IQ1_M": "Q2_K",
    "IQ2_S": "IQ3_S", "IQ2_M": "IQ3_S", "IQ3_XXS": "IQ3_S", "TQ1_0": "Q4_K", "TQ2_0": "Q4_K", "Q2_0": "Q4_K",
}
_ATTN_OUT_Q5K_8EXP = frozenset({  # attn_output -> Q5_K in 8-expert models
    "Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS",
})
# fmt: on


@dataclass(frozen=True, slots=True)
class Hints:
    """The model facts llama-quantize reads besides tensor names and shapes."""

    n_layer: int  # block count as the GGUF states it (MTP blocks count only when kept)
    n_gqa: int  # n_head / n_head_kv of the GGUF (MLA conversions write n_head_kv = 1)
    n_expert: int  # routed experts per MoE layer, 0 for dense models
    is_70b: bool = False  # llama.cpp LLM_TYPE_70B: Llama (GQA) or Qwen2 with 80 layers
    mla: tuple[int, int, int] | None = None  # (n_head, qk_nope_head_dim, v_head_dim): split attn_kv_b


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


@dataclass(slots=True)
class _State:
    n_attention_wv: int = 0
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    tied: bool = True


def _layer(name: str, counter: int, h: Hints) -> int:
    """layer_info: a running counter for dense models, the parsed block number for MoE models."""
    if h.n_expert > 1:
        m = BLK.match(name)
        if m is None:
            raise BadValueError(f"cannot determine the layer of {name}")
        return int(m.group(1))
    return counter


def _recipe(
    ft: str, new: str, t: Tensor, cat: Cat, st: _State, h: Hints, imatrix: bool, layouts: Layouts
) -> str:
    """llama_tensor_get_type_impl: `new` starts as the file type's base type."""
    name, n, ne2 = t.name, h.n_layer, (t.shape[2] if len(t.shape) > 2 else 1)
    gqa4 = h.n_gqa >= 4
    if cat is Cat.OUTPUT or (st.tied and cat is Cat.TOKEN_EMBD):
        if ft == "MXFP4_MOE" or t.shape[0] % layouts[new][0]:
            return "Q8_0"
        if ft in _OUTPUT_Q5K:
            return "Q5_K"
        return new if new == "Q8_0" else "Q6_K"
    if ft == "MXFP4_MOE":
        return "MXFP4" if ne2 > 1 else "Q8_0"
    if cat is Cat.TOKEN_EMBD:
        return _TOKEN_EMBD.get(ft, new)
    if ft in _IQ_GROUP:
        if cat in ATTN_V_LIKE:
            st.i_attention_wv += 1
            if gqa4 or h.n_expert >= 4:
                return "Q4_K"
            return "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K"
        if h.n_expert == 8 and cat is Cat.ATTN_K:
            return "Q4_K"
        if cat is Cat.FFN_DOWN:
            if st.i_ffn_down < n // 8:  # always the running counter, even for MoE models
                new = "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K"
            st.i_ffn_down += 1
            return new
        if cat is Cat.ATTN_OUTPUT:
            if h.n_expert == 8:
                return "Q5_K"
            if ft in ("IQ1_S", "IQ1_M"):
                return "IQ2_XXS"
            if ft in ("IQ2_S", "IQ2_M"):
                return "IQ3_S"
        return new
    if cat in ATTN_V_LIKE:
        i_v, n_v = st.i_attention_wv, st.n_attention_wv
        st.i_attention_wv += 1
        if ft == "Q2_K":
            new = "Q4_K" if gqa4 else "Q3_K"
        elif ft == "Q2_K_S" and gqa4:
            new = "Q4_K"
        elif ft == "IQ3_XXS":
            new = "Q4_K" if gqa4 else ("IQ3_XXS" if imatrix else "IQ3_S")
        elif (ft in ("IQ3_XS", "IQ3_S") and gqa4) or ft == "IQ3_M":
            new = "Q4_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i_v < 2 else "Q4_K"
        elif ft == "Q3_K_L" or (ft in ("IQ4_NL", "IQ4_XS") and gqa4):
            new = "Q5_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i_v, n_v):
            new = "Q6_K"
        elif ft == "Q4_K_S" and i_v < 4:
            new = "Q5_K"
        if h.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        return "Q8_0" if h.n_expert == 8 else new
    if cat is Cat.ATTN_K:
        if h.n_expert == 8:
            return "Q8_0"
        return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ft, new)
    if cat is Cat.ATTN_Q:
        return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ft, new)
    if cat is Cat.FFN_DOWN:
        i = _layer(name, st.i_ffn_down, h)
        st.i_ffn_down += 1
        if ft == "Q2_K":
            return "Q3_K"
        if ft == "Q2_K_S":
            return "Q4_K" if i < n // 8 else new
        if ft == "IQ3_XXS" and not imatrix:
            return "Q4_K" if i < n // 8 else "Q3_K"
        if ft == "Q3_K_M":
            return "Q5_K" if i < n // 16 else "Q4_K"  # (not Falcon)
        if ft == "IQ3_M" and (i < n // 8 or (h.n_expert == 8 and _use_more_bits(i, n))):
            return "Q4_K"
        if ft == "Q3_K_L":
            return "Q5_K"
        if ft == "Q4_K_M":
            return "Q6_K" if _use_more_bits(i, n) else new
        if i < n // 8 and ft in ("IQ4_NL", "IQ4_XS") and not imatrix:
            return "Q5_K"
        if ft == "Q5_K_M" and _use_more_bits(i, n):
            return "Q6_K"
        if ft == "Q4_K_S" and i < n // 8:
            return "Q5_K"
        if ft in ("Q4_0", "Q5_0") and imatrix and i < n // 8:
            return "Q4_1" if ft == "Q4_0" else "Q5_1"
        return new
    if cat is Cat.ATTN_OUTPUT:
        if h.n_expert == 8:
            return "Q5_K" if ft in _ATTN_OUT_Q5K_8EXP else new
        return {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}.get(
            ft, new
        )
    if cat in (Cat.FFN_GATE, Cat.FFN_UP):
        if cat is Cat.FFN_GATE:
            i = _layer(name, st.i_ffn_gate, h)
            st.i_ffn_gate += 1
        else:
            i = _layer(name, st.i_ffn_up, h)
            st.i_ffn_up += 1
        if ft == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
            return "IQ3_XXS"
    return new


def _fallback(new: str, row: int, layouts: Layouts) -> str:
    """tensor_type_fallback: a type whose block does not divide the row length is replaced."""
    block = layouts[new][0]
    if row % block == 0:
        return new
    ret = FALLBACK.get(new)
    if ret is None:
        if block > 32:
            raise FormatNotMadeError(f"llama-quantize has no fallback for {new} on rows of {row} values")
        ret = new
    return ret if row % layouts[ret][0] == 0 else "F16"


def gguf_tensor_types(
    tensors: Sequence[Tensor],
    ftype: str,
    base: str,
    layouts: Layouts,
    hints: Hints,
    *,
    imatrix: bool = False,
    pure: bool = False,
    outtype: str = "BF16",
) -> list[tuple[Tensor, str, int]]:
    """(tensor, ggml type, bytes) for every tensor, in the input order, as llama-quantize writes them.

    `ftype` is llama-quantize's name (``Q4_K_M``), `base` its default ggml type (``Q4_K``).
    `pure` is ``--pure``: every quantizable tensor gets `base` (the row-size fallback still applies).
    The ftype-independent preparation is cached per `tensors` object (pass the same tuple again).
    """
    prep = prepare(tensors, hints.mla, outtype)
    st = _State(n_attention_wv=prep.n_attention_wv, tied=prep.tied)
    quantized = ftype not in _FLOAT_FTYPES
    names: list[list[str]] = [[] for _ in tensors]
    sizes = [0] * len(tensors)
    for index, t, cat, kept in prep.visits:
        if kept is not None:
            qtype = kept
        elif not quantized:
            qtype = base
        else:
            new = base if pure else _recipe(ftype, base, t, cat, st, hints, imatrix, layouts)
            qtype = _fallback(new, t.shape[0], layouts)
        names[index].append(qtype)
        sizes[index] += ggml_bytes(t.shape, qtype, layouts)
    return [(t, "+".join(names[i]), sizes[i]) for i, t in enumerate(tensors)]
