"""Quantization formats: ggml tensor types, llama.cpp file types, and checkpoint formats."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sizer.schema.common import Entry, StrictModel

__all__ = ["QualityFigure", "QuantFormat"]

QuantKind = Literal[
    "ggml_type",  # one ggml tensor type (Q4_K, IQ2_XS, F16, MXFP4 ...): a block layout
    "gguf_file_type",  # a llama.cpp file type (Q4_K_M ...): a recipe that assigns ggml types per tensor
    "float",  # plain floating point checkpoints (BF16, FP16, FP32)
    "fp8",  # FP8 E4M3 weights with per-tensor / per-channel / block scales
    "microscaling",  # MXFP4 / NVFP4 block formats in safetensors checkpoints
    "gptq",
    "awq",
    "bitsandbytes",
    "mlx",
    "int_weight_only",  # generic INT8/INT4 weight-only (compressed-tensors / TensorRT-LLM style)
    "native",  # the checkpoint as its vendor ships it (mixes per model)
]


class QualityFigure(StrictModel):
    """A published measurement of what the format costs in quality."""

    mean_kld: float | None = Field(default=None, ge=0, description="Mean KL divergence vs the 16-bit model.")
    ppl_increase_percent: float | None = Field(
        default=None, description="Perplexity increase vs the 16-bit model, percent."
    )
    ppl: float | None = Field(default=None, gt=0, description="Measured perplexity of the quantized model.")
    ppl_increase: float | None = Field(
        default=None, description="Absolute perplexity increase vs the 16-bit model (negative: lower PPL)."
    )
    statement: str | None = Field(
        default=None, description="A published qualitative or benchmark claim, quoted or summarised."
    )
    measured_on: str = Field(description="Model and dataset the figure was measured on.")
    source: str = Field(description="URL of the measurement.", pattern=r"^https?://")


class QuantFormat(Entry):
    """A way of storing weights. Bits per weight are derived from the layout, never stored."""

    kind: Literal["quant"] = Field(default="quant", description="Entry kind marker.")
    format_kind: QuantKind = Field(description="Which family of format this is; decides which fields apply.")
    name: str = Field(description="The ecosystem's own spelling (Q4_K_M, FP8 block-128, GPTQ 4-bit g128).")
    # ggml tensor types
    ggml_type_id: int | None = Field(default=None, ge=0, description="GGMLQuantizationType value in GGUF files.")
    block_size: int | None = Field(default=None, ge=1, description="Weights per block (ggml types, MX/NV FP4).")
    type_size_bytes: int | None = Field(default=None, ge=1, description="Bytes per block (ggml types).")
    # llama.cpp file types
    llama_ftype_id: int | None = Field(default=None, ge=0, description="LLAMA_FTYPE value (general.file_type).")
    base_ggml_type: str | None = Field(default=None, description="The file type's base ggml type (Q4_K for Q4_K_M).")
    requires_imatrix: bool = Field(default=False, description="Only usable with an importance matrix.")
    # everything else
    weight_bits: float | None = Field(default=None, gt=0, le=32, description="Bits of one stored weight code.")
    group_size: int | None = Field(
        default=None, ge=-1, description="Weights sharing one scale along the input dimension; -1 = per column."
    )
    scale_bits: int | None = Field(default=None, ge=0, le=32, description="Bits of one scale value.")
    zero_point_bits: int | None = Field(default=None, ge=0, le=32, description="Bits of one zero point (0 if symmetric).")
    scale_granularity: Literal["tensor", "channel", "group", "block2d"] | None = Field(
        default=None, description="What one scale covers (block2d: a 128x128 tile as in DeepSeek FP8)."
    )
    has_g_idx: bool = Field(default=False, description="Stores a per-input-channel group index (GPTQ act-order).")
    double_quant_group_size: int | None = Field(
        default=None,
        ge=1,
        description="When the scales are themselves quantized (bitsandbytes double quant): scales per fp32 "
        "second-level scale (256).",
    )
    tensor_overhead_bytes: int = Field(
        default=0,
        ge=0,
        description="Fixed bytes stored once per quantized weight matrix (per expert for stacked experts): "
        "per-tensor fp32 scales (FP8 per-tensor 4, NVFP4 8), bitsandbytes code tables (1092).",
    )
    quantizes_embeddings: bool = Field(default=False, description="Token embedding is quantized too (MLX, GGUF).")
    quantizes_output: bool = Field(default=False, description="LM head is quantized too.")
    compute_precision: Literal["fp32", "fp16", "bf16", "fp8", "fp4", "int8", "int4", "native"] = Field(
        description="What the matmul kernels compute in on hardware that supports the format natively "
        "(weight-only formats dequantize to fp16/bf16)."
    )
    requires_native: Literal["fp8", "fp4", "mxfp4", "nvfp4", "int8"] | None = Field(
        default=None, description="Hardware format needed to compute in compute_precision (else weight-only)."
    )
    resolves_to: str | None = Field(
        default=None, description="For plain names users type (int4, fp8): the format id they mean."
    )
    applies_to: Literal["all_linear", "routed_experts"] = Field(
        default="all_linear",
        description="Which weights the format quantizes: every linear layer, or only the routed experts.",
    )
    other_tensors_format: str | None = Field(
        default=None,
        description="Format id for the quantizable tensors this one leaves out (a mixed native checkpoint: "
        "MXFP4 experts with BF16 elsewhere, FP4 experts with FP8 block-128 elsewhere).",
    )
    quality: list[QualityFigure] = Field(default_factory=list, description="Published quality figures.")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> QuantFormat:
        need: dict[str, tuple[str, ...]] = {
            "ggml_type": ("ggml_type_id", "block_size", "type_size_bytes"),
            "gguf_file_type": ("llama_ftype_id", "base_ggml_type"),
            "gptq": ("weight_bits", "group_size"),
            "awq": ("weight_bits", "group_size"),
            "microscaling": ("weight_bits", "block_size", "scale_bits"),
            "mlx": ("weight_bits", "group_size"),
            "fp8": ("scale_granularity",),
        }
        missing = [f for f in need.get(self.format_kind, ()) if getattr(self, f) is None]
        if missing and self.resolves_to is None:
            raise ValueError(f"a {self.format_kind} format needs {', '.join(missing)}")
        return self

    @property
    def bits_per_weight(self) -> float | None:
        """Exact for block layouts; None for recipes (they mix types)."""
        if self.block_size and self.type_size_bytes:
            return self.type_size_bytes * 8 / self.block_size
        return None
