"""`fit`: the library entry point. Model + quant + workload (+ hardware) -> FitResult.

One direction: resolve the model, quantize its inventory, break memory down, place it on the
hardware with each candidate layout the engine allows, estimate speed, keep the fastest layout
that fits (or the least-short one), then find the longest context and the concurrency that fit.
`recommend` calls the same core (`Fitter`) for every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sizer.catalog.loading import Catalog, load_catalog
from sizer.errors import BadValueError, FormatNotMadeError
from sizer.memory.activations import activation_bytes, runtime_overhead_bytes
from sizer.memory.breakdown import MemoryBreakdown, Workload, breakdown
from sizer.memory.kv_cache import kv_cache_per_layer, resolve_kv_dtype
from sizer.model.reference import RawCounts, ResolvedModel, resolve_model
from sizer.model.tensors import QuantizedTensor
from sizer.placement import Layout, Verdict, evaluate, layouts_for
from sizer.placement.candidates import larger_cards
from sizer.placement.hardware import Hardware, build_hardware
from sizer.placement.serving import LayoutPins, serving_layouts
from sizer.quant.assignment import assign, resolve_quant
from sizer.schema import Engine, QuantFormat
from sizer.sizing.engine_choice import (
    candidate_engines,
    choice_text,
    converted_format,
    engine_runs,
    preferred_order,
    to_candidate,
)
from sizer.sizing.engine_support import engine_device_gib
from sizer.sizing.quant_names import expand_quant_names, is_all
from sizer.sizing.result_assembly import build_result
from sizer.sizing.results import (
    FitResult,
    QuantRow,
)
from sizer.sizing.serving_curve import Serving, serving_for, uses_serving_model
from sizer.sizing.speculation import draft_speculation, mtp_speculation, mtp_tensors_loaded
from sizer.sizing.suggestions import suggest_changes
from sizer.speed.estimate import Efficiency, Speed, SpeedInputs, estimate
from sizer.speed.factors import efficiency_for

__all__ = ["DEFAULT_CONTEXT_TOKENS", "OFFLOAD_MODES", "fit", "compare_quants", "default_engine", "quant_kernel"]

DEFAULT_CONTEXT_TOKENS = 8192
# what may go to host RAM: auto picks the fastest placement that fits
OFFLOAD_MODES = ("auto", "none", "experts", "layers")


def quant_kernel(fmt: QuantFormat) -> str:
    """The kernel family a format decodes with (keys the calibration factors)."""
    if fmt.format_kind in ("gguf_file_type", "ggml_type"):
        base = (fmt.base_ggml_type or fmt.name).upper()
        if base in ("F16", "BF16", "F32"):
            return "float"
        if base.startswith("IQ") or base.startswith("TQ"):
            return "i_quant"
        if "_K" in base:
            return "k_quant"
        if base in ("MXFP4", "NVFP4"):
            return "fp4"
        return "legacy"
    return {"float": "float", "fp8": "fp8", "microscaling": "fp4", "gptq": "int4", "awq": "int4",
            "bitsandbytes": "int4", "mlx": "mlx", "int_weight_only": "int8"}.get(fmt.format_kind, "float")


# What a plain name (int4, int8, fp16 ...) means on an engine that loads GGUF files only.
GGUF_EQUIVALENT = {"int4": "q4_k_m", "int8": "q8_0", "fp16": "f16", "bf16": "bf16", "fp8": "q8_0"}


def default_engine(catalog: Catalog, hw: Hardware | None, fmt: QuantFormat | None) -> Engine:
    """The engine people use for this hardware and format: llama.cpp for GGUF formats, consumer cards,
    Macs and offload; MLX for MLX formats; vLLM (then SGLang, TensorRT-LLM) on data-center GPUs. The
    first preferred engine that runs the format (directly or converted as it is, and allowed there by its
    support matrix) wins."""
    engines = [catalog.engines[e] for e in preferred_order(hw) if e in catalog.engines]
    for e in engines if hw is not None else ():  # without hardware: the format as released
        if engine_runs(e, fmt, hw, catalog):
            return e
    if fmt is not None:
        for e in engines:
            if fmt.id in e.supported_quants:
                return e
    return engines[0]


@dataclass
class Fitter:
    """Everything about one (model, quant, engine, workload) that does not depend on the hardware."""

    model: ResolvedModel
    quant: QuantFormat | None
    engine: Engine
    workload: Workload
    catalog: Catalog
    tensors: tuple[QuantizedTensor, ...] = ()
    memory: MemoryBreakdown | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pins: LayoutPins | None = None  # --tp/--pp/--ep/--dp
    curve_users: tuple[int, ...] = ()  # --users 1,8,32: the points of performance.curve
    max_num_seqs: int | None = None  # --max-num-seqs (else the engine's default)
    mtp: int = 0  # --mtp N: MTP layers loaded, N tokens drafted per step
    draft: ResolvedModel | None = None  # --draft MODEL
    draft_tokens: int = 4
    draft_weights_bytes: int = 0
    draft_kv_bytes: int = 0

    def __post_init__(self) -> None:
        if self.model.file_tensors is not None and (self.quant is None or self.model.tensors is None):
            self.tensors = self.model.file_tensors  # as stored (a GGUF file cannot be re-quantized here)
        else:
            assert self.quant is not None and self.model.tensors is not None
            self.tensors = assign(self.model.tensors, self.quant, self.catalog, arch=self.model.arch,
                                  include_mtp=self.mtp > 0)
        if self.mtp:
            if not any(qt.tensor.is_mtp for qt in self.tensors):
                raise BadValueError(f"--mtp: {self.model.name} has no multi-token-prediction layers")
            self.tensors = mtp_tensors_loaded(self.tensors, self.model.arch.num_hidden_layers)
            self.notes.append(f"--mtp {self.mtp}: the MTP layers are loaded (their weights count, with the last layer)")
        self.memory = breakdown(self.tensors, self.model.arch, self.workload, self.engine)
        if self.draft is not None:
            d = Fitter(self.draft, _resolve_format(self.draft, "native", self.catalog), self.engine, self.workload,
                       self.catalog)
            assert d.memory is not None
            self.draft_weights_bytes, self.draft_kv_bytes = d.memory.weights_bytes, d.memory.kv_cache_bytes
            self.notes.append(f"--draft {self.draft.name}: its {self.draft_weights_bytes / 2**30:.1f} GiB of weights and "
                              f"{self.draft_kv_bytes / 2**30:.1f} GiB of KV cache are sharded over the GPUs like the "
                              "target (vLLM's draft tensor parallel size defaults to the target's)")

    def kv_layers(self, context: int, users: int) -> tuple[int, ...]:
        assert self.memory is not None
        layers = kv_cache_per_layer(self.model.arch, context, self.memory.kv_dtype.bytes_per_element,
                                    engine=self.engine, sequences=users, batch_tokens=self.workload.batch_tokens,
                                    swa_full=self.workload.swa_full)
        return tuple(x.kv_bytes for x in layers)

    def place(self, hw: Hardware, offload: str = "auto",
              efficiency: Efficiency | None = None) -> tuple[Layout, Verdict, Speed] | None:
        """The best layout on `hw` or, for tensor parallel over different cards, on its larger cards only."""
        best: tuple[tuple[int, float], Layout, Verdict, Speed] | None = None
        for cards, idle in larger_cards(hw, self.engine):
            found = self._place(cards, offload, efficiency)
            if found is not None and idle:
                key, layout, verdict, speed = found
                found = (key, replace(layout, warnings=(*layout.warnings, idle)), verdict, speed)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        return None if best is None else best[1:]

    def _place(self, hw: Hardware, offload: str = "auto", efficiency: Efficiency | None = None
               ) -> tuple[tuple[int, float], Layout, Verdict, Speed] | None:
        assert self.memory is not None
        arch = self.model.arch
        n = max(hw.devices_per_node, 1)
        devices = hw.devices()
        # vLLM / SGLang pick their micro-batch (max_num_batched_tokens) from the device size; vLLM keeps the
        # small default on some devices whatever their memory (engine.small_batch_devices: A100, GB10)
        device_gib = engine_device_gib(self.engine, devices)
        act = activation_bytes(arch, self.engine, n_devices=n, context_tokens=self.workload.context_tokens,
                               users=self.workload.users, batch_tokens=self.workload.batch_tokens,
                               flash_attention=self.workload.flash_attention, device_memory_gib=device_gib)
        ovh = runtime_overhead_bytes(self.engine)
        if self.draft is not None:  # the draft's weights and KV, spread over the GPUs with the target
            ovh += -(-(self.draft_weights_bytes + self.draft_kv_bytes) // max(len(devices), 1))
        kv = self.memory.kv_layer_bytes
        best: tuple[tuple[int, float], Layout, Verdict, Speed] | None = None
        eff = efficiency or efficiency_for(self.catalog)
        inputs = SpeedInputs(arch, self.model.active_params, self.quant or _file_quant(self.catalog),
                             self.engine, hw, self.workload.context_tokens, self.workload.users,
                             quant_kernel(self.quant) if self.quant else "k_quant")
        candidates = layouts_for(self.tensors, arch, hw, self.engine, act, ovh, kv, offload)
        if self.engine.tensor_parallel and not self.engine.layer_split and offload in ("auto", "none"):
            base = next((x for x in candidates if x.offload == "none" and not x.engram_on_host), None)
            candidates += serving_layouts(self.tensors, arch, hw, self.engine, act, ovh, base, self.pins)
        if self.pins is not None and self.pins.any:
            pinned = [x for x in candidates if self.pins.admit(x)]
            if not pinned:
                raise BadValueError(f"no {self.engine.name} layout on {hw.describe()} matches "
                                    f"{self.pins.describe()} (the heads must split evenly over --tp, and "
                                    "--tp x --pp x --dp must tile the GPUs)")
            candidates = pinned
        serving = uses_serving_model(self.engine)
        for layout in candidates:
            verdict = evaluate(layout, kv)
            speed = estimate(layout, verdict, inputs, eff)
            short = sum(min(0, u.free_bytes) for u in verdict.usages)
            if serving:
                speed = _under_load(self.serving(layout, verdict, hw), speed, self.workload)
            # the layout that serves the workload's users fastest (one user: the single-stream speed)
            key = (1 if verdict.fits else 0, speed.per_user_decode_tokens_per_s if verdict.fits else short)
            if best is None or key > best[0]:
                best = (key, layout, verdict, speed)
        return best

    def speed_inputs(self, hw: Hardware) -> SpeedInputs:
        return SpeedInputs(self.model.arch, self.model.active_params, self.quant or _file_quant(self.catalog),
                           self.engine, hw, self.workload.context_tokens, self.workload.users,
                           quant_kernel(self.quant) if self.quant else "k_quant")

    def serving(self, layout: Layout, verdict: Verdict, hw: Hardware) -> Serving:
        s = serving_for(layout, verdict, self.speed_inputs(hw), self.engine, hw, self.catalog,
                        max_seqs_override=self.max_num_seqs, batch_tokens=self.workload.batch_tokens)
        spec = None
        if self.mtp:
            spec = mtp_speculation(s.model, self.mtp)
        elif self.draft is not None:
            gpus = [x for x in layout.slots if x.kind != "host_ram"]
            bw = min((x.bandwidth_gb_s for x in gpus), default=0.0) * 1e9
            read_s = self.draft_weights_bytes / max(len(gpus), 1) / bw if bw else 0.0
            spec = draft_speculation(s.model, self.draft_tokens, read_s, self.draft.arch.num_hidden_layers,
                                     self.draft.name)
        if spec is not None:
            s.model.spec = spec
            s.notes.append(spec.basis)
        return s

    def max_context(self, layout: Layout, users: int) -> int:
        cap = self.model.arch.max_position_embeddings
        if not evaluate(layout, self.kv_layers(1, users)).fits:
            return 0
        if evaluate(layout, self.kv_layers(cap, users)).fits:
            return cap
        lo, hi = 1, cap
        while hi - lo > max(16, lo // 256):
            mid = (lo + hi) // 2
            if evaluate(layout, self.kv_layers(mid, users)).fits:
                lo = mid
            else:
                hi = mid
        return lo

    def max_concurrency(self, layout: Layout, context: int) -> float:
        """vLLM semantics: KV pool / one request's KV, on the tightest device; 0 when the weights,
        activations and overhead alone do not fit (the engine would not start)."""
        one = self.kv_layers(context, 1)
        best = float("inf")
        for s in layout.slots:
            pool = s.capacity_bytes - s.weights_bytes - s.activations_bytes - s.overhead_bytes
            if pool < 0:
                return 0.0
            need = sum(f * b for f, b in zip(s.kv_share, one, strict=False))
            if need > 0:
                best = min(best, pool / need)
        return 0.0 if best == float("inf") else best


def _file_quant(catalog: Catalog) -> QuantFormat:
    return catalog.quant("bf16")


def fit(
    model: str | RawCounts,
    *,
    quant: str = "native",
    gpus: tuple[tuple[str, int], ...] = (),
    nodes: int = 1,
    ram_bytes: int | None = None,
    ram_bandwidth_gb_s: float | None = None,
    system: str | None = None,
    hardware: Hardware | None = None,
    context_tokens: int | None = None,
    users: int = 1,
    kv_dtype: str | None = None,
    engine: str | None = None,
    offload: str = "auto",
    catalog: Catalog | None = None,
    wired_limit_bytes: int | None = None,
    host: str | None = None,
    ram_type: str | None = None,
    suggest: bool = True,
    curve_users: tuple[int, ...] = (),
    tp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
    dp: int | None = None,
    gpu_memory_utilization: float | None = None,
    batch_tokens: int | None = None,
    max_num_seqs: int | None = None,
    mtp: int = 0,
    draft: str | None = None,
) -> FitResult:
    """Size `model` (a catalog id, a Hugging Face repo, a file path, or RawCounts) and, when hardware is
    given, place it and estimate its speed. `wired_limit_bytes` is the GPU's share of a unified-memory
    pool when raised by hand (macOS `iogpu.wired_limit_mb`). Without `engine`, the engines people use on
    that hardware compete (`engine_choice`); an answer that does not fit lists the nearest changes that make
    it fit (`suggestions`, unless `suggest` is False). `curve_users` adds performance.curve points; `tp/pp/ep/dp`
    pin the layout (vLLM / SGLang / TensorRT-LLM); `gpu_memory_utilization`, `batch_tokens` (vLLM
    max_num_batched_tokens, llama.cpp n_ubatch) and `max_num_seqs` override the engine's defaults; `mtp` and
    `draft` turn on speculative decoding."""
    catalog = catalog or load_catalog()
    if offload not in OFFLOAD_MODES:
        raise BadValueError(f"--offload must be one of {', '.join(OFFLOAD_MODES)}, not {offload!r}")
    resolved = resolve_model(model, catalog, quant=quant)
    if quant == "native" and resolved.default_quant:
        quant = resolved.default_quant  # an Ollama tag names its quantization
    if engine is None and resolved.default_engine and resolved.default_engine in catalog.engines:
        engine = resolved.default_engine
    hw = hardware
    if hw is None and (gpus or system or ram_bytes):
        hw = build_hardware(catalog, gpus, nodes=nodes, ram_bytes=ram_bytes, ram_bandwidth_gb_s=ram_bandwidth_gb_s,
                            system=system, wired_limit_bytes=wired_limit_bytes, host=host, ram_type=ram_type)
    fmt0 = _resolve_format(resolved, quant, catalog)
    context = context_tokens or min(DEFAULT_CONTEXT_TOKENS, resolved.arch.max_position_embeddings)
    workload = Workload(context, users, kv_dtype, batch_tokens=batch_tokens)
    pins = LayoutPins(tp, pp, ep, dp)
    for name, v in (("--tp", tp), ("--pp", pp), ("--ep", ep), ("--dp", dp), ("--max-num-seqs", max_num_seqs),
                    ("--max-num-batched-tokens", batch_tokens)):
        if v is not None and v < 1:
            raise BadValueError(f"{name} must be at least 1, not {v}")
    if gpu_memory_utilization is not None and not 0 < gpu_memory_utilization <= 1:
        raise BadValueError(f"--gpu-memory-utilization must be in (0, 1], not {gpu_memory_utilization}")
    first = catalog.engine(engine) if engine else default_engine(catalog, hw, fmt0)
    engines = [first] if engine else candidate_engines(catalog, hw, first)
    if pins.any and engine is None:  # --tp/--pp/--ep/--dp are the serving engines' layouts
        engines = [e for e in engines if e.tensor_parallel and not e.layer_split] or engines
    tried: list[FitResult] = []
    best: tuple[tuple[int, float], FitResult] | None = None
    for eng in engines:
        fmt, plain_note = _plain_name_on_engine(quant, fmt0, eng, resolved, catalog)
        if engine is None and tried and not engine_runs(eng, fmt, hw, catalog):
            continue
        resolve_kv_dtype(kv_dtype, eng)  # unknown / unsupported dtype -> a clear error before any work
        if gpu_memory_utilization is not None:  # the given fraction replaces SGLang's size-dependent reserve too
            tiers = [t.model_copy(update={"reserved_gib": None}) for t in eng.device_tiers]
            eng = eng.model_copy(update={"gpu_memory_utilization": gpu_memory_utilization, "device_tiers": tiers})
        fitter = Fitter(resolved, fmt, eng, workload, catalog, pins=pins if pins.any else None,
                        curve_users=tuple(curve_users), max_num_seqs=max_num_seqs, mtp=mtp,
                        draft=resolve_model(draft, catalog) if draft else None)
        if plain_note:
            fitter.notes.append(plain_note)
        result = build_result(fitter, hw, offload, context_given=context_tokens is not None)
        tried.append(result)
        speed = result.performance.decode_tokens_per_s if result.performance else 0.0
        key = (1 if result.fits else 0, speed)
        if best is None or key > best[0]:
            best = (key, result)
    assert best is not None
    winner = best[1]
    if len(tried) > 1:
        why = choice_text(winner, [r for r in tried if r is not winner], catalog)
        winner = winner.model_copy(update={
            "engine_choice": why, "engine_candidates": [to_candidate(r) for r in tried],
            "assumptions": [*winner.assumptions, f"engine (no --engine given): {why}"]})
    if suggest and hw is not None and winner.fits is False:
        request = dict(quant=quant, gpus=gpus, nodes=nodes, ram_bytes=ram_bytes, ram_bandwidth_gb_s=ram_bandwidth_gb_s,
                       system=system, hardware=hardware, context_tokens=context_tokens, users=users,
                       kv_dtype=kv_dtype, engine=engine, offload=offload, wired_limit_bytes=wired_limit_bytes)
        winner = winner.model_copy(update={"suggestions": suggest_changes(model, request, winner, hw, catalog, fit)})
    return winner


def _plain_name_on_engine(quant: str, fmt: QuantFormat | None, eng: Engine, resolved: ResolvedModel,
                          catalog: Catalog) -> tuple[QuantFormat | None, str | None]:
    """A plain name (int4 ...) the engine cannot load as resolved means the engine's own equivalent; a
    checkpoint format the engine runs after a conversion that keeps its weights (gpt-oss MXFP4 experts on
    llama.cpp) means the converted file."""
    if fmt is None or fmt.id in eng.supported_quants:
        return fmt, None
    converted = converted_format(eng, fmt, catalog)
    if converted is not None:
        return converted, (f"{eng.name} runs the {fmt.name} checkpoint converted to {converted.name} (the quantized "
                           "experts kept as they are)")
    typed = catalog.quants.get(quant.lower())
    target = GGUF_EQUIVALENT.get(quant.lower())
    if typed is None or typed.resolves_to is None or target is None or target not in eng.supported_quants:
        return fmt, None
    new = resolve_quant(target, resolved.entry, catalog)
    return new, f"'{quant}' on {eng.name} means {new.name} (the 4/8/16-bit GGUF people use with it)"


def _resolve_format(resolved: ResolvedModel, quant: str, catalog: Catalog) -> QuantFormat | None:
    if resolved.file_tensors is not None and (quant == "native" or resolved.tensors is None):
        return None  # the file's own types (a GGUF repo's --quant picked the file)
    if quant == "native" and resolved.entry is None:
        quant = resolved.quant_hint or "bf16"
    return resolve_quant(quant, resolved.entry, catalog)


def _under_load(serving: Serving, speed: Speed, workload: Workload) -> Speed:
    """`speed` with its decode figures from the serving model (vLLM / SGLang / TensorRT-LLM)."""
    one = serving.point(1)
    now = serving.point(workload.users)
    return replace(speed, decode_tokens_per_s=min(one.per_user_decode_tokens_per_s, speed.decode_roofline_tokens_per_s),
                   per_user_decode_tokens_per_s=now.per_user_decode_tokens_per_s,
                   aggregate_decode_tokens_per_s=now.aggregate_decode_tokens_per_s, batched_bound_by=now.bound_by,
                   decode_bound_by=one.bound_by)


def compare_quants(model: str | RawCounts, quants: list[str], *, catalog: Catalog | None = None,
                   context_tokens: int | None = None, users: int = 1, engine: str | None = None,
                   skipped: list[str] | None = None, **hw: object) -> list[QuantRow]:
    """One row per format (`fit --quant all` or several --quant), smallest weights first; `all` means what
    :mod:`sizer.sizing.quant_names` says. Two names of one format give one row. With `all`, a format that
    cannot be made for this model (llama-quantize refuses its row lengths) is left out, its reason appended to
    `skipped` when given; a format named by the user still raises."""
    catalog = catalog or load_catalog()
    rows: dict[str, QuantRow] = {}
    every = is_all(quants)
    for q in expand_quant_names(quants, catalog):
        try:
            r = fit(model, quant=q, catalog=catalog, context_tokens=context_tokens, users=users, engine=engine,
                    suggest=False, **hw)  # type: ignore[arg-type]
        except FormatNotMadeError as exc:
            if not every:
                raise
            if skipped is not None:
                skipped.append(f"{q}: skipped, cannot be made for this model ({exc})")
            continue
        if r.quant in rows:
            continue
        params = max(r.model.total_params, 1)
        weights = r.memory.model_weights_bytes
        rows[r.quant] = QuantRow(quant=r.quant, quant_name=r.quant_name, weights_bytes=weights,
                                 bits_per_weight=round(weights * 8 / params, 4),
                                 total_bytes=r.memory.total_bytes, fits=r.fits)
    return sorted(rows.values(), key=lambda row: row.weights_bytes)
