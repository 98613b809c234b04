"""Small clusters, models and requests for the placement tests.

Pools use catalog accelerator names, so link figures come from the shipped catalog (H100-SXM:
450 GB/s NVLink, 50 GB/s NIC per GPU; A100-80GB: 150 / 25). Node names follow the topology
builder: ``<pool>-n0000``; racks ``<pool>-r000``; spines ``<pool>-s00``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controlplane.perfmodel import Layout, ModelShape
from controlplane.placement import Placement, PlacementRequest
from controlplane.topology import LinkOverrides, PoolShape, Topology, build_topology, catalog_link_defaults
from controlplane.topology.levels import Level


def pool(name: str = "h100", *, accelerator: str = "H100-SXM", nodes: int = 8, region: str = "use1",
         zone: str | None = None, nodes_per_rack: int = 2, racks_per_spine: int = 2, devices_per_node: int = 8,
         spine_oversubscription: float | None = None, devices_per_domain: int | None = None) -> PoolShape:
    return PoolShape(name=name, accelerator=accelerator, node_count=nodes, devices_per_node=devices_per_node,
                     region=region, zone=zone or f"{region}-a", nodes_per_rack=nodes_per_rack,
                     racks_per_spine=racks_per_spine, devices_per_domain=devices_per_domain,
                     links=LinkOverrides(spine_oversubscription=spine_oversubscription))


def cluster(*pools: PoolShape) -> Topology:
    return build_topology(list(pools) or [pool()], link_defaults=catalog_link_defaults())


def node(pool_name: str, index: int) -> str:
    return f"{pool_name}-n{index:04d}"


def occupy(topology: Topology, taken: Mapping[str, Iterable[int] | str], owner: str = "others") -> None:
    """Allocate device indices (or ``"all"``) of named nodes to ``owner``."""
    devices: list[int] = []
    for name, indices in taken.items():
        info = topology.node_info(name)
        if isinstance(indices, str):
            devices.extend(info.devices)
        else:
            devices.extend(info.devices.start + index for index in indices)
    topology.allocate(devices, owner)


def small_model(layers: int = 32) -> ModelShape:
    """A Llama-2-7B-like shape."""
    return ModelShape(layers=layers, hidden_size=4096, attention_heads=32, sequence_length=4096,
                      ffn_hidden_size=11008, vocab_size=32000, name="llama-7b-like")


def big_model() -> ModelShape:
    """A Llama-3-70B-like shape."""
    return ModelShape(layers=80, hidden_size=8192, attention_heads=64, kv_heads=8, sequence_length=8192,
                      ffn_hidden_size=28672, vocab_size=128256, name="llama-70b-like")


def request(*, tp: int = 8, pp: int = 1, dp: int = 1, cp: int = 1, ep: int = 1, micro_batches: int = 8,
            job_id: str = "job", **options: object) -> PlacementRequest:
    layout = Layout(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batches=micro_batches)
    return PlacementRequest(job_id=job_id, layout=layout, **options)  # type: ignore[arg-type]


def ancestor(topology: Topology, device: int, level: Level) -> str:
    return topology.path(device)[level].name


def subtrees_of(placement: Placement, topology: Topology, ranks: Iterable[int], level: Level) -> set[str]:
    return {ancestor(topology, placement.devices[rank], level) for rank in ranks}
