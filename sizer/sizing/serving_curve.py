"""Speed under load for a placed layout: the serving model's points, the curve, saturation per GPU.

Serving engines (vLLM, SGLang, TensorRT-LLM) use the parameters fitted on their own serving measurements
(sizer.speed.serving_factors); other engines use their single-stream calibration in the same step model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sizer.catalog.loading import Catalog
from sizer.memory.activations import activation_tokens
from sizer.placement import Layout, Verdict
from sizer.placement.hardware import Hardware
from sizer.schema import Engine
from sizer.sizing.engine_support import engine_device_gib, max_num_seqs
from sizer.speed.estimate import SpeedInputs, backend_of, device_class, peak_seconds_per_flop
from sizer.speed.factors import efficiency_for
from sizer.speed.serving import ServingModel, ServingPoint, mix_for_context
from sizer.speed.serving_factors import SERVING_ENGINES, ServingParams, serving_params

__all__ = ["Serving", "serving_for"]


@dataclass
class Serving:
    model: ServingModel
    params: ServingParams
    gpus: int
    prompt_tokens: int
    output_tokens: int
    seq_cap: int | None  # the engine's max_num_seqs per instance x instances
    context_tokens: int
    notes: list[str] = field(default_factory=list)

    def point(self, users: int, filled_tokens: float | None = None) -> ServingPoint:
        """Speed at `users` sequences whose KV is read over the whole context (unless `filled_tokens`)."""
        filled = self.context_tokens if filled_tokens is None else filled_tokens
        return self.model.point(users, self.params, self.prompt_tokens, self.output_tokens, filled)

    def per_gpu(self, p: ServingPoint) -> float:
        return p.aggregate_decode_tokens_per_s / self.gpus

    def saturated(self, kv_concurrency: float) -> tuple[int, ServingPoint]:
        """The most sequences the KV cache (and max_num_seqs) allow at this context, and their point."""
        users = max(int(math.floor(kv_concurrency)), 1)
        if self.seq_cap is not None:
            users = min(users, self.seq_cap)
        return users, self.point(users)


def serving_for(layout: Layout, verdict: Verdict, inputs: SpeedInputs, engine: Engine, hw: Hardware,
                catalog: Catalog, *, max_seqs_override: int | None = None,
                batch_tokens: int | None = None) -> Serving:
    eff = efficiency_for(catalog)
    gpu_slots = [s for s in layout.slots if s.kind != "host_ram"]
    accs = {a.name: a for a, _ in hw.accelerators}
    first = accs.get(gpu_slots[0].name) if gpu_slots else None
    dc = device_class(first) if first is not None else "cpu"
    backend = backend_of(first) if first is not None else "cpu"
    params = serving_params(catalog, engine.id, dc, backend, inputs.quant_kernel, eff)
    devices = hw.devices()
    dev_gib = engine_device_gib(engine, devices)
    chunk = activation_tokens(engine, batch_tokens, dev_gib)
    model = ServingModel(layout, verdict, inputs, peak_seconds_per_flop(layout, inputs, eff), inputs.active_params,
                         inputs.arch, chunk, len(gpu_slots))
    seqs = max_num_seqs(engine, dev_gib, max_seqs_override)
    instances = max(layout.replicas, 1) * max(layout.attention_dp, 1)
    prompt, output = mix_for_context(inputs.context_tokens)
    notes = [f"speed under load: {params.basis}",
             f"under load each request prefills {prompt:,} new prompt tokens (earlier turns cached; chunks of "
             f"{chunk:,} tokens between decode steps steal step time) and generates {output:,} tokens; decode "
             f"reads its KV over the whole context"]
    if seqs is not None:
        notes.append(f"{engine.name} runs at most {seqs:,} sequences per engine instance (max_num_seqs"
                     + (f", {engine.release}" if engine.release else "") + ")")
    return Serving(model, params, max(len(gpu_slots), 1), prompt, output,
                   None if seqs is None else seqs * instances, inputs.context_tokens, notes)


def uses_serving_model(engine: Engine) -> bool:
    return engine.id in SERVING_ENGINES
