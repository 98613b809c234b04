"""The control plane picks each node's peer in another failure domain and passes the policy by env."""

from __future__ import annotations

import json

from controlplane.checkpoints.environment import CheckpointSettings, checkpoint_environment
from controlplane.checkpoints.peers import PeerCandidate, choose_peers

NODES = [
    PeerCandidate("aws-h100-0", pool="h100-spot", zone="us-east-1a", capacity_type="spot", rack="r0"),
    PeerCandidate("aws-h100-1", pool="h100-spot", zone="us-east-1a", capacity_type="spot", rack="r0"),
    PeerCandidate("gcp-a100-0", pool="a100", zone="us-central1-c", capacity_type="on-demand", rack="r1"),
    PeerCandidate("ascend-0", pool="ascend", zone="shanghai-1", capacity_type="reserved", rack="r2"),
]


def test_a_peer_is_in_another_zone_pool_and_capacity_type_when_one_exists() -> None:
    peers = choose_peers(["aws-h100-0", "aws-h100-1"], NODES)

    assert set(peers.values()) <= {"gcp-a100-0", "ascend-0"}
    assert peers["aws-h100-0"] != peers["aws-h100-1"]  # replica memory is spread


def test_dead_nodes_are_never_peers_and_a_lone_node_gets_none() -> None:
    dead = [PeerCandidate(node.name, node.pool, node.zone, node.capacity_type, node.rack,
                          alive=node.name == "aws-h100-0") for node in NODES]

    assert choose_peers(["aws-h100-0"], dead) == {}
    assert choose_peers(["aws-h100-0"], NODES[:2]) == {"aws-h100-0": "aws-h100-1"}


def test_earlier_choices_are_kept_while_their_peer_lives() -> None:
    assert choose_peers(["aws-h100-0"], NODES, existing={"aws-h100-0": "ascend-0"}) == {"aws-h100-0": "ascend-0"}


def test_the_policy_travels_to_the_rank_through_its_environment() -> None:
    env = checkpoint_environment(["memory://", "peer://", "s3://bucket/job"], keep_last=2,
                                 peers={"node-a": "node-b"},
                                 storage_options={"s3": {"client_kwargs": {"endpoint_url": "http://127.0.0.1:1"}}})

    settings = CheckpointSettings.from_environment(env, node="node-a")

    assert settings is not None
    assert settings.tiers == ("memory://", "peer://", "s3://bucket/job") and settings.keep_last == 2
    assert settings.peer == "node-b"
    assert settings.storage_options["s3"]["client_kwargs"]["endpoint_url"] == "http://127.0.0.1:1"
    assert json.loads(env["SUANLI_CHECKPOINT_TIERS"])[0] == "memory://"


def test_a_single_checkpoint_uri_is_a_one_tier_policy_and_no_uri_is_none() -> None:
    settings = CheckpointSettings.from_environment({"SUANLI_CHECKPOINT_URI": "file:///tmp/x",
                                                    "SUANLI_CHECKPOINT_PEER": "node-z"})

    assert settings is not None and settings.tiers == ("file:///tmp/x",) and settings.peer == "node-z"
    assert CheckpointSettings.from_environment({}) is None
