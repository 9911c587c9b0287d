"""The tensor list llama-quantize walks: GGUF names, categories, what it may quantize, source types.

Private helper of `sizer.quant_llamacpp`:

- ``category``: llama.cpp's ``tensor_get_category`` (substring matches on the GGUF name).
- ``allows_quantization``: ``tensor_allows_quantization``; ggml counts dimensions up to the last
  one larger than 1, so a (2048, 1) gate is 1-D.
- ``converted_type``: what ``convert_hf_to_gguf.py`` wrote for a tensor llama-quantize leaves
  alone: F32 for 1-D tensors, norms, biases, routers, conv1d and the DSA indexer projection, I32 for
  the DeepSeek-V4 token-to-expert table, the converter's outtype (BF16 by default) otherwise.
- ``prepare``: the GGUF's tensors in llama.cpp's visiting order (globals, then by block number,
  then by name), with MLA ``attn_kv_b`` split into ``attn_k_b`` / ``attn_v_b`` as current
  conversions do; cached per tensor tuple because it does not depend on the file type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from sizer.errors import BadValueError
from sizer.model.tensors import Tensor

__all__ = [
    "ATTN_V_LIKE",
    "BLK",
    "Cat",
    "Layouts",
    "Prepared",
    "allows_quantization",
    "category",
    "converted_type",
    "ggml_bytes",
    "ggml_n_dims",
    "prepare",
]

Layouts = Mapping[str, tuple[int, int]]  # ggml type name -> (block size, bytes per block)

# fmt: off
_NEVER_QUANTIZED = (  # tensor_allows_quantization: substrings
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
    "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
    "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
    "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
    ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
    "a.rvq.codebook", "mm.a.code_embd",
)
# fmt: on
_NEVER_QUANTIZED_RE = re.compile("|".join(map(re.escape, _NEVER_QUANTIZED)))
_F32_AT_CONVERSION = (
    "ffn_gate_inp",
    "ssm_conv1d",
    "shortconv",
    "indexer.proj",
    "position_embd",
    "token_types",
)
BLK = re.compile(r"^blk\.(\d+)\.")


class Cat(Enum):
    """llama.cpp's tensor_category."""

    TOKEN_EMBD = 1
    ATTN_Q = 2
    ATTN_V = 3
    ATTN_K = 4
    ATTN_QKV = 5
    ATTN_KV_B = 6
    ATTN_OUTPUT = 7
    FFN_UP = 8
    FFN_GATE = 9
    FFN_DOWN = 10
    OUTPUT = 11
    OTHER = 12


ATTN_V_LIKE = frozenset({Cat.ATTN_V, Cat.ATTN_QKV, Cat.ATTN_KV_B})


def ggml_n_dims(shape: Sequence[int]) -> int:
    """ggml_n_dims: dimensions up to the last one larger than 1 (a (2048, 1) tensor is 1-D)."""
    for i in range(len(shape) - 1, 0, -1):
        if shape[i] > 1:
            return i + 1
    return 1


def ggml_bytes(shape: Sequence[int], qtype: str, layouts: Layouts) -> int:
    """Bytes of a tensor of `qtype`: rows x (row_length / block) x bytes_per_block (no partial blocks)."""
    block, size = layouts[qtype]
    if shape[0] % block:
        raise BadValueError(f"a row of {shape[0]} values is not a whole number of {qtype} blocks ({block})")
    rows = 1
    for n in shape[1:]:
        rows *= n
    return rows * (shape[0] // block) * size


def category(name: str) -> Cat:
    if name == "output.weight":
        return Cat.OUTPUT
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return Cat.TOKEN_EMBD
    for needle, cat in (
        ("attn_qkv.weight", Cat.ATTN_QKV),
        ("attn_kv_b.weight", Cat.ATTN_KV_B),
        ("attn_v.weight", Cat.ATTN_V),
        ("attn_k.weight", Cat.ATTN_K),
        ("attn_q.weight", Cat.ATTN_Q),
        ("attn_output.weight", Cat.ATTN_OUTPUT),
        ("ffn_up", Cat.FFN_UP),
        ("ffn_gate", Cat.FFN_GATE),
        ("ffn_down", Cat.FFN_DOWN),
    ):
        if needle in name:
            return cat
    return Cat.OTHER


def allows_quantization(t: Tensor) -> bool:
    name = t.name
    if ggml_n_dims(t.shape) < 2 or not name.endswith("weight"):
        return False
    if name in ("position_embd.weight", "token_types.weight"):
        return False
    return _NEVER_QUANTIZED_RE.search(name) is None


def converted_type(t: Tensor, outtype: str) -> str:
    """The type convert_hf_to_gguf.py writes (kept by llama-quantize for non-quantizable tensors)."""
    name = t.name
    if "tid2eid" in name:
        return "I32"
    if len(t.shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return "F32"
    if any(s in name for s in _F32_AT_CONVERSION):
        return "F32"
    return outtype


def _order_key(t: Tensor) -> tuple[int, str]:
    m = BLK.match(t.name)
    return (int(m.group(1)) if m else -1, t.name)


def _split_kv_b(t: Tensor, mla: tuple[int, int, int]) -> tuple[Tensor, Tensor]:
    n_head, nope, v_dim = mla
    kv_lora = t.shape[0]
    k_b = Tensor(
        t.name.replace("attn_kv_b", "attn_k_b"),
        "attn_k_b",
        t.layer,
        (nope, kv_lora, n_head),
        t.role,
        t.is_mtp,
    )
    v_b = Tensor(
        t.name.replace("attn_kv_b", "attn_v_b"),
        "attn_v_b",
        t.layer,
        (kv_lora, v_dim, n_head),
        t.role,
        t.is_mtp,
    )
    return k_b, v_b


@dataclass(frozen=True, slots=True)
class Prepared:
    """What does not depend on the file type: GGUF tensors in visiting order, categories, converted types."""

    source: Sequence[Tensor]
    mla: tuple[int, int, int] | None
    visits: tuple[
        tuple[int, Tensor, Cat, str | None], ...
    ]  # (input index, tensor, category, kept type or None)
    n_attention_wv: int
    tied: bool


_prepared: dict[tuple[int, tuple[int, int, int] | None, str], Prepared] = {}


def prepare(tensors: Sequence[Tensor], mla: tuple[int, int, int] | None, outtype: str) -> Prepared:
    key = (id(tensors), mla, outtype)
    hit = _prepared.get(key)
    if hit is not None and hit.source is tensors:
        return hit
    expanded: list[tuple[int, Tensor]] = []  # (index in `tensors`, tensor as the GGUF holds it)
    for index, t in enumerate(tensors):
        if mla is not None and t.kind == "attn_kv_b" and t.name.endswith(".weight"):
            expanded += [(index, part) for part in _split_kv_b(t, mla)]
        else:
            expanded.append((index, t))
    expanded.sort(key=lambda item: _order_key(item[1]))
    visits = tuple(
        (index, t, category(t.name), None if allows_quantization(t) else converted_type(t, outtype))
        for index, t in expanded
    )
    prepared = Prepared(
        tensors,
        mla,
        visits,
        n_attention_wv=sum(1 for v in visits if v[2] in ATTN_V_LIKE),
        tied=not any(v[2] is Cat.OUTPUT for v in visits),
    )
    if len(_prepared) >= 64:
        _prepared.clear()
    _prepared[key] = prepared
    return prepared
