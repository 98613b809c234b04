"""AcceleratorPool and Queue rules."""

from __future__ import annotations

import pytest

from jobspecs import AcceleratorPool, Queue, parse_document
from tests.unit.jobspecs.jobspecs_docs import DELETE, issue_at, pool, queue


def test_pool_defaults_and_derived_device_counts() -> None:
    p = parse_document(pool())
    assert isinstance(p, AcceleratorPool)
    assert (p.spec.min_devices, p.spec.max_devices, p.spec.is_spot) == (0, 32, True)
    topology = p.spec.topology
    assert (topology.nodes_per_rack, topology.racks_per_spine, topology.spine_oversubscription) == (4, 8, 1.0)


def test_pool_nodes_accept_a_plain_integer_for_a_fixed_size() -> None:
    p = parse_document(pool(nodes=6))
    assert (p.spec.nodes.min, p.spec.nodes.max) == (6, 6)


def test_pool_nodes_max_must_not_be_below_min() -> None:
    issue = issue_at(pool(nodes={"min": 4, "max": 2}), "spec.nodes.max")
    assert issue.hint == "set max to at least 4"


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure", "lambda", "coreweave", "local", "verda"])
def test_pool_providers(provider: str) -> None:
    assert parse_document(pool(provider=provider)).spec.provider == provider


def test_unknown_provider_lists_the_known_ones_and_suggests_one() -> None:
    issue = issue_at(pool(provider="awz"), "spec.provider")
    assert "aws, gcp, azure" in issue.message
    assert issue.hint == "did you mean aws?"


def test_on_prem_pools_require_a_price() -> None:
    issue = issue_at(pool(provider="on-prem", capacityType="reserved"), "spec.price")
    assert "set spec.price.perDeviceHour" in (issue.hint or "")
    priced = parse_document(pool(provider="on-prem", capacityType="reserved", price={"perDeviceHour": 1.1}))
    assert priced.spec.price is not None and priced.spec.price.device_hour(8) == 1.1


def test_price_is_per_device_hour_or_per_node_hour_but_not_both() -> None:
    p = parse_document(pool(price={"perNodeHour": 98.32}))
    assert p.spec.price is not None and p.spec.price.device_hour(8) == pytest.approx(12.29)
    both = issue_at(pool(price={"perNodeHour": 8, "perDeviceHour": 1}), "spec.price")
    assert both.message == "both perDeviceHour and perNodeHour are set"
    assert issue_at(pool(price={}), "spec.price").message == "no price is set"
    negative = issue_at(pool(price={"perDeviceHour": -1}), "spec.price.perDeviceHour")
    assert negative.message == "must be at least 0 (got -1)"


def test_capacity_type_is_spot_on_demand_or_reserved() -> None:
    issue = issue_at(pool(capacityType="ondemand"), "spec.capacityType")
    assert issue.hint == "did you mean on-demand?"


def test_topology_bounds() -> None:
    assert (
        "at least 1"
        in issue_at(
            pool(topology={"spineOversubscription": 0.5}), "spec.topology.spineOversubscription"
        ).message
    )
    assert "at least 1" in issue_at(pool(topology={"nodesPerRack": 0}), "spec.topology.nodesPerRack").message
    assert (
        "greater than 0"
        in issue_at(pool(topology={"intraNodeGBps": 0}), "spec.topology.intraNodeGBps").message
    )


def test_pool_devices_per_node_and_names() -> None:
    assert "at least 1" in issue_at(pool(devicesPerNode=0), "spec.devicesPerNode").message
    assert "whitespace" in issue_at(pool(accelerator="H 100"), "spec.accelerator").message
    missing = issue_at(pool(accelerator=DELETE), "spec.accelerator")
    assert missing.message == "missing required field accelerator"


def test_pool_accelerator_names_are_not_checked_against_a_catalog() -> None:
    assert parse_document(pool(accelerator="Quantum-X9000")).spec.accelerator == "Quantum-X9000"


def test_pool_labels_follow_kubernetes_label_syntax() -> None:
    assert parse_document(pool(labels={"suanli.dev/network": "efa"})).spec.labels == {
        "suanli.dev/network": "efa"
    }
    issue = issue_at(pool(labels={"net": "has space"}), "spec.labels.net")
    assert "label value 'has space' is invalid" in issue.message


def test_queue_defaults_and_team_from_metadata() -> None:
    q = parse_document(queue())
    assert isinstance(q, Queue)
    assert q.team == "ml"
    assert q.spec.weight == 1.0
    assert q.spec.borrowing.enabled is True
    assert q.spec.quotas.devices == {"H100": 64}


def test_queue_spec_may_be_left_out() -> None:
    q = parse_document(queue(quotas=DELETE))
    assert q.spec.quotas.devices == {}


def test_queue_quotas_and_borrowing_limits_are_non_negative() -> None:
    issue = issue_at(queue(quotas={"devices": {"H100": -1}}), "spec.quotas.devices.H100")
    assert issue.message == "must be at least 0 (got -1)"
    assert "at least 0" in issue_at(queue(quotas={"dollarsPerDay": -5}), "spec.quotas.dollarsPerDay").message
    doc = queue(borrowing={"maxDevices": {"H100": 8}, "maxNormalizedUnits": 16})
    assert parse_document(doc).spec.borrowing.max_devices == {"H100": 8}


def test_queue_weight_must_be_positive_and_cohort_a_dns_label() -> None:
    assert "greater than 0" in issue_at(queue(weight=0), "spec.weight").message
    assert "DNS-1123" in issue_at(queue(cohort="GPU Fleet"), "spec.cohort").message


def test_pool_nodes_that_are_neither_a_count_nor_a_range_get_a_hint_with_both_forms() -> None:
    issue = issue_at(pool(nodes="four"), "spec.nodes")
    assert issue.hint == "write nodes: 4 or nodes: {min: 0, max: 4}"
    assert issue_at(pool(nodes={"maks": 3}), "spec.nodes.maks").hint == "did you mean max?"
