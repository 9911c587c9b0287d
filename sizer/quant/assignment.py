"""Quant schemes: which storage type each tensor gets, and its exact bytes.

Public API::

    fmt = resolve_quant("q4_k_m" | "native" | "int4" | ..., model_entry, catalog)
    qtensors = assign(inventory, fmt, catalog, arch=model_entry.architecture)
    weights_bytes(qtensors)

Three families of formats:

- llama.cpp file types (``gguf_file_type``: Q4_K_M, IQ2_XS, MXFP4_MOE, BF16 ...) follow
  llama-quantize's recipe, ported in `sizer.quant_llamacpp` (read its docstring for the rules and
  the assumptions: converter outtype BF16, MLA ``attn_kv_b`` split, name-based categories).
- A single ggml type (``ggml_type``) is llama-quantize ``--pure`` with that type.
- Checkpoint formats (FP8, MXFP4, NVFP4, GPTQ, AWQ, bitsandbytes, MLX, W8A8, the native mixes)
  are computed from their block layouts in `sizer.quant_checkpoint`.

Multi-token-prediction tensors (``Tensor.is_mtp``) are left out unless ``include_mtp=True``:
convert_hf_to_gguf drops them for most families and engines do not load them by default. The
result then holds only the tensors that are stored. Byte counts are tensor data only: GGUF pads
each tensor to 32 bytes and adds a header (a few MB of tokenizer), safetensors adds a JSON header.

Results are cached per (inventory object, format, catalog, arch, flags): the recommender calls
`assign` thousands of times with the same cached inventory, so a repeat costs microseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sizer.errors import BadValueError
from sizer.model.tensors import QuantizedTensor, Role, Tensor
from sizer.quant.checkpoint import checkpoint_tensor_types
from sizer.quant.ggml_types import Layouts, ggml_bytes
from sizer.quant.llamacpp import Hints, gguf_tensor_types
from sizer.schema import Architecture, ModelEntry, QuantFormat
from sizer.schema.common import canonicalize_name

if TYPE_CHECKING:
    from sizer.catalog.loading import Catalog

__all__ = ["assign", "bits_per_weight", "hints_for", "resolve_quant", "weights_bytes"]

_CACHE_SIZE = 1024
_cache: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[QuantizedTensor, ...]]] = OrderedDict()
_layout_cache: dict[int, tuple[Any, dict[str, tuple[int, int]]]] = {}


def resolve_quant(name: str, model_entry: ModelEntry | None, catalog: Catalog) -> QuantFormat:
    """The format `name` means for this model.

    ``native`` is the model's ``native_quant``. Plain names (``int4``, ``fp8``, ``fp16`` ...) follow
    ``resolves_to``, except that plain ``fp8`` on a model whose native checkpoint is already an FP8
    variant (e.g. DeepSeek-V3's FP8 block-128) means that native checkpoint.
    Unknown names raise `UnknownNameError` (with suggestions) through the catalog.
    """
    native = None
    if model_entry is not None:
        native = catalog.quants.get(model_entry.native_quant) or catalog.quant(model_entry.native_quant)
    if canonicalize_name(name) == "native":
        if native is None:
            raise BadValueError("quant 'native' needs a model with a native_quant")
        return _follow(native, catalog)
    fmt = catalog.quant(name)
    if fmt.resolves_to is not None and native is not None and native.format_kind == "fp8" == fmt.format_kind:
        return native
    return _follow(fmt, catalog)


def _follow(fmt: QuantFormat, catalog: Catalog) -> QuantFormat:
    seen = {fmt.id}
    while fmt.resolves_to is not None:
        fmt = catalog.quants[fmt.resolves_to]
        if fmt.id in seen:
            raise BadValueError(f"quant {fmt.id!r}: resolves_to loops")
        seen.add(fmt.id)
    return fmt


def hints_for(
    tensors: Sequence[Tensor], arch: Architecture | None = None, *, include_mtp: bool = False
) -> Hints:
    """The model facts llama-quantize uses, from the architecture when given, else from the tensors."""
    layers = [t.layer for t in tensors if t.layer is not None and (include_mtp or not t.is_mtp)]
    n_expert = max((t.n_experts for t in tensors), default=1)
    if arch is not None:
        n_layer = arch.num_hidden_layers + (arch.num_nextn_predict_layers if include_mtp else 0)
        n_expert = arch.n_routed_experts or 0
        heads, kv = arch.num_attention_heads, arch.num_key_value_heads
        mla = None
        if (
            arch.kv_lora_rank
            and arch.qk_nope_head_dim
            and arch.v_head_dim
            and any(t.kind == "attn_kv_b" for t in tensors)
        ):
            mla, kv = (heads, arch.qk_nope_head_dim, arch.v_head_dim), 1  # converted as MQA: n_head_kv = 1
        is_70b = arch.num_hidden_layers == 80 and (
            arch.family == "qwen2" or (arch.family == "llama" and heads != kv)
        )
        return Hints(n_layer=n_layer, n_gqa=max(heads // kv, 1), n_expert=n_expert, is_70b=is_70b, mla=mla)
    n_layer = max(layers) + 1 if layers else 0
    n_expert = n_expert if n_expert > 1 else 0
    n_gqa = _gqa_from_shapes(tensors)
    return Hints(
        n_layer=n_layer, n_gqa=n_gqa, n_expert=n_expert, is_70b=n_layer == 80 and not n_expert and n_gqa > 1
    )


def _gqa_from_shapes(tensors: Sequence[Tensor]) -> int:
    """n_head / n_head_kv from the first layer's projections (equal head widths assumed)."""
    widths: dict[str, int] = {}
    first = min(
        (t.layer for t in tensors if t.layer is not None and t.kind in ("attn_q", "attn_k", "attn_qkv")),
        default=None,
    )
    for t in tensors:
        if t.layer == first and len(t.shape) >= 2 and t.name.endswith(".weight"):
            widths.setdefault(t.kind, t.shape[1])
            if t.kind == "attn_output":
                widths.setdefault("q_in", t.shape[0])
    if "attn_q" in widths and widths.get("attn_k"):
        return max(widths["attn_q"] // widths["attn_k"], 1)
    if "attn_qkv" in widths and "q_in" in widths:
        kv_width = (widths["attn_qkv"] - widths["q_in"]) // 2
        return max(widths["q_in"] // kv_width, 1) if kv_width > 0 else 1
    return 1


def _ggml_layouts(catalog: Catalog) -> dict[str, tuple[int, int]]:
    hit = _layout_cache.get(id(catalog))
    if hit is not None and hit[0] is catalog:
        return hit[1]
    layouts = {
        q.name: (q.block_size, q.type_size_bytes)
        for q in catalog.quants.values()
        if q.format_kind == "ggml_type" and q.block_size and q.type_size_bytes
    }
    _layout_cache[id(catalog)] = (catalog, layouts)
    return layouts


def assign(
    tensors: tuple[Tensor, ...],
    quant: QuantFormat,
    catalog: Catalog,
    *,
    imatrix: bool = False,
    arch: Architecture | None = None,
    include_mtp: bool = False,
) -> tuple[QuantizedTensor, ...]:
    """Every stored tensor with the type `quant` gives it and its exact bytes (scales included).

    `imatrix`: an importance matrix is used (changes a few llama.cpp rules); file types that
    cannot be made without one (IQ2_XS, Q2_K_S, IQ3_XXS ...) always assume one. `arch` supplies the
    head counts, expert count and MLA sizes the llama.cpp rules read; without it they are inferred
    from the tensors (no MLA split, no 70B rule for non-80-layer models).
    """
    key = (id(tensors), id(quant), id(catalog), imatrix, id(arch), include_mtp)
    hit = _cache.get(key)
    if (
        hit is not None
        and hit[0][0] is tensors
        and hit[0][1] is quant
        and hit[0][2] is catalog
        and hit[0][3] is arch
    ):
        _cache.move_to_end(key)
        return hit[1]
    result = _assign(tensors, quant, catalog, imatrix=imatrix, arch=arch, include_mtp=include_mtp)
    _cache[key] = ((tensors, quant, catalog, arch), result)
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def _assign(
    tensors: tuple[Tensor, ...],
    quant: QuantFormat,
    catalog: Catalog,
    *,
    imatrix: bool,
    arch: Architecture | None,
    include_mtp: bool,
) -> tuple[QuantizedTensor, ...]:
    fmt = _follow(quant, catalog)
    kept = _stored(tensors, include_mtp)
    if fmt.format_kind in ("gguf_file_type", "ggml_type"):
        pure = fmt.format_kind == "ggml_type"
        base = fmt.name if pure else fmt.base_ggml_type
        if base is None:
            raise BadValueError(f"quant {fmt.id!r} has no base_ggml_type")
        rows = gguf_tensor_types(
            kept,
            fmt.name,
            base,
            _ggml_layouts(catalog),
            hints_for(kept, arch, include_mtp=include_mtp),
            imatrix=imatrix or fmt.requires_imatrix,
            pure=pure,
        )
        if arch is not None and arch.family == "gpt_oss":
            rows = _keep_mxfp4_experts(rows, _ggml_layouts(catalog))
    else:
        rows = checkpoint_tensor_types(kept, fmt, catalog.quants)
    return tuple(QuantizedTensor(t, qtype, nbytes) for t, qtype, nbytes in rows)


def _keep_mxfp4_experts(rows: list[tuple[Tensor, str, int]], layouts: Layouts) -> list[tuple[Tensor, str, int]]:
    """gpt-oss GGUF conversions keep the routed-expert weights in the MXFP4 the checkpoint ships, for
    every file type: convert_hf_to_gguf.py writes them as ggml MXFP4 whatever --outtype is (a BF16
    conversion of gpt-oss-20b is 13.8 GB, 459 tensors:
    https://github.com/danbev/learning-ai/blob/main/notes/llama.cpp/gpt-oss.md), and llama-quantize
    leaves them as they are (unsloth's gpt-oss-20b Q4_K_M is 11.6 GB, F16 13.8 GB:
    https://huggingface.co/unsloth/gpt-oss-20b-GGUF). Only the other tensors follow the recipe."""
    out = []
    for t, qtype, nbytes in rows:
        if t.role is Role.ROUTED_EXPERT and t.name.endswith(".weight") and t.shape[0] % layouts["MXFP4"][0] == 0:
            out.append((t, "MXFP4", ggml_bytes(t.shape, "MXFP4", layouts)))
        else:
            out.append((t, qtype, nbytes))
    return out


_stored_cache: dict[tuple[int, bool], tuple[tuple[Tensor, ...], tuple[Tensor, ...]]] = {}


def _stored(tensors: tuple[Tensor, ...], include_mtp: bool) -> tuple[Tensor, ...]:
    """The tensors a file holds (MTP layers dropped unless asked), the same tuple object each time."""
    if include_mtp or not any(t.is_mtp for t in tensors):
        return tensors
    hit = _stored_cache.get((id(tensors), include_mtp))
    if hit is not None and hit[0] is tensors:
        return hit[1]
    kept = tuple(t for t in tensors if not t.is_mtp)
    if len(_stored_cache) >= 64:
        _stored_cache.clear()
    _stored_cache[(id(tensors), include_mtp)] = (tensors, kept)
    return kept


def weights_bytes(qtensors: Iterable[QuantizedTensor]) -> int:
    """Total bytes of the quantized tensors."""
    return sum(q.weights_bytes for q in qtensors)


def bits_per_weight(qtensors: Sequence[QuantizedTensor]) -> float:
    """Effective bits per weight: all bytes x 8 / all elements (norms included, as llama.cpp reports)."""
    elements = sum(q.tensor.elements for q in qtensors)
    return weights_bytes(qtensors) * 8 / elements if elements else 0.0
