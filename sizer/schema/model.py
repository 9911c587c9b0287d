"""Models: architecture facts (the ModelSpec the tensor inventory is built from) and official counts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sizer.limits import (
    MAX_CONTEXT_TOKENS,
    MAX_EXPERTS,
    MAX_HEAD_DIM,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_PARAMS,
    MAX_VOCAB,
    MAX_WIDTH,
)
from sizer.schema.common import Entry, SourceUrl, StrictModel

__all__ = ["Architecture", "Conversion", "Family", "ModelEntry", "OfficialCount", "RopeScaling"]

Family = Literal[
    "llama",  # Llama 2/3/3.1/3.2/3.3, Mistral, Mistral Small/Large: dense GQA
    "qwen2",  # dense GQA with q/k/v bias
    "qwen3",  # dense GQA with q/k norm
    "phi3",  # dense GQA with fused qkv and gate_up (same counts)
    "gemma2",  # 4 norms per layer, tied, alternating sliding window
    "gemma3",  # 4 norms per layer, q/k norm, tied, 5:1 sliding window
    "mixtral",  # MoE, every layer, no shared expert
    "qwen3_moe",  # MoE, every layer, q/k norm
    "llama4",  # MoE with shared expert, interleaved dense layers, chunked attention
    "gpt_oss",  # MoE with biases and attention sinks, alternating sliding window, MXFP4 experts
    "glm4_moe",  # GQA + bias, first dense layers, shared expert, MTP layer
    "minimax_m2",  # GQA with wide q/k norm, MoE with router bias
    "deepseek_v3",  # MLA + MoE (DeepSeek V3/R1/V3.1, Kimi K2)
    "deepseek_v32",  # deepseek_v3 + sparse-attention lightning indexer
    "deepseek_v4",  # compressed attention (window + CSA/HCA rows), hash-routed layers, mHC
    "deepseek_v41",  # deepseek_v4 + Engram tables
    "qwen3_next",  # hybrid Gated DeltaNet / gated full attention, MoE with shared expert
]


class Architecture(StrictModel):
    """Everything the tensor inventory and the KV cache need. Names follow Hugging Face config.json.

    Fields that a family does not use stay null; `Architecture.check_family` says which are required.
    """

    family: Family = Field(description="Architecture family: decides which tensors exist.")
    hidden_size: int = Field(ge=1, le=MAX_WIDTH, description="Model width (d_model).")
    num_hidden_layers: int = Field(ge=1, le=MAX_LAYERS, description="Decoder layers, without MTP layers.")
    num_attention_heads: int = Field(ge=1, le=MAX_HEADS, description="Query heads.")
    num_key_value_heads: int = Field(ge=1, le=MAX_HEADS, description="KV heads (1 for MQA-like single-latent attention).")
    head_dim: int = Field(ge=1, le=MAX_HEAD_DIM, description="Per-head dimension of q/k/v (for MLA see the MLA fields).")
    intermediate_size: int | None = Field(
        default=None,
        ge=1, le=MAX_WIDTH,
        description="Dense MLP width; for MoE models the width of their dense layers (first_k_dense_replace "
        "layers, Llama 4 Maverick's non-MoE layers: config.json's intermediate_size_mlp).",
    )
    vocab_size: int = Field(ge=1, le=MAX_VOCAB, description="Rows of the token embedding.")
    tie_word_embeddings: bool = Field(description="LM head shares the token embedding (no separate output tensor).")
    max_position_embeddings: int = Field(
        ge=1, le=MAX_CONTEXT_TOKENS, description="Longest context the model was trained/configured for."
    )
    attention_bias: bool = Field(default=False, description="q/k/v projections have biases (Qwen2, GLM, gpt-oss).")
    attention_output_bias: bool = Field(default=False, description="Output projection has a bias (gpt-oss).")
    qk_norm: bool = Field(default=False, description="Per-head RMSNorm on q and k (Qwen3, Gemma 3, GLM-4.5).")
    qk_norm_full_width: bool = Field(
        default=False, description="q/k norms span all heads (width heads x head_dim) instead of one head (MiniMax)."
    )
    attention_sinks: bool = Field(default=False, description="A learned sink logit per head per layer (gpt-oss).")
    attention_output_gate: bool = Field(
        default=False, description="q_proj also produces an output gate (width 2 x heads x head_dim; Qwen3-Next)."
    )
    norms_per_layer: int = Field(default=2, ge=1, le=6, description="RMSNorm weight vectors per layer.")
    # local / linear attention pattern: layer i is "local" unless (i + 1) % local_layer_period == 0
    local_layer_kind: Literal["sliding_window", "chunked", "linear_attention"] | None = Field(
        default=None, description="What the non-global layers do."
    )
    local_layer_period: int | None = Field(
        default=None,
        ge=1, le=MAX_LAYERS,
        description="Every local_layer_period-th layer is global/full attention; the others are local. "
        "1 means every layer is local (e.g. Mistral 7B v0.1 sliding window).",
    )
    local_window_tokens: int | None = Field(
        default=None, ge=1, le=MAX_CONTEXT_TOKENS, description="Window (or chunk) of local layers."
    )
    # MLA
    q_lora_rank: int | None = Field(default=None, ge=1, le=MAX_WIDTH, description="MLA / V4 query low-rank dimension.")
    kv_lora_rank: int | None = Field(default=None, ge=1, le=MAX_WIDTH, description="MLA compressed KV latent width.")
    qk_nope_head_dim: int | None = Field(default=None, ge=1, le=MAX_HEAD_DIM, description="MLA per-head q/k part without RoPE.")
    qk_rope_head_dim: int | None = Field(
        default=None, ge=1, le=MAX_HEAD_DIM, description="MLA per-head q/k RoPE part (shared k)."
    )
    v_head_dim: int | None = Field(default=None, ge=1, le=MAX_HEAD_DIM, description="MLA per-head value dimension.")
    # MoE
    n_routed_experts: int | None = Field(default=None, ge=1, le=MAX_EXPERTS, description="Routed experts per MoE layer.")
    num_experts_per_tok: int | None = Field(
        default=None, ge=1, le=MAX_EXPERTS, description="Routed experts a token uses (top-k)."
    )
    n_shared_experts: int = Field(default=0, ge=0, le=MAX_EXPERTS, description="Shared experts per MoE layer.")
    moe_intermediate_size: int | None = Field(default=None, ge=1, le=MAX_WIDTH, description="Width of one routed expert.")
    shared_expert_intermediate_size: int | None = Field(
        default=None, ge=1, le=MAX_WIDTH, description="Width of one shared expert if different from moe_intermediate_size."
    )
    first_k_dense_replace: int = Field(default=0, ge=0, le=MAX_LAYERS, description="The first k layers use a dense MLP.")
    moe_layer_period: int = Field(
        default=1, ge=1, le=MAX_LAYERS, description="MoE every N-th layer (Llama 4 Maverick: 2, layers 1, 3, 5 ... are MoE)."
    )
    router_bias: bool = Field(default=False, description="Router has a bias / score-correction vector.")
    expert_bias: bool = Field(default=False, description="Expert projections have biases (gpt-oss).")
    shared_expert_gate: bool = Field(default=False, description="A sigmoid gate vector on the shared expert (Qwen3-Next).")
    n_hash_routed_layers: int = Field(
        default=0, ge=0, le=MAX_LAYERS, description="Leading layers routed by a fixed token-id table instead of a router (V4)."
    )
    num_nextn_predict_layers: int = Field(
        default=0, ge=0, le=MAX_LAYERS, description="Multi-token-prediction layers (not loaded by default)."
    )
    mtp_n_routed_experts: int | None = Field(
        default=None, ge=1, le=MAX_EXPERTS,
        description="Routed experts of each MTP layer when not n_routed_experts (V4.1 DSpark: 128)."
    )
    mtp_num_experts_per_tok: int | None = Field(
        default=None, ge=1, le=MAX_EXPERTS, description="Top-k of the MTP layers when not num_experts_per_tok (V4.1 DSpark: 3)."
    )
    # DeepSeek sparse attention indexer (V3.2, V4)
    index_n_heads: int | None = Field(default=None, ge=1, le=MAX_HEADS, description="Lightning-indexer heads.")
    index_head_dim: int | None = Field(
        default=None, ge=1, le=MAX_HEAD_DIM, description="Lightning-indexer key width (cached per token)."
    )
    index_topk: int | None = Field(default=None, ge=1, le=MAX_CONTEXT_TOKENS, description="Tokens (or rows) the indexer selects.")
    # DeepSeek V4 compressed attention
    o_groups: int | None = Field(default=None, ge=1, le=MAX_HEADS, description="V4 grouped low-rank output projection groups.")
    o_lora_rank: int | None = Field(default=None, ge=1, le=MAX_WIDTH, description="V4 output projection rank per group.")
    window_only_layers: int = Field(default=0, ge=0, le=MAX_LAYERS, description="V4: leading layers with only the raw window.")
    compress_ratios: tuple[int, ...] = Field(
        default=(),
        strict=False,
        description="V4: compression ratios the layers after window_only_layers cycle through (e.g. [4, 128]: "
        "CSA then HCA); a list as long as those layers is the per-layer schedule (0 = window only).",
    )
    hc_mult: int | None = Field(default=None, ge=1, le=MAX_HEADS, description="mHC residual streams.")
    kv_source_layers: tuple[int, ...] = Field(
        default=(),
        strict=False,
        description="V4.1 CSA2: layers that compute and cache compressed KV (and index keys); the layers "
        "after a source, up to the next one, reuse its cache.",
    )
    index_source_layers: tuple[int, ...] = Field(
        default=(),
        strict=False,
        description="V4.1 CSA2: layers with a lightning indexer (re-selecting the top-k compressed rows).",
    )
    # Engram (DeepSeek V4.1)
    engram_layers: tuple[int, ...] = Field(default=(), strict=False, description="Layers with an Engram table.")
    engram_rows_per_table: tuple[int, ...] = Field(
        default=(),
        strict=False,
        description="Rows of each Engram table, in engram_layers order (V4.1: 384006168 and 384016682, "
        "each the sum of its layer's hash-bucket primes).",
    )
    engram_row_width: int | None = Field(default=None, ge=1, le=MAX_WIDTH, description="Values per Engram row.")
    engram_rows_per_token: int | None = Field(
        default=None, ge=1, le=MAX_CONTEXT_TOKENS, description="Rows a token reads (all tables)."
    )
    # Qwen3-Next Gated DeltaNet
    linear_num_key_heads: int | None = Field(default=None, ge=1, le=MAX_HEADS, description="DeltaNet key heads.")
    linear_num_value_heads: int | None = Field(default=None, ge=1, le=MAX_HEADS, description="DeltaNet value heads.")
    linear_key_head_dim: int | None = Field(default=None, ge=1, le=MAX_HEAD_DIM, description="DeltaNet key head width.")
    linear_value_head_dim: int | None = Field(default=None, ge=1, le=MAX_HEAD_DIM, description="DeltaNet value head width.")
    linear_conv_kernel_dim: int | None = Field(
        default=None, ge=1, le=MAX_HEAD_DIM, description="DeltaNet short convolution kernel."
    )

    @property
    def is_moe(self) -> bool:
        return self.n_routed_experts is not None

    @model_validator(mode="after")
    def check_family(self) -> Architecture:
        required: dict[str, tuple[str, ...]] = {
            "moe": ("n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"),
            "mla": ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"),
            "dense": ("intermediate_size",),
        }
        groups = {
            "llama": ("dense",), "qwen2": ("dense",), "qwen3": ("dense",), "phi3": ("dense",),
            "gemma2": ("dense",), "gemma3": ("dense",),
            "mixtral": ("moe",), "qwen3_moe": ("moe",), "llama4": ("moe",), "gpt_oss": ("moe",),
            "glm4_moe": ("moe",), "minimax_m2": ("moe",), "qwen3_next": ("moe",),
            "deepseek_v3": ("moe", "mla"), "deepseek_v32": ("moe", "mla"),
            "deepseek_v4": ("moe",), "deepseek_v41": ("moe",),
        }
        missing = [f for g in groups[self.family] for f in required[g] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"family {self.family} needs {', '.join(missing)}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if (self.num_experts_per_tok or 0) > (self.n_routed_experts or 0):
            raise ValueError("num_experts_per_tok exceeds n_routed_experts")
        return self


class OfficialCount(StrictModel):
    """A parameter count as the vendor states it."""

    value: int = Field(gt=0, le=MAX_PARAMS, description="Parameters, as an integer (671B = 671000000000).")
    source: str = Field(pattern=r"^https?://", description="Where the vendor states it.")
    includes: str | None = Field(
        default=None, description="What the vendor counts (e.g. 'vision encoder', 'embedding excluded')."
    )
    embeddings: Literal["both", "output_only", "none"] = Field(
        default="both",
        description="For active counts: which of the token embedding table and the LM head the figure counts "
        "('both'; 'output_only': the head but not the embedding, as gpt-oss; 'none': neither, as GLM-4.5).",
    )
    includes_mtp: bool = Field(
        default=False,
        description="The figure counts the multi-token-prediction layers (HF safetensors totals such as "
        "DeepSeek-V3.2's 685B do); recomputations then add the MTP tensors.",
    )
    tolerance_pct: float | None = Field(
        default=None,
        gt=0,
        le=10,
        strict=False,
        description="Accepted gap, in percent, between this figure and the recomputed count when the vendor "
        "states a rounded headline that cannot be matched more closely; the entry's count_residue says why. "
        "Null: the default (0.5% for totals, 3% for active counts).",
    )


class RopeScaling(StrictModel):
    """How the model reaches `context_length` beyond the positions it was trained on (the card's setting)."""

    rope_type: Literal["yarn"] = Field(description="RoPE scaling method the card asks for.")
    factor: float = Field(gt=1, description="Scaling factor (context_length / original_max_position_embeddings).")
    original_max_position_embeddings: int = Field(ge=1, description="Positions the model was trained on.")
    source: SourceUrl = Field(description="The model card section that gives the setting.")


class Conversion(StrictModel):
    """A published conversion of the model (a GGUF repo, an FP8 / AWQ checkpoint, an MLX build), so launch
    commands can name a real repo instead of a placeholder."""

    repo: str = Field(pattern=r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$", description="Hugging Face repo, org/name.")
    format: Literal["gguf", "safetensors", "mlx"] = Field(
        description="gguf: llama.cpp files (one per file type, picked with repo:QUANT); safetensors: a checkpoint "
        "vLLM / SGLang load; mlx: an MLX build.")
    quants: list[str] = Field(
        default_factory=list,
        description="Catalog quant ids the repo holds (fp8-block128, awq-int4-g128, mlx-4bit ...); empty for a "
        "GGUF repo, which holds the common file types (the launch command names the one chosen).")
    publisher: str | None = Field(default=None, description="Who published it (unsloth, bartowski, the vendor ...).")
    source: str = Field(pattern=r"^https?://", description="Where the repo was confirmed to exist.")


class ModelEntry(Entry):
    """An open-weight model."""

    kind: Literal["model"] = Field(default="model", description="Entry kind marker.")
    name: str = Field(description="Display name.")
    vendor: str = Field(description="Who released it.")
    hf_repos: list[str] = Field(
        min_length=1, description="Hugging Face repositories with this architecture (base, instruct, variants)."
    )
    architecture: Architecture = Field(description="Architecture facts.")
    total_params: OfficialCount = Field(description="Official total parameter count.")
    active_params: OfficialCount | None = Field(default=None, description="Official active parameters per token (MoE).")
    count_residue: str | None = Field(
        default=None,
        description="What the official count holds that the text inventory does not (vision tower, MTP, rounding).",
    )
    extra_params: int = Field(
        default=0, ge=0, le=MAX_PARAMS, description="Parameters outside the language model inventory (vision tower, projector)."
    )
    context_length: int = Field(ge=1, le=MAX_CONTEXT_TOKENS, description="Supported context length in tokens.")
    rope_scaling: RopeScaling | None = Field(
        default=None,
        description="The RoPE scaling the card asks for beyond the trained positions (not in config.json as "
        "released); launch commands set it when the context needs it.",
    )
    native_quant: str = Field(description="Quant format id of the released checkpoint (bf16, fp8-block128, ...).")
    conversions: list[Conversion] = Field(
        default_factory=list,
        description="Published conversions (GGUF repos, official FP8 / AWQ checkpoints, MLX builds), each with "
        "where it was confirmed; launch commands name these instead of placeholders.")
    license: str | None = Field(default=None, description="Licence name.")
    release_date: str | None = Field(default=None, description="Release date, YYYY-MM(-DD).")
