"""Pipeline stages: how many layers each stage holds, how long it takes, and the bubble.

Owns:
- ``even_stage_layers``: Megatron's split for one accelerator type (``layers / pp`` per stage,
  the remainder on the first stages, since the last one also carries the output head).
- ``layer_seconds``: forward + backward seconds of one layer for one micro-batch on one
  accelerator type (the perfmodel's micro-batch time of the whole model at ``pp = 1`` divided
  by the layer count, so the output head is spread over the layers).
- ``max_stage_layers``: the most layers one stage can hold on a type without exceeding its
  usable memory (perfmodel memory estimate of a model cut into stages of that many layers;
  it charges every stage the first stage's in-flight activations and the last stage's logits,
  so it errs on the safe side).
- ``balanced_stage_layers``: layers split across stages of different speeds so that the
  slowest stage is as fast as possible, within each stage's memory cap. Greedy: give the next
  layer to the stage that would finish it earliest; optimal for min-max of linear stage times.
- ``predicted_bubble``: with 1F1B and ``m`` micro-batches, a step lasts about
  ``m · t_max + (Σ t_i − t_max) / v`` (the slowest stage sets the steady state; fill and drain
  traverse every stage once per virtual chunk). The bubble is the share of that time a stage
  is idle on average: ``1 − m · mean(t_i) / step``. Balanced stages give Narayanan et al.'s
  ``(pp − 1) / (v · m + pp − 1)``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import replace

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.device import DeviceSpec
from controlplane.perfmodel.memory import estimate_memory
from controlplane.perfmodel.shapes import Layout, ModelShape, MoEShape
from controlplane.perfmodel.step import estimate_step


def even_stage_layers(layers: int, stages: int) -> tuple[int, ...]:
    base, extra = divmod(layers, stages)
    return tuple(base + (1 if stage < extra else 0) for stage in range(stages))


def layer_seconds(model: ModelShape, layout: Layout, device: DeviceSpec) -> float:
    """Seconds of one layer (forward and backward, one micro-batch) on ``device``."""
    single_stage = replace(layout, pp=1, virtual_stages=1, schedule="1f1b")
    estimate = estimate_step(model, single_stage, device)
    return estimate.microbatch_seconds / model.layers


def _model_with_stage_size(model: ModelShape, layers_per_stage: int, stages: int) -> ModelShape:
    total = layers_per_stage * stages
    moe: MoEShape | None = model.moe
    if moe is not None:
        share = model.moe_layer_count / model.layers
        moe = replace(moe, moe_layers=max(0, min(total, round(share * total))))
    return replace(model, layers=total, moe=moe)


def stage_fits(model: ModelShape, layout: Layout, device: DeviceSpec, layers: int) -> bool:
    """Whether a stage of ``layers`` layers fits one device (see the module docstring)."""
    if layers <= 0:
        return True
    shaped = _model_with_stage_size(model, layers, layout.pp)
    return estimate_memory(shaped, replace(layout, virtual_stages=1), device).fits


def max_stage_layers(model: ModelShape, layout: Layout, device: DeviceSpec) -> int:
    """The most layers (at most ``model.layers``) a stage can hold on ``device``; 0 if none."""
    low, high = 0, model.layers
    while low < high:
        middle = (low + high + 1) // 2
        if stage_fits(model, layout, device, middle):
            low = middle
        else:
            high = middle - 1
    return low


def balanced_stage_layers(layers: int, seconds_per_layer: Sequence[float],
                          caps: Sequence[int] | None = None) -> tuple[int, ...]:
    """Layers per stage minimising the slowest stage's time; every stage gets at least one.

    ``seconds_per_layer[i]`` is stage ``i``'s time per layer; ``caps[i]`` its memory limit in
    layers. Ties go to the earlier stage, so the split is deterministic.
    """
    stages = len(seconds_per_layer)
    limits = list(caps) if caps is not None else [layers] * stages
    if stages == 0 or layers < stages:
        raise InvalidInputError(f"{layers} layers cannot fill {stages} pipeline stages", field="layout.pp")
    if any(limit < 1 for limit in limits) or sum(limits) < layers:
        raise InvalidInputError(f"the {layers} layers do not fit the stages' memory "
                                f"(at most {sum(max(0, c) for c in limits)} layers)", field="model.layers")
    counts = [1] * stages
    heap = [(2 * seconds_per_layer[i], i) for i in range(stages) if counts[i] < limits[i]]
    heapq.heapify(heap)
    for _ in range(layers - stages):
        _, stage = heapq.heappop(heap)
        counts[stage] += 1
        if counts[stage] < limits[stage]:
            heapq.heappush(heap, ((counts[stage] + 1) * seconds_per_layer[stage], stage))
    return tuple(counts)


def predicted_bubble(stage_seconds: Sequence[float], micro_batches: int, virtual_stages: int = 1) -> float:
    """Idle share of a 1F1B step with these per-micro-batch stage times (module docstring)."""
    if len(stage_seconds) <= 1:
        return 0.0
    slowest = max(stage_seconds)
    if slowest <= 0:
        return 0.0
    step = micro_batches * slowest + (sum(stage_seconds) - slowest) / virtual_stages
    busy = micro_batches * sum(stage_seconds) / len(stage_seconds)
    return max(0.0, 1.0 - busy / step)
