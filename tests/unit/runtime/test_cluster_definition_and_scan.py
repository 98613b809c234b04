"""The local cluster definition, and how Ray's node table becomes Suanli's nodes."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.runtime.cluster_definition import (
    DEFAULT_CLUSTER_FILE,
    load_cluster_definition,
    parse_cluster_definition,
)
from controlplane.runtime.ray.scan import scan_from_table
from controlplane.topology import NodeLabels, build_topology_from_nodes, catalog_link_defaults


def document(**spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"groups": [{"pool": "p", "accelerator": "H100", "devicesPerNode": 8,
                                        "nodes": [{"name": "n0"}]}]}
    spec.update(spec_changes)
    return {"apiVersion": "suanli.dev/v1alpha1", "kind": "LocalCluster", "metadata": {"name": "t"}, "spec": spec}


def test_the_local_cluster_spans_three_pools_and_several_accelerator_types() -> None:
    definition = load_cluster_definition(DEFAULT_CLUSTER_FILE)

    assert len(definition.nodes) == 5
    assert len(definition.pools) >= 3
    assert len({node.accelerator for node in definition.nodes}) >= 2
    assert {node.capacity_type for node in definition.nodes} >= {"spot", "on-demand"}
    first = definition.nodes[0]
    assert first.labels()["suanli.dev/node"] == first.name
    assert first.resources() == {f"accelerator:{first.accelerator}": float(first.devices)}
    assert not any(key.startswith("ray.io/") for node in definition.nodes for key in node.labels())


def test_the_local_cluster_labels_build_a_topology_tree() -> None:
    definition = load_cluster_definition(DEFAULT_CLUSTER_FILE)

    topology = build_topology_from_nodes([NodeLabels(node.name, node.labels()) for node in definition.nodes],
                                         link_defaults=catalog_link_defaults())

    assert topology is not None


@pytest.mark.parametrize(("changes", "field"), [
    ({"groups": [{"pool": "p", "accelerator": "H100", "devicesPerNode": 0, "nodes": [{"name": "n0"}]}]},
     "spec.groups.0.devicesPerNode"),
    ({"groups": [{"pool": "p", "accelerator": "H100", "devicesPerNode": 8, "nodes": [{"name": "n0"}], "x": 1}]},
     "spec.groups.0.x"),
    ({"groups": [{"pool": "p", "accelerator": "H100", "devicesPerNode": 8, "nodes": [{"name": "n0"}, {"name": "n0"}]}]},
     "spec.groups"),
])
def test_a_bad_definition_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_cluster_definition(document(**changes))

    assert error.value.field == field


def test_defaults_fill_zone_and_rack() -> None:
    node = parse_cluster_definition(document()).nodes[0]

    assert (node.region, node.zone, node.rack, node.capacity_type, node.cpus) == (
        "default", "default-a", "n0-rack", "on-demand", 2)


def ray_entry(node_id: str, labels: dict[str, str], alive: bool = True, **resources: float) -> dict[str, Any]:
    return {"NodeID": node_id, "Alive": alive, "NodeManagerAddress": "10.0.0.1", "Labels": labels,
            "Resources": resources}


def test_only_labelled_nodes_count_and_a_returned_node_is_alive() -> None:
    labels = {"suanli.dev/node": "n0", "suanli.dev/pool": "p", "suanli.dev/accelerator": "H100"}
    table = [
        ray_entry("head", {"suanli.dev/role": "head"}, CPU=1),
        ray_entry("old", labels, alive=False, **{"accelerator:H100": 8}),
        ray_entry("new", labels, alive=True, **{"accelerator:H100": 8}),
        ray_entry("kuberay", {"suanli.dev/pool": "q", "suanli.dev/accelerator": "A100"}, GPU=4),
    ]

    scan = scan_from_table(table)

    assert sorted(scan.nodes) == ["kuberay", "n0"]
    assert scan.nodes["n0"].ray_node_id == "new" and scan.node_alive("n0")
    assert scan.nodes["n0"].selector == {"suanli.dev/node": "n0"}
    assert scan.nodes["kuberay"].devices == 4
    assert scan.nodes["kuberay"].selector == {"ray.io/node-id": "kuberay"}
    assert scan.alive_ids == {"head", "new", "kuberay"}
