"""A cluster definition: named nodes grouped by pool, with the labels Suanli places by.

``deploy/local/cluster.yaml`` uses it to describe the local heterogeneous cluster (Ray virtual
nodes, see ``controlplane.runtime.ray.local_cluster``); the simulator builds its nodes from the
same file. The groups mirror KubeRay worker groups: every node of a group carries the group's
pool, accelerator, device count, provider, region, zone and capacity type as labels, so the
same runtime code finds pools by label on a local cluster and on KubeRay.

Labels (``controlplane.topology.labels`` plus two of our own): ``suanli.dev/node`` (unique
node name), ``suanli.dev/pool``, ``suanli.dev/accelerator``, ``suanli.dev/devices``,
``suanli.dev/provider``, ``suanli.dev/region``, ``suanli.dev/zone``, ``suanli.dev/rack``,
``suanli.dev/capacity-type``. Each node also advertises the resource
``accelerator:<TYPE>`` with its device count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from controlplane.domain.errors import InvalidInputError
from controlplane.topology import labels as label_keys

NODE_LABEL = "suanli.dev/node"
PROVIDER_LABEL = "suanli.dev/provider"
ACCELERATOR_RESOURCE_PREFIX = "accelerator:"
KIND = "LocalCluster"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CLUSTER_FILE = REPOSITORY_ROOT / "deploy" / "local" / "cluster.yaml"


def accelerator_resource(accelerator: str) -> str:
    """The per-type resource a node advertises its devices under: ``accelerator:H100``."""
    return f"{ACCELERATOR_RESOURCE_PREFIX}{accelerator}"


@dataclass(frozen=True, slots=True)
class VirtualNode:
    """One node of a cluster definition."""

    name: str
    pool: str
    accelerator: str
    devices: int
    provider: str
    region: str
    zone: str
    rack: str
    capacity_type: str
    cpus: int
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        labels = dict(self.extra_labels)
        labels.update({
            NODE_LABEL: self.name,
            label_keys.POOL: self.pool,
            label_keys.ACCELERATOR: self.accelerator,
            label_keys.DEVICES: str(self.devices),
            PROVIDER_LABEL: self.provider,
            label_keys.REGION: self.region,
            label_keys.ZONE: self.zone,
            label_keys.RACK: self.rack,
            label_keys.CAPACITY_TYPE: self.capacity_type,
        })
        return labels

    def resources(self) -> dict[str, float]:
        return {accelerator_resource(self.accelerator): float(self.devices)}


@dataclass(frozen=True, slots=True)
class ClusterDefinition:
    name: str
    nodes: tuple[VirtualNode, ...]
    head_cpus: int = 1

    def node(self, name: str) -> VirtualNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InvalidInputError(f"no node named {name!r} in cluster {self.name!r}",
                                hint=f"nodes: {', '.join(node.name for node in self.nodes)}")

    @property
    def pools(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(node.pool for node in self.nodes))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class _NodeDocument(_Model):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    rack: str | None = None
    zone: str | None = None
    cpus: int | None = Field(default=None, gt=0)


class _GroupDocument(_Model):
    pool: str = Field(min_length=1)
    accelerator: str = Field(min_length=1, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    devices_per_node: int = Field(gt=0)
    provider: str = "on-prem"
    region: str = "default"
    zone: str | None = None
    capacity_type: str = "on-demand"
    cpus_per_node: int = Field(default=2, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)
    nodes: list[_NodeDocument] = Field(min_length=1)


class _HeadDocument(_Model):
    cpus: int = Field(default=1, ge=0)


class _SpecDocument(_Model):
    head: _HeadDocument = _HeadDocument()
    groups: list[_GroupDocument] = Field(min_length=1)


class _Metadata(_Model):
    name: str = Field(min_length=1)


class _ClusterDocument(_Model):
    api_version: str = Field(pattern=r"^suanli\.dev/v1alpha1$")
    kind: str = Field(pattern=f"^{KIND}$")
    metadata: _Metadata
    spec: _SpecDocument


def parse_cluster_definition(document: Mapping[str, Any]) -> ClusterDefinition:
    """Validate a loaded ``LocalCluster`` document; errors name the field path."""
    try:
        parsed = _ClusterDocument.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(first["msg"], field=where, hint="see deploy/local/cluster.yaml") from error
    nodes: list[VirtualNode] = []
    for group in parsed.spec.groups:
        for node in group.nodes:
            zone = node.zone or group.zone or f"{group.region}-a"
            nodes.append(VirtualNode(
                name=node.name, pool=group.pool, accelerator=group.accelerator, devices=group.devices_per_node,
                provider=group.provider, region=group.region, zone=zone, rack=node.rack or f"{node.name}-rack",
                capacity_type=group.capacity_type, cpus=node.cpus or group.cpus_per_node,
                extra_labels=dict(group.labels),
            ))
    names = [node.name for node in nodes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInputError(f"node names repeat: {', '.join(repeated)}", field="spec.groups",
                                hint="every node needs a unique name")
    return ClusterDefinition(name=parsed.metadata.name, nodes=tuple(nodes), head_cpus=parsed.spec.head.cpus)


def load_cluster_definition(path: str | Path = DEFAULT_CLUSTER_FILE) -> ClusterDefinition:
    """Read and validate a cluster definition file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"cannot read cluster definition {path}: {error.strerror}", field="path") from error
    return parse_cluster_definition(yaml.safe_load(text) or {})
