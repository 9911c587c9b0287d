"""Speculative decoding: MTP layers (`fit --mtp N`) or a draft model (`fit --draft MODEL`).

Memory: MTP layers are then loaded (their bytes join the last layer's device); a draft model's weights and
KV cache are sharded over the GPUs like the target (vLLM's draft tensor parallel size defaults to the
target's). Speed: a step drafts N tokens (N sequential passes of one MTP layer, or of the draft model) and
verifies them in one pass of the target over N + 1 tokens per sequence; it yields the accepted drafts plus
one token. Acceptance comes from published figures (stated in the assumptions with their sources).
"""

from __future__ import annotations

from dataclasses import replace

from sizer.model.tensors import QuantizedTensor
from sizer.speed.serving import ServingModel, Speculation

__all__ = ["DRAFT_ACCEPTED_FRACTION", "MTP_ACCEPTANCE", "draft_speculation", "mtp_speculation", "mtp_tensors_loaded"]

# DeepSeek-V3 technical report, section 5.4.3: "the acceptance rate of the second token prediction ranges
# between 85% and 90%" (one MTP module); the low end, and the same rate assumed for each further drafted token.
MTP_ACCEPTANCE = 0.85
MTP_SOURCE = "https://arxiv.org/abs/2412.19437"
# llama.cpp speculative decoding, Llama-3-70B Q4_K_M with an 8B draft: 58.68% of drafted tokens accepted
# (best configuration, 8 drafted tokens, 4 prompts averaged).
DRAFT_ACCEPTED_FRACTION = 0.5868
DRAFT_SOURCE = "https://devquasar.com/uncategorized/speculative-decoding-tradeoffs-gpu-with-large-models-llama-70b-8b/"


def mtp_tensors_loaded(tensors: tuple[QuantizedTensor, ...], n_layers: int) -> tuple[QuantizedTensor, ...]:
    """The inventory with its MTP tensors loaded: they count like the last layer's (its device holds them)."""
    out = []
    for qt in tensors:
        if qt.tensor.is_mtp:
            qt = replace(qt, tensor=replace(qt.tensor, is_mtp=False, layer=n_layers - 1))
        out.append(qt)
    return tuple(out)


def mtp_speculation(model: ServingModel, n: int) -> Speculation:
    tokens = 1 + sum(MTP_ACCEPTANCE**i for i in range(1, n + 1))
    per_layer_s = model.memory_roofline_s(0, 0.0) / max(model.layers, 1)  # one decoder layer's weights
    basis = (f"MTP: {n} drafted token(s) per step, each accepted with probability {MTP_ACCEPTANCE:.0%} (DeepSeek-V3 "
             f"report, {MTP_SOURCE}): {tokens:.2f} tokens per step; each draft reads about one layer's weights")
    return Speculation(n, tokens, n * per_layer_s, n, basis)


def draft_speculation(model: ServingModel, n: int, draft_read_s: float, draft_layers: int, name: str) -> Speculation:
    tokens = 1 + DRAFT_ACCEPTED_FRACTION * n
    basis = (f"draft model {name}: {n} drafted tokens per step, {DRAFT_ACCEPTED_FRACTION:.1%} accepted (llama.cpp, "
             f"Llama-3-70B with an 8B draft, {DRAFT_SOURCE}): {tokens:.2f} tokens per step")
    return Speculation(n, tokens, n * draft_read_s, n * draft_layers, basis)
