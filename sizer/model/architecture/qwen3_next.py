"""Qwen3-Next inventory (family qwen3_next): Gated DeltaNet + gated full attention, sparse MoE.

Layer i is full attention when ``(i + 1) % local_layer_period == 0`` (period 4: layers 3, 7, ...,
47) and a Gated DeltaNet linear-attention layer otherwise (``local_layer_kind: linear_attention``).
Names follow llama.cpp's ``qwen3next`` conversion; shapes in ggml order ``(in, out)``:

- every layer: ``attn_norm`` and ``post_attention_norm`` (h) (input / post-attention RMSNorm);
- full attention: ``attn_q`` (h, 2 x heads x head_dim: query and output gate interleaved per head),
  ``attn_k``, ``attn_v`` (h, kv_heads x head_dim), ``attn_output`` (heads x head_dim, h),
  ``attn_q_norm``, ``attn_k_norm`` (head_dim);
- Gated DeltaNet: ``ssm_in`` (h, 2 x key_dim + 2 x value_dim) [in_proj_qkvz], ``ssm_ba``
  (h, 2 x value_heads) [in_proj_ba], ``ssm_conv1d`` (kernel, 2 x key_dim + value_dim) (depthwise;
  role OTHER: rows of 4 values cannot take block quantization), ``ssm_dt.bias`` and ``ssm_a``
  (value_heads) [dt_bias, A_log], ``ssm_norm`` (value_head_dim) (gated RMSNorm), ``ssm_out``
  (value_dim, h) [out_proj]; key_dim = key_heads x key_head_dim, value_dim likewise;
- MoE on every layer: ``ffn_gate_inp`` (h, E), ``ffn_*_exps``, ``ffn_*_shexp`` (width
  shared_expert_intermediate_size) and ``ffn_gate_inp_shexp`` (h) [shared_expert_gate], the shared
  expert's sigmoid gate (role ROUTER).

MTP (``mtp.*`` in the checkpoint, layer index num_hidden_layers, ``is_mtp``): one full-attention MoE
decoder layer plus ``nextn.eh_proj`` (2h, h) [mtp.fc], ``nextn.enorm`` / ``nextn.hnorm``
[pre_fc_norm_embedding / pre_fc_norm_hidden] and ``nextn.shared_head_norm`` [mtp.norm]; it shares
embedding and head.

KV cache: only the full-attention layers grow with context (12 of 48: 2 x kv_heads x head_dim =
1,024 values per token per layer, 24,576 B/token in BF16). Each DeltaNet layer holds a fixed state
per sequence: value_heads x key_head_dim x value_head_dim recurrent values (32 x 128 x 128 = 524,288,
usually FP32) plus a conv state of (kernel - 1) x (2 x key_dim + value_dim) values (3 x 8,192).
"""

from __future__ import annotations

from sizer.model.architecture._common import (
    decoder_stack,
    gqa_attention,
    is_local_layer,
    matrix,
    routed_experts,
    router,
    shared_head_mtp_layers,
    swiglu_mlp,
    vector,
)
from sizer.model.architecture.registry import register
from sizer.model.tensors import Role, Tensor
from sizer.schema import Architecture

__all__ = ["deltanet_state_values", "gated_deltanet"]


def _dims(arch: Architecture) -> tuple[int, int]:
    key_dim = (arch.linear_num_key_heads or 0) * (arch.linear_key_head_dim or 0)
    value_dim = (arch.linear_num_value_heads or 0) * (arch.linear_value_head_dim or 0)
    return key_dim, value_dim


def deltanet_state_values(arch: Architecture) -> tuple[int, int]:
    """Per DeltaNet layer and sequence: (recurrent state values, conv state values)."""
    key_dim, value_dim = _dims(arch)
    v_heads, k_dim = arch.linear_num_value_heads or 0, arch.linear_key_head_dim or 0
    recurrent = v_heads * k_dim * (arch.linear_value_head_dim or 0)
    conv = ((arch.linear_conv_kernel_dim or 1) - 1) * (2 * key_dim + value_dim)
    return recurrent, conv


def gated_deltanet(arch: Architecture, layer: int) -> list[Tensor]:
    """One Gated DeltaNet mixer (without its input norm)."""
    h, v_heads = arch.hidden_size, arch.linear_num_value_heads or 0
    key_dim, value_dim = _dims(arch)
    att = Role.ATTENTION
    return [
        matrix("ssm_in", layer, h, 2 * key_dim + 2 * value_dim, att),
        matrix("ssm_ba", layer, h, 2 * v_heads, att),
        matrix("ssm_conv1d", layer, arch.linear_conv_kernel_dim or 1, 2 * key_dim + value_dim, Role.OTHER),
        vector("ssm_dt", layer, v_heads, suffix="bias"),
        vector("ssm_a", layer, v_heads),
        vector("ssm_norm", layer, arch.linear_value_head_dim or 0),
        matrix("ssm_out", layer, value_dim, h, att),
    ]


def _decoder_layer(arch: Architecture, layer: int, *, is_mtp: bool) -> list[Tensor]:
    h = arch.hidden_size
    out = [vector("attn_norm", layer, h, is_mtp=is_mtp)]
    if not is_mtp and is_local_layer(arch, layer):
        out += gated_deltanet(arch, layer)
    else:
        out += gqa_attention(
            layer, hidden_size=h, n_heads=arch.num_attention_heads, n_kv_heads=arch.num_key_value_heads,
            head_dim=arch.head_dim, qk_norm="head" if arch.qk_norm else None,
            output_gate=arch.attention_output_gate, is_mtp=is_mtp,
        )
    out.append(vector("post_attention_norm", layer, h, is_mtp=is_mtp))
    n, fe = arch.n_routed_experts or 0, arch.moe_intermediate_size or 0
    out += router(layer, hidden_size=h, n_experts=n, is_mtp=is_mtp)
    out += routed_experts(layer, hidden_size=h, moe_intermediate_size=fe, n_experts=n, is_mtp=is_mtp)
    if arch.n_shared_experts:
        width = arch.shared_expert_intermediate_size or arch.n_shared_experts * fe
        out += swiglu_mlp(
            layer, hidden_size=h, intermediate_size=width, role=Role.SHARED_EXPERT, kind_suffix="_shexp",
            is_mtp=is_mtp,
        )
        if arch.shared_expert_gate:
            out.append(vector("ffn_gate_inp_shexp", layer, h, Role.ROUTER, is_mtp=is_mtp))
    return out


@register("qwen3_next")
def build(arch: Architecture) -> tuple[Tensor, ...]:
    """Every tensor of a Qwen3-Next checkpoint, MTP layer last."""
    return tuple(decoder_stack(arch, _decoder_layer) + shared_head_mtp_layers(arch, _decoder_layer))
