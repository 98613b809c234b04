"""Tiered checkpoints owned by the control plane: memory → peer memory → disk → object store.

Vocabulary and where each part lives:

- ``blobstore`` / ``file_stores`` / ``ray_store``: the one small ``BlobStore`` interface every
  tier implements (atomic puts), in-process, on local or shared filesystems, on fsspec object
  stores (s3fs, gcsfs, adlfs) and as per-node Ray actors.
- ``tiers``: a policy's tier URIs turned into the stores a rank writes and reads.
- ``serialization``: a rank's state as one self-describing shard; the snapshot copy.
- ``manifest``: checkpoint ids, keys, rank records and the manifest (the commit point).
- ``engine``: snapshot then persist in the background, commit per tier, retention, GC.
- ``restore`` / ``resharding`` / ``agreement``: newest valid checkpoint, fastest copy, layout
  changes, and ranks agreeing on one step.
- ``sdk``: the hooks behind ``ctx.checkpoint``/``ctx.restore`` of the worker SDK.
- ``peers`` / ``environment``: the control plane's side: peer choice and rank environment.

Importing this package imports neither Ray, fsspec nor torch.
"""

from controlplane.checkpoints.engine import CheckpointEngine, CheckpointHandle, EngineOptions, TierOutcome
from controlplane.checkpoints.environment import CheckpointSettings, checkpoint_environment
from controlplane.checkpoints.events import CheckpointEvent, CommitReport, RankIdentity
from controlplane.checkpoints.peers import PeerCandidate, choose_peers
from controlplane.checkpoints.restore import RestoredCheckpoint, Restorer
from controlplane.checkpoints.serialization import Sharded

__all__ = [
    "CheckpointEngine",
    "CheckpointEvent",
    "CheckpointHandle",
    "CheckpointSettings",
    "CommitReport",
    "EngineOptions",
    "PeerCandidate",
    "RankIdentity",
    "RestoredCheckpoint",
    "Restorer",
    "Sharded",
    "TierOutcome",
    "checkpoint_environment",
    "choose_peers",
]
