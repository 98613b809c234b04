"""Ranks run exactly where the placement put them, with the distributed environment set."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import pytest

from controlplane.runtime import RankSpec
from tests.contract.harness import RayHarness

pytestmark = pytest.mark.slow

PRINT_ENVIRONMENT = (
    "import json, os; "
    "print('ENV ' + json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('SUANLI_', 'RANK', 'WORLD_SIZE', 'LOCAL_', 'MASTER_'))}))"
)


def test_each_rank_lands_on_its_planned_node_with_its_coordinates_in_the_environment(
        ray_harness: RayHarness) -> None:
    names = [node.name for node in ray_harness.definition.nodes]
    nodes = [*names[:3], names[-1]]  # four nodes spanning the three pools
    base = ray_harness.spec(nodes)
    layout = [  # tp x pp = 2 x 2, one rank per node across all three pools
        RankSpec(rank=0, node=nodes[0], coordinates={"tp": 0, "pp": 0, "stage": 0, "dp": 0}, experts=(0, 1)),
        RankSpec(rank=1, node=nodes[1], coordinates={"tp": 1, "pp": 0, "stage": 0, "dp": 0}, experts=(2, 3)),
        RankSpec(rank=2, node=nodes[2], coordinates={"tp": 0, "pp": 1, "stage": 1, "dp": 0}),
        RankSpec(rank=3, node=nodes[3], coordinates={"tp": 1, "pp": 1, "stage": 1, "dp": 0}),
    ]
    spec = replace(base, entrypoint=(sys.executable, "-c", PRINT_ENVIRONMENT), ranks=tuple(layout),
                   parallelism={"tp": 2, "pp": 2, "dp": 1})

    ray_harness.launch(spec)
    attempt = ray_harness.wait_for_state(spec.attempt_id, "succeeded", "failed", "lost", "stopped")

    assert attempt.state == "succeeded", attempt.reason
    assert [rank.node for rank in attempt.ranks] == nodes
    environments = [json.loads(next(line for line in ray_harness.runtime.logs(spec.attempt_id, rank)
                                    if line.startswith("ENV "))[4:]) for rank in range(4)]
    assert {env["MASTER_ADDR"] for env in environments} == {environments[0]["MASTER_ADDR"]}
    assert len({env["MASTER_PORT"] for env in environments}) == 1
    assert [(env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) for env in environments] == [
        (str(rank), "4", "0") for rank in range(4)]
    assert [(env["SUANLI_TP_RANK"], env["SUANLI_PP_RANK"], env["SUANLI_STAGE"]) for env in environments] == [
        ("0", "0", "0"), ("1", "0", "0"), ("0", "1", "1"), ("1", "1", "1")]
    assert environments[1]["SUANLI_EXPERTS"] == "2,3"
    assert environments[3]["SUANLI_TP_SIZE"] == "2"
    assert {env["SUANLI_ATTEMPT_ID"] for env in environments} == {spec.attempt_id}
    assert [env["SUANLI_NODE"] for env in environments] == nodes
    assert environments[0]["SUANLI_CHECKPOINT_URI"] == spec.checkpoint_uri


def test_rank_output_is_also_written_to_a_log_file_per_rank(ray_harness: RayHarness) -> None:
    spec = ray_harness.spec(ray_harness.two_pools, steps=2)

    ray_harness.launch(spec)
    ray_harness.wait_for_state(spec.attempt_id, "succeeded")

    for rank in range(2):
        assert f"probe rank {rank} step 2" in ray_harness.ray.log_file(spec.attempt_id, rank).read_text()
