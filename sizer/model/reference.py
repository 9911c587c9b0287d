"""MODEL references -> a resolved model: catalog id, Hugging Face repo name, model file, or raw counts.

Every form ends as an Architecture (for KV cache and activations) plus either a tensor inventory
(to be quantized) or, for GGUF and safetensors files, the file's own per-tensor types and bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sizer.catalog.loading import Catalog
from sizer.errors import AmbiguousNameError, BadValueError, ModelFileError, UnknownNameError
from sizer.limits import MAX_CONTEXT_TOKENS, MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_PARAMS, MAX_WIDTH
from sizer.model.architecture import inventory
from sizer.model.architecture.counts import active_params, total_params
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.schema import Architecture, ModelEntry

if TYPE_CHECKING:
    from sizer.model.importers._imported import ImportedModel

__all__ = ["OLLAMA_DEFAULT_QUANT", "RawCounts", "ResolvedModel", "ollama_reference", "resolve_model"]

_FILE_SUFFIXES = (".gguf", ".json", ".safetensors")
# Ollama's library tags: `name:size[-variant][-quant]`; a tag without a quant is the library's default
# build, Q4_K_M (https://martinkollie.com/blog/llm-naming-explained-what-does-it-mean ; e.g.
# https://ollama.com/library/llama3.3/tags lists 70b = 70b-instruct-q4_K_M). gpt-oss is published in
# its native MXFP4 with 16-bit attention (~14 GB for 20b: https://ollama.com/library/gpt-oss).
OLLAMA_DEFAULT_QUANT = "q4_k_m"
_OLLAMA_NATIVE = {"mxfp4-experts": "bf16"}  # native format -> the GGUF file type Ollama's default build is
_OLLAMA_TAG = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*):(?P<tag>[A-Za-z0-9._-]+)$")
_OLLAMA_QUANT = re.compile(r"^(q\d(_[a-z0-9]+)*|iq\d(_[a-z0-9]+)*|fp16|f16|bf16|fp32|f32|mxfp4)$", re.IGNORECASE)


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
    default_quant: str | None = None  # what the reference itself means when --quant is not given (Ollama tags)
    default_engine: str | None = None  # the engine the reference names (Ollama tags -> ollama)
    repo: str | None = None  # the Hugging Face repo (and GGUF file) the model was read from, for launch commands


def _from_arch(id_: str, name: str, source: str, arch: Architecture, entry: ModelEntry | None = None,
               **kw: object) -> ResolvedModel:
    extra = entry.extra_params if entry else 0
    return ResolvedModel(id_, name, source, arch, entry, tensors=inventory(arch),
                         total_params=total_params(arch) + extra, active_params=active_params(arch), **kw)  # type: ignore[arg-type]


def resolve_model(ref: str | RawCounts, catalog: Catalog, *, quant: str | None = None) -> ResolvedModel:
    """MODEL -> a resolved model, in this order: raw counts; a local path; an Ollama tag of a catalog
    model; a catalog id, alias or repo; otherwise a Hugging Face repo ``org/name[@revision][:QUANT]``
    read header-only (``quant`` also picks the file of a GGUF repo)."""
    if isinstance(ref, RawCounts):
        return raw_model(ref)
    path = Path(ref).expanduser()
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long to be a path, a NUL byte: not a file
        exists = False
    if exists or ref.endswith(_FILE_SUFFIXES):
        return _from_file(path, catalog)
    ollama = ollama_reference(ref, catalog)
    if ollama is not None:
        return ollama
    try:
        entry = catalog.model(ref)
    except (UnknownNameError, AmbiguousNameError) as missing:
        if "/" not in ref:
            raise
        return _from_hub(ref, catalog, quant, missing)
    if "/" in ref and ref.lower() not in {r.lower() for r in entry.hf_repos} | {entry.id.lower()} | {
            a.lower() for a in entry.aliases}:
        return _from_hub(ref, catalog, quant, None)  # only an exact repo name is the catalog model
    return _from_arch(entry.id, entry.name, "catalog", entry.architecture, entry)


def ollama_reference(ref: str, catalog: Catalog) -> ResolvedModel | None:
    """``llama3.3:70b`` / ``qwen3:30b-a3b-q8_0``: the catalog model the Ollama tag names (an alias
    ``name:size``), the quantization the tag means (its quant suffix, else Ollama's default build)
    and engine ollama; None when ``ref`` is not such a tag."""
    match = _OLLAMA_TAG.match(ref.strip())
    if match is None:
        return None
    name, parts = match["name"].lower(), match["tag"].split("-")
    quant = parts[-1] if _OLLAMA_QUANT.match(parts[-1]) else None
    size_parts = parts[:-1] if quant else parts
    aliases = [f"{name}:{'-'.join(size_parts[:n]).lower()}" for n in range(len(size_parts), 0, -1)]
    if size_parts and size_parts[0].lower() == "latest":
        aliases.append(name)  # `name:latest` is the model the bare name stands for
    for alias in aliases:
        try:
            entry = catalog.model(alias)
        except (UnknownNameError, AmbiguousNameError):
            continue
        if alias not in {a.lower() for a in entry.aliases}:
            continue
        default = _OLLAMA_NATIVE.get(entry.native_quant or "", OLLAMA_DEFAULT_QUANT)
        qid = {"fp16": "f16", "fp32": "f32"}.get((quant or "").lower(), (quant or default).lower())
        note = (f"Ollama tag {ref}: {entry.name}, " + (f"quant {quant} from the tag" if quant else
                f"Ollama's default build ({default.upper()}; the tag names no quant)"))
        base = _from_arch(entry.id, entry.name, "ollama", entry.architecture, entry)
        return _replace(base, default_quant=qid, default_engine="ollama", assumptions=(note,))
    return None


def _replace(m: ResolvedModel, **changes: object) -> ResolvedModel:
    from dataclasses import replace

    return replace(m, **changes)  # type: ignore[arg-type]


def _from_hub(ref: str, catalog: Catalog, quant: str | None, missing: Exception | None) -> ResolvedModel:
    from sizer.model.importers.hub import MissingRepoError, load_from_hub, parse_hub_reference

    hub_ref = parse_hub_reference(ref)
    if hub_ref is None:
        if missing is not None:
            raise missing
        raise BadValueError(f"{ref!r} is neither a catalog model nor a Hugging Face repo name (org/name)")
    tag = hub_ref.quant or (quant if quant and quant.lower() != "native" else None)
    try:
        hub = load_from_hub(hub_ref.repo_id, hub_ref.revision, tag)
    except MissingRepoError as exc:
        suggestions: list[str] = []
        try:  # the catalog model the repo's name part names, else the closest ones
            suggestions = [catalog.model(ref.split("/")[-1]).id]
        except (UnknownNameError, AmbiguousNameError) as inner:
            suggestions = list(getattr(inner, "suggestions", ())) or list(getattr(inner, "candidates", ()))
        if suggestions:
            raise UnknownNameError("model (not a catalog model, a local path or a Hugging Face repo)", ref,
                                   suggestions[:5]) from None
        raise exc from None
    imported = hub.imported
    name = hub.repo_id if hub.file_format == "safetensors" else f"{hub.repo_id}:{(hub.checkpoint or '')[5:]}"
    notes = [f"read header-only from {hub.url} at commit {hub.commit[:12]}"
             + (" (from the local cache)" if hub.from_cache else ""), *hub.notes]
    resolved = _from_imported(imported, name, name, "huggingface", catalog, gguf=hub.file_format == "gguf")
    repo = hub.repo_id + (f":{hub.files[0]}" if hub.file_format == "gguf" else "")
    return _replace(resolved, assumptions=tuple(notes) + resolved.assumptions, repo=repo)


def _from_file(path: Path, catalog: Catalog) -> ResolvedModel:
    from sizer.model.importers import load_model_file  # lazy: gguf / safetensors are heavy imports

    imported = load_model_file(path)
    name = path.name if path.name != "config.json" else path.parent.name or path.name
    source = "gguf" if path.suffix == ".gguf" or "gguf" in path.name else "safetensors"
    return _from_imported(imported, name, name, source, catalog, path=str(path), gguf=source == "gguf")


def _from_imported(imported: ImportedModel, id_: str, name: str, source: str, catalog: Catalog,
                   path: str | None = None, gguf: bool = False) -> ResolvedModel:
    arch = imported.architecture
    where = path or imported.source
    warnings = tuple(imported.warnings)
    if imported.tensors:
        if arch is None:
            arch, guessed = _arch_from_tensors(imported.tensors)
            if arch is None:
                why = "; ".join(imported.warnings) or f"{where}: the file's architecture is not one sizer knows"
                raise ModelFileError(f"{why}; cannot size its KV cache")
            warnings += (f"{where}: {guessed}",)
        tensors = imported.tensors
        total = sum(qt.tensor.elements for qt in tensors if not qt.tensor.is_mtp)
        act = int(sum(qt.tensor.elements * (1.0 if qt.tensor.role is not Role.ROUTED_EXPERT
                                            else (arch.num_experts_per_tok or 1) / max(qt.tensor.n_experts, 1))
                      for qt in tensors if not qt.tensor.is_mtp))
        kinds = sorted({qt.qtype for qt in tensors})
        # a safetensors checkpoint can also be sized in another format (--quant): its own tensors are the
        # inventory; a GGUF file is what it is (a GGUF repo's --quant picks the file)
        inventory_ = None if gguf else tuple(qt.tensor for qt in tensors)
        return ResolvedModel(id_, name, source, arch, None, tensors=inventory_, file_tensors=tensors,
                             file_quant=imported.quant_hint or "/".join(kinds[:4]), quant_hint=imported.quant_hint,
                             total_params=total, active_params=act, warnings=warnings)
    if arch is None:
        raise BadValueError(f"{where}: no architecture found")
    return _from_arch(id_, name, "config", arch, None, quant_hint=imported.quant_hint,
                      warnings=tuple(imported.warnings))


def _arch_from_tensors(tensors: tuple[QuantizedTensor, ...]) -> tuple[Architecture | None, str]:
    """A GQA architecture read off the tensor shapes, for weights whose config sizer cannot map (the
    weights stay exact; only the KV cache and activations use it), and the assumptions in words."""
    by_kind: dict[str, Tensor] = {}
    layers = 0
    experts = 1
    for qt in tensors:
        t = qt.tensor
        if t.is_mtp:
            continue
        by_kind.setdefault(t.kind, t)
        if t.layer is not None:
            layers = max(layers, t.layer + 1)
        if t.role is Role.ROUTED_EXPERT:
            experts = max(experts, t.n_experts)
    embd, q, k = by_kind.get("token_embd"), by_kind.get("attn_q"), by_kind.get("attn_k")
    if embd is None or q is None or k is None or len(embd.shape) != 2 or not layers:
        return None, ""
    hidden, vocab = embd.shape
    head_dim = next((d for d in (128, 64, 256, 96, 80) if q.shape[-1] % d == 0 and k.shape[-1] % d == 0), 0)
    if not head_dim:
        return None, ""
    up = by_kind.get("ffn_up") or by_kind.get("ffn_up_exps")
    moe = experts > 1
    try:
        arch = Architecture(
            family="mixtral" if moe else "llama", hidden_size=hidden, num_hidden_layers=layers,
            num_attention_heads=q.shape[-1] // head_dim, num_key_value_heads=k.shape[-1] // head_dim,
            head_dim=head_dim, intermediate_size=up.shape[1] if up is not None and not moe else 4 * hidden,
            vocab_size=vocab, tie_word_embeddings="output" not in by_kind, max_position_embeddings=4096,
            n_routed_experts=experts if moe else None, num_experts_per_tok=2 if moe else None,
            moe_intermediate_size=up.shape[1] if moe and up is not None else None,
        )
    except ValueError:
        return None, ""
    return arch, (f"no usable config: the KV cache is sized from the tensor shapes, assuming head_dim {head_dim} "
                  f"({arch.num_key_value_heads} KV heads on {layers} layers), full attention on every layer, a "
                  "4096-token trained context" + (", 2 routed experts per token" if moe else "")
                  + "; the weights are exact")


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
