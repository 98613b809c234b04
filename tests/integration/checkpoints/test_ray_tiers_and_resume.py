"""Host-memory tiers on real Ray actors of the virtual cluster, and a real job killed and resumed.

The ``memory://`` tier of a rank is an actor on its node; ``peer://`` is the same kind of actor on
the peer node the control plane chose. Losing a node takes its actor (and RAM) with it, so its
ranks' shards come back from the peer. The end-to-end test runs the demo's training job on two
nodes, hard-kills a node at a seeded random step and checks the next attempt resumes with at most
one checkpoint interval of lost work.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from controlplane.checkpoints.environment import checkpoint_environment
from controlplane.checkpoints.ray_store import RayNodeStores
from controlplane.runtime.types import LaunchSpec, RankSpec
from tests.contract.harness import RayHarness
from tests.ray_cluster import RaySession
from tests.unit.checkpoints.ranks import Job, assert_state_equal, rank_state

pytestmark = pytest.mark.slow

TERMINAL = ("succeeded", "failed", "stopped", "lost")
INTERVAL_STEPS = 5


@pytest.fixture
def ray_harness(local_ray: RaySession) -> Iterator[RayHarness]:
    try:
        yield RayHarness(local_ray.cluster, local_ray.runtime)
    finally:
        local_ray.reset()


@pytest.fixture
def node_stores(local_ray: RaySession) -> Iterator[RayNodeStores]:
    stores = RayNodeStores()
    try:
        yield stores
    finally:
        for node in list(stores.existing()):
            stores.remove(node)


def test_ranks_of_a_lost_node_restore_from_their_peer_replica_on_another_node(
        ray_harness: RayHarness, node_stores: RayNodeStores) -> None:
    spot, on_demand = ray_harness.two_pools  # aws-h100-0 (spot) and gcp-a100-0 (on-demand)
    peers = {spot: on_demand, on_demand: spot}
    job_id = f"peer-{uuid.uuid4().hex[:6]}"
    job = Job(["memory://", "peer://"], world_size=2, nodes=[spot, on_demand], peers=peers, stores=node_stores,
              job_id=job_id)
    job.save_all(lambda rank: rank_state(rank, 12), step=12)
    assert set(node_stores.existing()) == {spot, on_demand}

    ray_harness.lose_node(spot)  # the spot node is reclaimed: its store actor and RAM are gone
    try:
        replacement = ray_harness.nodes_of_pool(ray_harness.definition.nodes[0].pool)[1]
        after = Job(["memory://", "peer://"], world_size=2, nodes=[replacement, on_demand],
                    peers={replacement: on_demand, on_demand: replacement}, stores=RayNodeStores(), job_id=job_id,
                    attempt_id="attempt-2")
        restored = after.restore_all()
    finally:
        ray_harness.restore_node(spot)

    for rank, item in enumerate(restored):
        assert item is not None and item.step == 12
        assert_state_equal(item.state, rank_state(rank, 12))
    assert restored[0] is not None and restored[0].tiers == ["peer://"]
    assert restored[1] is not None and restored[1].tiers == ["memory://"]
    assert any(event.kind == "fallback_tier" for event in restored[0].events)


def _tiny_job(nodes: list[str], *, job_id: str, attempt: str, disk: Path, peers: dict[str, str]) -> LaunchSpec:
    env = {"TINY_BACKEND": "numpy", "SUANLI_TOTAL_STEPS": "60", "TINY_STEP_DELAY_S": "0.15",
           "SUANLI_CHECKPOINT_EVERY_STEPS": str(INTERVAL_STEPS)}
    env.update(checkpoint_environment(["memory://", "peer://", f"file://{disk}"], keep_last=2, peers=peers))
    ranks = tuple(RankSpec(rank=rank, node=node, local_rank=0, coordinates={"dp": rank})
                  for rank, node in enumerate(nodes))
    return LaunchSpec(attempt_id=f"{job_id}-{attempt}", request_id=f"{job_id}-{attempt}", job_id=job_id,
                      entrypoint="controlplane.examples.tiny_train:main", ranks=ranks, env=env,
                      parallelism={"dp": len(nodes)})


def test_a_job_killed_at_a_random_step_resumes_with_at_most_one_interval_lost(
        ray_harness: RayHarness, node_stores: RayNodeStores, tmp_path: Path) -> None:
    spot, on_demand = ray_harness.two_pools
    job_id = f"tiny-{uuid.uuid4().hex[:6]}"
    kill_at = random.Random(7).randint(8, 30)
    first = _tiny_job([spot, on_demand], job_id=job_id, attempt="a1", disk=tmp_path / "ckpt",
                      peers={spot: on_demand, on_demand: spot})
    ray_harness.launch(first)
    ray_harness.wait_for_reports(first.attempt_id, kill_at)
    ray_harness.lose_node(spot)
    try:
        ray_harness.wait_for_state(first.attempt_id, *TERMINAL)
        done_before = max(report.step for report in ray_harness.reports_of(first.attempt_id))
        committed = sorted({commit.step for commit in ray_harness.commits if commit.attempt_id == first.attempt_id})
        assert committed and committed[-1] % INTERVAL_STEPS == 0

        replacement = ray_harness.nodes_of_pool(ray_harness.definition.nodes[0].pool)[1]
        second = _tiny_job([replacement, on_demand], job_id=job_id, attempt="a2", disk=tmp_path / "ckpt",
                           peers={replacement: on_demand, on_demand: replacement})
        second = replace(second, env={**second.env, "SUANLI_TOTAL_STEPS": str(done_before + 3)})
        ray_harness.launch(second)
        outcome = ray_harness.wait_for_state(second.attempt_id, *TERMINAL)
    finally:
        ray_harness.restore_node(spot)

    assert outcome.state == "succeeded", outcome.reason
    resumed = [int(match) for rank in range(2) for line in ray_harness.runtime.logs(second.attempt_id, rank)
               for match in re.findall(r"resumed from step (\d+)", line)]
    assert len(resumed) == 2 and resumed[0] == resumed[1]
    # The newest committed checkpoint: at least the last commit reported, possibly a newer one whose
    # manifest was written on a surviving tier while its report died with the node.
    assert resumed[0] % INTERVAL_STEPS == 0 and committed[-1] <= resumed[0] <= done_before
    assert done_before - resumed[0] <= INTERVAL_STEPS, (done_before, resumed, committed)
    first_steps = [report.step for report in ray_harness.reports_of(second.attempt_id)]
    assert first_steps and first_steps[0] == resumed[0] + 1
