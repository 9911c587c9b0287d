"""The tensor inventory's records: every later number is a sum over these.

Shapes use ggml order, as GGUF stores them: ``shape[0]`` (ne0) is the row length, i.e. the input
dimension of a matmul weight (in_features); ``shape[1]`` is the number of rows (out_features);
``shape[2]``, when present, is the number of stacked routed experts. A Hugging Face tensor of shape
``[out, in]`` becomes ``(in, out)`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from math import prod

__all__ = ["Role", "Tensor", "QuantizedTensor"]


class Role(str, Enum):
    """What a tensor is for: decides placement (what may live in host RAM) and what a token reads."""

    EMBEDDING = "embedding"  # token embedding table: a token reads one row
    OUTPUT = "output"  # LM head (untied)
    NORM = "norm"  # norm weights, biases, sinks and other 1-D vectors
    ATTENTION = "attention"  # attention projections (incl. MLA low-rank, linear-attention mixers)
    INDEXER = "indexer"  # DeepSeek sparse-attention lightning indexer / compressor
    DENSE_FFN = "dense_ffn"  # dense MLP of a non-MoE layer
    SHARED_EXPERT = "shared_expert"  # MoE shared expert(s): every token reads them
    ROUTED_EXPERT = "routed_expert"  # stacked routed experts: a token reads top-k of n
    ROUTER = "router"  # MoE gate (and its bias)
    ENGRAM = "engram"  # Engram n-gram tables: a token reads a few rows
    OTHER = "other"  # mixing parameters etc.


@dataclass(frozen=True, slots=True)
class Tensor:
    """One tensor of a model, as a GGUF or safetensors file would hold it."""

    name: str  # GGUF-style name, e.g. "blk.3.ffn_up_exps.weight"
    kind: str  # tensor class, e.g. "ffn_up_exps", "attn_kv_a_mqa", "token_embd", "output_norm"
    layer: int | None  # block index; None for tensors outside the blocks
    shape: tuple[int, ...]  # ggml order (ne0 = row length, ne1 = rows, ne2 = experts)
    role: Role
    is_mtp: bool = False  # belongs to a multi-token-prediction layer (not loaded by default)
    n_experts: int = 1  # routed experts stacked in this tensor (shape[2] for *_exps)

    @property
    def elements(self) -> int:
        return prod(self.shape)

    @property
    def row_length(self) -> int:
        return self.shape[0]

    @property
    def is_routed_expert(self) -> bool:
        return self.role is Role.ROUTED_EXPERT


@dataclass(frozen=True, slots=True)
class QuantizedTensor:
    """A tensor with the storage type a quantization scheme gave it and its exact bytes.

    ``weights_bytes`` includes the scale / zero-point / index tensors that the format stores
    beside the weight (FP8 ``weight_scale_inv``, GPTQ ``scales``/``qzeros``/``g_idx``, ...).
    """

    tensor: Tensor
    qtype: str  # storage type name in the ecosystem's own spelling: "Q4_K", "BF16", "FP8 block-128"
    weights_bytes: int
