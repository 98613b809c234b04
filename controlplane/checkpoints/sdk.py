"""The worker side of tiered checkpoints: ``TieredCheckpoints``, the hooks behind ``ctx.checkpoint``.

Training code uses the worker SDK and never this module directly::

    from controlplane.runtime import worker as suanli

    ctx = suanli.context()
    restored = ctx.restore()                  # (step, state) or None; see RestoredCheckpoint
    ...
    handle = ctx.checkpoint(state, step)      # blocks only for the snapshot
    ...
    suanli.wait_for_checkpoints()             # before exiting: let the persists finish

When the rank's environment names checkpoint tiers (``environment``), the worker SDK installs a
``TieredCheckpoints`` on first use. It builds a ``CheckpointEngine`` and a ``Restorer`` for this
rank: host-memory tiers go to per-node Ray actors when this process is part of a Ray cluster
(``ray_store``), else to a store in this process; ranks agree on the restored step through
``torch.distributed`` when a process group is up, else through the first shared tier. Every
commit the coordinator makes is reported to the control plane with ``worker.report_checkpoint``
(one report per tier, with the tier, checkpoint id and durations as details).

States are plain dicts of NumPy arrays, PyTorch state dicts (``model.state_dict()``, optimizer
state), and ``Sharded`` pieces of global tensors; torch ``DTensor`` values (what
``torch.distributed.checkpoint`` shards) are saved as ``Sharded`` pieces of their global tensor.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from controlplane.checkpoints.agreement import StoreAgreement, torch_agreement
from controlplane.checkpoints.engine import CheckpointEngine, CheckpointHandle, EngineOptions
from controlplane.checkpoints.environment import CheckpointSettings
from controlplane.checkpoints.events import CommitReport, EventSink, RankIdentity, log_event
from controlplane.checkpoints.restore import Agreement, RestoredCheckpoint, Restorer, single_rank_agreement
from controlplane.checkpoints.serialization import Sharded
from controlplane.checkpoints.tiers import InProcessNodeStores, NodeStores, Tier, build_tiers

logger = logging.getLogger("suanli.checkpoints")

EXIT_WAIT_S = 120.0


def identity_of(ctx: Any) -> RankIdentity:
    """A ``RankIdentity`` from a ``worker.WorkerContext``."""
    return RankIdentity(rank=ctx.rank, world_size=ctx.world_size, job_id=ctx.job_id, attempt_id=ctx.attempt_id,
                        node=ctx.node, coordinates=dict(ctx.coordinates), group_sizes=dict(ctx.group_sizes))


def default_node_stores() -> NodeStores:
    """Per-node Ray actors when this process is a rank actor in a Ray cluster, else a store in this
    process (a driver that merely has Ray initialised, or plain ``torchrun``)."""
    ray: Any = sys.modules.get("ray")
    if ray is not None and ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None:
        from controlplane.checkpoints.ray_store import RayNodeStores

        return RayNodeStores()
    return InProcessNodeStores()


def convert_dtensors(state: Any) -> Any:
    """Replace torch ``DTensor`` leaves with ``Sharded`` pieces of their global tensor."""
    torch: Any = sys.modules.get("torch")
    if torch is None:
        return state
    try:
        from torch.distributed.tensor import DTensor
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    except ImportError:
        return state

    def convert(value: Any) -> Any:
        if isinstance(value, DTensor):
            _, offsets = compute_local_shape_and_global_offset(value.shape, value.device_mesh, value.placements)
            return Sharded(value.to_local(), tuple(value.shape), tuple(int(n) for n in offsets))
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(convert(item) for item in value)
        return value

    return convert(state)


class TieredCheckpoints:
    """``worker.CheckpointHooks`` over tiered storage for one rank (see the module docstring)."""

    def __init__(self, identity: RankIdentity, tiers: Sequence[Tier], *, options: EngineOptions | None = None,
                 events: EventSink = log_event, reporter: Callable[[CommitReport], None] | None = None,
                 agreement: Agreement | None = None) -> None:
        self.identity = identity
        self.tiers = list(tiers)
        self.engine = CheckpointEngine(identity, self.tiers, options=options, events=events, reporter=reporter)
        self._events = events
        self._agreement = agreement

    @classmethod
    def from_settings(cls, settings: CheckpointSettings, identity: RankIdentity, *,
                      node_stores: NodeStores | None = None, events: EventSink = log_event,
                      reporter: Callable[[CommitReport], None] | None = None,
                      agreement: Agreement | None = None) -> TieredCheckpoints:
        stores = node_stores if node_stores is not None else default_node_stores()
        tiers = build_tiers(settings.tiers, job_id=identity.job_id, node=identity.node, peer_node=settings.peer,
                            node_stores=stores, storage_options=settings.storage_options)
        options = EngineOptions(keep_last=settings.keep_last, commit_timeout_s=settings.commit_timeout_s)
        return cls(identity, tiers, options=options, events=events, reporter=reporter, agreement=agreement)

    # -- worker.CheckpointHooks --------------------------------------------------------------------
    def save(self, ctx: Any, step: int, state: Any) -> CheckpointHandle:
        return self.engine.checkpoint(convert_dtensors(state), step)

    def restore(self, ctx: Any, template: Any | None = None) -> RestoredCheckpoint | None:
        restorer = Restorer(self.identity, self.tiers, agreement=self._choose_agreement(), events=self._events)
        return restorer.restore(convert_dtensors(template) if template is not None else None)

    def wait(self, timeout: float | None = None) -> bool:
        return self.engine.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        return self.engine.close(timeout)

    def _choose_agreement(self) -> Agreement:
        if self._agreement is not None:
            return self._agreement
        if self.identity.world_size <= 1:
            return single_rank_agreement
        collective = torch_agreement()
        if collective is not None:
            return collective
        shared = next((tier for tier in self.tiers if tier.shared and tier.write_store is not None), None)
        if shared is not None and shared.write_store is not None:
            scope = self.identity.attempt_id or f"local-{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
            return StoreAgreement(shared.write_store, rank=self.identity.rank, world_size=self.identity.world_size,
                                  attempt_id=scope)
        logger.warning("no torch.distributed group and no shared tier: ranks choose their restore step alone")
        return single_rank_agreement


def report_to_worker(report: CommitReport) -> None:
    """Report a commit through the worker SDK (the control plane's ``CheckpointCommit``)."""
    from controlplane.runtime import worker

    worker.report_checkpoint(step=report.step, uri=report.uri, bytes=report.bytes, details=report.details())


def install_from_environment(ctx: Any, env: Mapping[str, str] | None = None, *,
                             node_stores: NodeStores | None = None) -> TieredCheckpoints | None:
    """Build the hooks for the rank ``ctx`` from its environment; ``None`` when no tier is set."""
    settings = CheckpointSettings.from_environment(os.environ if env is None else env, ctx.node)
    if settings is None:
        return None
    hooks = TieredCheckpoints.from_settings(settings, identity_of(ctx), node_stores=node_stores,
                                            reporter=report_to_worker)
    atexit.register(hooks.close, EXIT_WAIT_S)
    return hooks
