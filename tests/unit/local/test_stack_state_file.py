"""``up.json`` carries the local cloud services (object store, control URL, metadata endpoints)
and still loads when written before they existed or by a newer stack with more keys."""

from __future__ import annotations

import json
from pathlib import Path

from controlplane.local.state import ClusterNode, StackState, read_state, state_file, write_state

BASE = {"pid": 7, "url": "http://127.0.0.1:8080", "rayAddress": "127.0.0.1:6379", "rayNamespace": "suanli",
        "ownsCluster": True, "databaseUrl": "sqlite://", "controllerPid": 8, "controllerHolder": "h:8:x",
        "controllerRestarts": 0, "stackLog": "s.log", "controllerLog": "c.log", "rankLogDir": "logs",
        "startedAt": "2024-01-01T00:00:00+00:00",
        "nodes": [{"name": "aws-h100-0", "pool": "p", "accelerator": "H100", "devices": 2}]}


def test_a_state_file_from_before_the_local_cloud_loads_without_it(tmp_path: Path) -> None:
    state_file(tmp_path).write_text(json.dumps(BASE))

    state = read_state(state_file(tmp_path))

    assert state is not None and state.cloud_url is None and state.object_store is None and state.metadata == {}
    assert state.nodes == (ClusterNode("aws-h100-0", "p", "H100", 2, provider=None),)


def test_keys_a_newer_stack_added_are_ignored(tmp_path: Path) -> None:
    newer = {**BASE, "somethingNew": 1, "nodes": [{**BASE["nodes"][0], "provider": "aws", "gpuModel": "x"}]}
    state_file(tmp_path).write_text(json.dumps(newer))

    state = read_state(state_file(tmp_path))

    assert state is not None and state.nodes[0].provider == "aws"


def test_the_local_cloud_services_round_trip_with_camel_case_keys_and_verbatim_values(tmp_path: Path) -> None:
    store = {"endpoint": "http://127.0.0.1:8333", "bucket": "suanli-checkpoints", "url": "s3://suanli-checkpoints",
             "storageOptions": {"key": "k", "client_kwargs": {"endpoint_url": "http://127.0.0.1:8333"}},
             "dataDir": "/tmp/x"}
    metadata = {"aws-h100-0": {"cloud": "aws", "url": "http://127.0.0.1:4000"}}
    state = StackState.from_json({**BASE, "objectStore": store, "cloudUrl": "http://127.0.0.1:5000",
                                  "metadata": metadata})

    write_state(state_file(tmp_path), state)
    written = json.loads(state_file(tmp_path).read_text())

    assert written["objectStore"] == store and written["cloudUrl"] == "http://127.0.0.1:5000"
    assert written["metadata"] == metadata
    assert read_state(state_file(tmp_path)) == state
