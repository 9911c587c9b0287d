"""MODEL references -> a resolved model: catalog id, Hugging Face repo name, model file, or raw counts.

Every form ends as an Architecture (for KV cache and activations) plus either a tensor inventory
(to be quantized) or, for GGUF and safetensors files, the file's own per-tensor types and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from pathlib import Path

from pydantic import ValidationError

from sizer.catalog.loading import Catalog
from sizer.errors import BadValueError, ModelFileError
from sizer.limits import MAX_CONTEXT_TOKENS, MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_PARAMS, MAX_WIDTH
from sizer.model.architecture import inventory
from sizer.model.architecture.counts import active_params, total_params
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.schema import Architecture, ModelEntry

__all__ = ["RawCounts", "ResolvedModel", "resolve_model"]

_FILE_SUFFIXES = (".gguf", ".json", ".safetensors")


@dataclass(frozen=True)
class RawCounts:
    """A model known only by numbers (`--params 1T --active 37B`), with optional shape facts."""

    params: int
    active: int | None = None
    layers: int | None = None
    hidden: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    context: int | None = None


@dataclass(frozen=True)
class ResolvedModel:
    id: str
    name: str
    source: str  # catalog | config | safetensors | gguf | raw
    arch: Architecture
    entry: ModelEntry | None = None
    tensors: tuple[Tensor, ...] | None = None  # inventory to quantize (None when the file fixes the types)
    file_tensors: tuple[QuantizedTensor, ...] | None = None  # a file's own types and bytes
    file_quant: str | None = None  # what the file holds, in words ("Q4_K_M", "BF16")
    quant_hint: str | None = None  # catalog quant id the file or config suggests
    total_params: int = 0
    active_params: int = 0
    assumptions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what an importer noticed (an unknown model_type read as dense GQA ...)


def _from_arch(id_: str, name: str, source: str, arch: Architecture, entry: ModelEntry | None = None,
               **kw: object) -> ResolvedModel:
    extra = entry.extra_params if entry else 0
    return ResolvedModel(id_, name, source, arch, entry, tensors=inventory(arch),
                         total_params=total_params(arch) + extra, active_params=active_params(arch), **kw)  # type: ignore[arg-type]


def resolve_model(ref: str | RawCounts, catalog: Catalog) -> ResolvedModel:
    if isinstance(ref, RawCounts):
        return raw_model(ref)
    path = Path(ref).expanduser()
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long to be a path, a NUL byte: not a file
        exists = False
    if exists or ref.endswith(_FILE_SUFFIXES):
        return _from_file(path, catalog)
    entry = catalog.model(ref)
    return _from_arch(entry.id, entry.name, "catalog", entry.architecture, entry)


def _from_file(path: Path, catalog: Catalog) -> ResolvedModel:
    from sizer.model.importers import load_model_file  # lazy: gguf / safetensors are heavy imports

    imported = load_model_file(path)
    arch = imported.architecture
    name = path.name if path.name != "config.json" else path.parent.name or path.name
    if imported.tensors:
        if arch is None:
            why = "; ".join(imported.warnings) or f"{path}: the file's architecture is not one sizer knows"
            raise ModelFileError(f"{why}; cannot size its KV cache")
        tensors = imported.tensors
        total = sum(qt.tensor.elements for qt in tensors if not qt.tensor.is_mtp)
        act = int(sum(qt.tensor.elements * (1.0 if qt.tensor.role is not Role.ROUTED_EXPERT
                                            else (arch.num_experts_per_tok or 1) / max(qt.tensor.n_experts, 1))
                      for qt in tensors if not qt.tensor.is_mtp))
        kinds = sorted({qt.qtype for qt in tensors})
        source = "gguf" if path.suffix == ".gguf" or "gguf" in path.name else "safetensors"
        return ResolvedModel(name, name, source, arch, None, tensors=None, file_tensors=tensors,
                             file_quant=imported.quant_hint or "/".join(kinds[:4]), quant_hint=imported.quant_hint,
                             total_params=total, active_params=act, warnings=tuple(imported.warnings))
    if arch is None:
        raise BadValueError(f"{path}: no architecture found")
    return _from_arch(name, name, "config", arch, None, quant_hint=imported.quant_hint,
                      warnings=tuple(imported.warnings))


# ------------------------------------------------------------------------------------------ raw mode

RAW_EXPERTS = 32  # virtual experts used to give the routed share (total - active) the right read fraction


def raw_model(raw: RawCounts) -> ResolvedModel:
    """A synthetic inventory with the right totals: `params x bits / 8` made explicit, per tensor.

    Shape facts not given are assumed from typical modern shapes (hidden ~ 128 x layers, GQA with 8
    KV heads of 128), and every assumption is printed.
    """
    if raw.params <= 0:
        raise BadValueError("--params must be positive")
    for option, value, bound in (("--params", raw.params, MAX_PARAMS), ("--active", raw.active, MAX_PARAMS),
                                 ("--layers", raw.layers, MAX_LAYERS), ("--hidden", raw.hidden, MAX_WIDTH),
                                 ("--kv-heads", raw.kv_heads, MAX_HEADS), ("--head-dim", raw.head_dim, MAX_HEAD_DIM),
                                 ("--context", raw.context, MAX_CONTEXT_TOKENS)):
        if value is not None and not 1 <= value <= bound:  # the CLI checks these too; the library API does not
            raise BadValueError(f"{option} {value:,} is outside 1..{bound:,}")
    active = raw.active or raw.params
    if active > raw.params:
        raise BadValueError("--active cannot exceed --params")
    notes = [f"raw model: {raw.params:,} parameters, {active:,} active per token"]
    layers = raw.layers or max(2, round((active / 196_608) ** (1 / 3)))
    hidden = raw.hidden or max(256, round(128 * layers / 256) * 256)
    head_dim = raw.head_dim or 128
    kv_heads = raw.kv_heads or 8
    heads = max(kv_heads, hidden // head_dim // kv_heads * kv_heads)
    if not raw.layers or not raw.hidden:
        notes.append(f"assumed shape: {layers} layers, hidden {hidden} (hidden ~ 128 x layers, typical of Llama/DeepSeek)")
    if not raw.kv_heads or not raw.head_dim:
        notes.append(f"assumed attention: {kv_heads} KV heads of {head_dim} (GQA), {heads} query heads")
    moe = active < raw.params
    routed_total = int((raw.params - active) / (1 - 1 / RAW_EXPERTS)) if moe else 0
    dense_total = raw.params - routed_total
    vocab = 128_000
    embed = vocab * hidden
    per_layer_dense = max(hidden, (dense_total - 2 * embed) // layers)
    per_layer_experts = routed_total // layers
    tensors: list[Tensor] = [
        Tensor("token_embd.weight", "token_embd", None, (hidden, vocab), Role.EMBEDDING),
        Tensor("output.weight", "output", None, (hidden, vocab), Role.OUTPUT),
    ]
    for layer in range(layers):
        tensors.append(Tensor(f"blk.{layer}.attn_ffn.weight", "attn_ffn", layer,
                              (hidden, max(1, per_layer_dense // hidden)), Role.DENSE_FFN))
        if moe:
            width = max(1, per_layer_experts // (hidden * RAW_EXPERTS))
            tensors.append(Tensor(f"blk.{layer}.ffn_up_exps.weight", "ffn_up_exps", layer,
                                  (hidden, width, RAW_EXPERTS), Role.ROUTED_EXPERT, n_experts=RAW_EXPERTS))
    notes.append(f"assumed vocabulary {vocab:,} with an untied output head")
    if moe:
        notes.append("routed experts hold (params - active) / (1 - 1/32): 1 of 32 virtual experts read per token")
    try:
        arch = _raw_architecture(raw, hidden, layers, heads, kv_heads, head_dim, vocab, moe, per_layer_experts)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadValueError(f"these raw counts make no plausible model ({problems}); check --params, "
                            "--active and the shape options") from None
    t = tuple(tensors)
    total = sum(prod(x.shape) for x in t)
    return ResolvedModel("raw", f"raw {raw.params / 1e9:,.0f}B model", "raw", arch, None, tensors=t,
                         total_params=total, active_params=active, assumptions=tuple(notes))


def _raw_architecture(raw: RawCounts, hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int,
                      vocab: int, moe: bool, per_layer_experts: int) -> Architecture:
    return Architecture(
        family="llama", hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv_heads, head_dim=head_dim, intermediate_size=4 * hidden, vocab_size=vocab,
        tie_word_embeddings=False, max_position_embeddings=raw.context or 131_072,
        n_routed_experts=RAW_EXPERTS if moe else None, num_experts_per_tok=1 if moe else None,
        moe_intermediate_size=max(1, per_layer_experts // (hidden * RAW_EXPERTS)) if moe else None,
    )
