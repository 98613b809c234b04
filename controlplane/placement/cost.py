"""Communication cost of a placement: estimated seconds per optimizer step, by group kind.

Owns ``TrafficProfile`` (per-step bytes of each kind of group, from the perfmodel's shapes),
``traffic_profile``, ``reference_model`` (the shape used when a request has no model) and
``communication_cost``.

Bytes (``T`` tokens of one micro-batch per device = micro-batch size × sequence / cp, ``h``
hidden size, ``m`` micro-batches per step, ``v`` virtual stages, ``l_s`` layers of stage ``s``;
per device, per step; the same figures as ``perfmodel.layer_cost`` and ``perfmodel.step``):

- TP: 4 reduce-scatter-sized collectives of ``T·h·2`` bytes per layer per pass; 2 passes
  (3 with full recomputation); ``m · l_s`` layers.
- CP: ``cp − 1`` ring exchanges of the local K/V chunk per layer, 3 per layer (forward and
  backward), ``m · l_s`` layers.
- PP: sends of ``T·h·2 / tp`` bytes; each stage boundary carries ``2 · m · v`` of them
  (activations forward, gradients backward).
- DP: the dense gradients of the stage (ZeRO ≥ 1: reduce-scatter of ``grad_bytes`` per
  parameter plus all-gather of 2-byte weights; ZeRO 0: all-reduce) over the ``dp × cp``
  group; expert gradients the same way over the EDP group (reported as ``edp``).
- EP: dispatch and combine all-to-all of ``T/tp · top_k · h`` elements (dispatch in FP8 when
  training in FP8) per MoE layer per pass, scaled by ``load_imbalance`` (node-limited routing,
  ``routing_node_limit``, is not modelled: every token may go to any expert).

Time over the placement (each group's own devices):
- rings (TP, CP, DP, EDP): members in tree order form the ring; ``B`` is its bottleneck —
  the smallest per-device bandwidth of the hops between ring neighbours (``topology.distances``,
  times the perfmodel calibration's achieved fraction: the intra-node figure for scale-up hops,
  the scale-out one otherwise) — and ``α`` its largest hop latency. Reduce-scatter and
  all-gather cost ``(n−1)/n·S/B + (n−1)·α``, all-reduce twice that. For a group inside one pool
  ``B`` is the bandwidth of the uplink just below its lowest common ancestor, so a group's time
  depends only on the highest tree level it spans.
- PP: each boundary send costs ``S/B + α`` over the hop between the two stages' devices.
  Filling and draining the pipeline passes every boundary in turn (``2·v`` sends per boundary,
  summed along the pipeline; the slowest pipeline counts); in the steady state the other
  ``2·(m−1)·v`` sends per boundary run concurrently on all boundaries, so the slowest boundary
  of the job counts. Each extra boundary that leaves a rack therefore costs something.
- EP: hierarchical all-to-all: a device's traffic that leaves its subtree at level ``L``
  crosses that subtree's uplink, so its time is the largest over levels of
  ``bytes · (peers outside its L-subtree) / n / B_L``, plus the group's largest hop latency
  per all-to-all.

Groups of one kind run concurrently, so a kind costs what its slowest group costs; the step's
communication is the sum over kinds. Overlap with compute is not subtracted: this is the raw
traffic time a placement makes the job pay for (the perfmodel decides what stays exposed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.flops import parameter_counts, tokens_per_microbatch
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, ModelShape, MoEShape
from controlplane.placement.ranks import group_arrays, stage_of
from controlplane.placement.stages import even_stage_layers
from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology

ACTIVATION_BYTES = 2.0
WEIGHT_BYTES = 2.0
COST_KINDS: tuple[str, ...] = ("tp", "cp", "pp", "dp", "edp", "ep")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StageTraffic:
    """What one pipeline stage holds: its layers and the parameters one device keeps."""

    layers: int
    moe_layers: int
    dense_parameters: float
    expert_parameters: float


@dataclass(frozen=True)
class TrafficProfile:
    """Per-step communication volumes of one job (see the module docstring)."""

    micro_batches: int
    virtual_stages: int
    tp_bytes: float
    tp_collectives_per_layer: float
    cp_chunk_bytes: float
    cp_exchanges_per_layer: float
    pp_bytes: float
    pp_sends_per_boundary: float
    ep_bytes_per_moe_layer: float
    ep_all_to_alls_per_moe_layer: float
    grad_bytes: float
    zero_stage: int
    stages: tuple[StageTraffic, ...]


def reference_model(layout: Layout) -> ModelShape:
    """A Llama-2-7B-like shape (32 layers, hidden 4096, 4k context; Mixtral-like experts when
    ``ep > 1``), stretched to at least one layer per pipeline chunk: the costs of a request
    without a model are computed on it, so that placements still compare."""
    moe = MoEShape(experts=max(8, layout.ep), top_k=2, expert_hidden_size=14336) if layout.ep > 1 else None
    return ModelShape(layers=max(32, layout.pp * layout.virtual_stages), hidden_size=4096,
                      attention_heads=max(32, layout.tp), sequence_length=4096 * layout.cp, vocab_size=32000,
                      ffn_hidden_size=11008, moe=moe, name="reference-7b")


def traffic_profile(model: ModelShape, layout: Layout, stage_layers: Sequence[int] | None = None,
                    options: ExecutionOptions | None = None) -> TrafficProfile:
    """Per-step volumes of ``model`` trained with ``layout`` (``stage_layers`` default: even)."""
    options = options or ExecutionOptions()
    split = tuple(stage_layers) if stage_layers else even_stage_layers(model.layers, layout.pp)
    tokens = tokens_per_microbatch(model, layout)
    h = model.hidden_size
    passes = 3.0 if layout.activation_recompute == "full" else 2.0
    kv_per_rank = max(model.kv, layout.tp) / layout.tp
    ep_bytes = 0.0
    if model.moe is not None and layout.ep > 1:
        dispatch = 1.0 if model.precision == "fp8" else ACTIVATION_BYTES
        routed = tokens / layout.tp * model.moe.top_k * h * model.moe.load_imbalance
        ep_bytes = routed * (dispatch + ACTIVATION_BYTES) * passes
    return TrafficProfile(
        micro_batches=layout.micro_batches, virtual_stages=layout.virtual_stages,
        tp_bytes=tokens * h * ACTIVATION_BYTES, tp_collectives_per_layer=4 * passes,
        cp_chunk_bytes=tokens * kv_per_rank * (model.qk_head_dim + model.v_head_dim) * ACTIVATION_BYTES,
        cp_exchanges_per_layer=3.0,
        pp_bytes=tokens * h * ACTIVATION_BYTES / layout.tp,
        pp_sends_per_boundary=2.0 * layout.micro_batches * layout.virtual_stages,
        ep_bytes_per_moe_layer=ep_bytes, ep_all_to_alls_per_moe_layer=2 * passes,
        grad_bytes=float(options.grad_bytes), zero_stage=layout.zero_stage,
        stages=_stage_traffic(model, layout, split))


def _stage_traffic(model: ModelShape, layout: Layout, split: tuple[int, ...]) -> tuple[StageTraffic, ...]:
    counts = parameter_counts(model)
    first_moe = model.layers - model.moe_layer_count  # MoE layers are the last ones
    weight_split = layout.tp if layout.ep == 1 else 1
    result = []
    start = 0
    for index, layers in enumerate(split):
        end = start + layers
        moe_here = max(0, end - max(start, first_moe))
        dense = (layers - moe_here) * counts.dense_layer + moe_here * counts.moe_layer_non_expert
        if index == 0:
            dense += counts.embedding
        if index == len(split) - 1:
            dense += counts.output
        expert = moe_here * counts.routed_per_moe_layer / (layout.ep * weight_split)
        result.append(StageTraffic(layers=layers, moe_layers=moe_here, dense_parameters=dense / layout.tp,
                                   expert_parameters=expert))
        start = end
    return tuple(result)


class _Links:
    """Per-pool uplink figures as arrays, for vectorised lookups."""

    def __init__(self, topology: Topology, calibration: Calibration) -> None:
        pools = topology.pools
        self.bandwidth = np.full((max(1, len(pools)), len(Level)), np.inf)
        self.efficiency = np.ones((max(1, len(pools)), len(Level)))
        for index, pool in enumerate(pools):
            for level in Level:
                if level is Level.CLUSTER:
                    continue
                self.bandwidth[index, level] = pool.link_model.uplink(level).gbytes_per_s * 1e9
                scaleup = level > pool.scaleup_level
                self.efficiency[index, level] = (calibration.intra_node_collective_efficiency if scaleup
                                                 else calibration.scale_out_collective_efficiency)
        self.intra = calibration.intra_node_collective_efficiency
        self.scale_out = calibration.scale_out_collective_efficiency


def _hop_figures(topology: Topology, links: _Links, a: IntArray, b: IntArray) -> tuple[FloatArray, FloatArray]:
    """(achieved bytes/s, latency s) of the hops ``a[i] → b[i]``."""
    hops = topology.distances(a, b)
    efficiency = np.where(hops.scaleup, links.intra, links.scale_out)
    return hops.bandwidth_gbytes_per_s * 1e9 * efficiency, hops.latency_us * 1e-6


def _ring(topology: Topology, links: _Links, members: IntArray) -> tuple[FloatArray, FloatArray]:
    """(bottleneck bytes/s, largest latency s) of each row's ring."""
    ordered = np.sort(members, axis=1)
    bandwidth, latency = _hop_figures(topology, links, ordered, np.roll(ordered, -1, axis=1))
    return bandwidth.min(axis=1), latency.max(axis=1)


def _reduce_scatter(n: int, nbytes: FloatArray | float, bandwidth: FloatArray,
                    latency: FloatArray) -> FloatArray:
    return np.asarray((n - 1) / n * nbytes / bandwidth + (n - 1) * latency, dtype=np.float64)


def _all_to_all(topology: Topology, links: _Links, members: IntArray) -> tuple[FloatArray, FloatArray]:
    """(seconds per byte sent by each device, latency seconds) of one all-to-all in each row's
    group (module docstring)."""
    groups, n = members.shape
    ancestors = topology.tree.device_ancestors[members]  # (groups, n, levels)
    pools = topology.tree.device_pool[members]
    vertex_span = int(topology.tree.level_offsets[-1])
    row_key = np.arange(groups, dtype=np.int64)[:, None] * vertex_span
    worst = np.zeros((groups, n))
    for level in Level:
        if level is Level.CLUSTER:
            continue
        keys = (ancestors[:, :, level].astype(np.int64) + row_key).ravel()
        ordered = np.sort(keys)
        same = np.searchsorted(ordered, keys, side="right") - np.searchsorted(ordered, keys, side="left")
        outside = (n - same.reshape(groups, n)) / n
        rate = links.bandwidth[pools, level] * links.efficiency[pools, level]
        worst = np.maximum(worst, outside / rate)
    _, latency = _ring(topology, links, members)
    return np.asarray(worst.max(axis=1), dtype=np.float64), latency


def communication_cost(topology: Topology, devices: Sequence[int] | IntArray, layout: Layout,
                       profile: TrafficProfile, calibration: Calibration) -> dict[str, float]:
    """Seconds per step of each group kind (``COST_KINDS``) for ranks on ``devices``."""
    placed = np.asarray(devices, dtype=np.int64)
    links = _Links(topology, calibration)
    groups = group_arrays(layout)
    m = profile.micro_batches
    layers = np.array([stage.layers for stage in profile.stages], dtype=np.float64)
    moe_layers = np.array([stage.moe_layers for stage in profile.stages], dtype=np.float64)
    dense = np.array([stage.dense_parameters for stage in profile.stages], dtype=np.float64)
    expert = np.array([stage.expert_parameters for stage in profile.stages], dtype=np.float64)
    cost = dict.fromkeys(COST_KINDS, 0.0)

    if layout.tp > 1:
        ranks = groups["tp"]
        bandwidth, latency = _ring(topology, links, placed[ranks])
        per_collective = _reduce_scatter(layout.tp, profile.tp_bytes, bandwidth, latency)
        stage_layers = layers[stage_of(layout, ranks[:, 0])]
        cost["tp"] = _max(m * stage_layers * profile.tp_collectives_per_layer * per_collective)
    if layout.cp > 1:
        ranks = groups["cp"]
        bandwidth, latency = _ring(topology, links, placed[ranks])
        exchange = (layout.cp - 1) * (profile.cp_chunk_bytes / bandwidth + latency)
        cost["cp"] = _max(m * layers[stage_of(layout, ranks[:, 0])] * profile.cp_exchanges_per_layer * exchange)
    if layout.pp > 1:
        ranks = groups["pp"]
        bandwidth, latency = _hop_figures(topology, links, placed[ranks[:, :-1]], placed[ranks[:, 1:]])
        send = profile.pp_bytes / bandwidth + latency  # (pipelines, boundaries)
        fill_and_drain = 2.0 * profile.virtual_stages * send.sum(axis=1)
        steady = (profile.pp_sends_per_boundary - 2.0 * profile.virtual_stages) * send
        cost["pp"] = _max(fill_and_drain) + _max(steady)
    data_kind = "dp_cp" if layout.cp > 1 else "dp"
    if layout.dp * layout.cp > 1:
        ranks = groups[data_kind]
        cost["dp"] = _max(_gradient_sync(topology, links, placed[ranks], dense[stage_of(layout, ranks[:, 0])],
                                         profile))
    if layout.ep > 1:
        if layout.dp * layout.cp // layout.ep > 1:
            ranks = groups["edp"]
            cost["edp"] = _max(_gradient_sync(topology, links, placed[ranks],
                                              expert[stage_of(layout, ranks[:, 0])], profile))
        if profile.ep_bytes_per_moe_layer > 0:
            ranks = groups["ep"]
            seconds_per_byte, latency = _all_to_all(topology, links, placed[ranks])
            layers_here = m * moe_layers[stage_of(layout, ranks[:, 0])]
            cost["ep"] = _max(layers_here * (profile.ep_bytes_per_moe_layer * seconds_per_byte
                                             + profile.ep_all_to_alls_per_moe_layer * latency))
    return cost


def _gradient_sync(topology: Topology, links: _Links, members: IntArray, parameters: FloatArray,
                   profile: TrafficProfile) -> FloatArray:
    n = members.shape[1]
    if n <= 1:
        return np.zeros(members.shape[0])
    bandwidth, latency = _ring(topology, links, members)
    gradients = parameters * profile.grad_bytes
    if profile.zero_stage == 0:
        return 2 * _reduce_scatter(n, gradients, bandwidth, latency)
    return (_reduce_scatter(n, gradients, bandwidth, latency)
            + _reduce_scatter(n, parameters * WEIGHT_BYTES, bandwidth, latency))


def _max(values: FloatArray) -> float:
    return float(values.max()) if values.size else 0.0


def total_cost(breakdown: Mapping[str, float]) -> float:
    return float(sum(breakdown.values()))


def group_reach(topology: Topology, devices: Sequence[int] | IntArray, layout: Layout) -> dict[str, Level]:
    """For each group kind, the level of the highest lowest-common-ancestor among its groups:
    ``NODE`` means every group of that kind stays inside one node."""
    placed = np.asarray(devices, dtype=np.int64)
    reach: dict[str, Level] = {}
    for kind, ranks in group_arrays(layout).items():
        if ranks.shape[1] <= 1:
            continue
        ancestors = topology.tree.device_ancestors[placed[ranks]]
        shared = (ancestors == ancestors[:, :1, :]).all(axis=1).sum(axis=1) - 1
        reach[kind] = Level(int(shared.min()))
    return reach
