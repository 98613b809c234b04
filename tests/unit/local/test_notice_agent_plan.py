"""The controller keeps exactly one notice agent on each node listed in ``notice_sources``:
started where the node is alive without one, dropped when its node is gone, replaced when the
node came back as a new Ray node. The setting itself is checked entry by entry."""

from __future__ import annotations

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.local.notices import plan_agents, source_specs
from controlplane.settings import Settings
from controlplane.spot.agent import SourceSpec

WANTED = ["aws-0", "aws-1", "gcp-0"]


def test_every_live_listed_node_without_an_agent_gets_one() -> None:
    start, drop = plan_agents({}, {"aws-0": "id-a", "aws-1": "id-b", "gcp-0": "id-c", "ascend-0": "id-d"}, WANTED)

    assert start == {"aws-0": "id-a", "aws-1": "id-b", "gcp-0": "id-c"} and drop == []


def test_nodes_that_already_have_their_agent_are_left_alone() -> None:
    assert plan_agents({"aws-0": "id-a"}, {"aws-0": "id-a"}, WANTED) == ({}, [])


def test_the_agent_of_a_node_that_is_gone_is_dropped_and_not_replaced() -> None:
    assert plan_agents({"aws-0": "id-a", "gcp-0": "id-c"}, {"gcp-0": "id-c"}, WANTED) == ({}, ["aws-0"])


def test_a_node_that_came_back_as_a_new_ray_node_gets_a_new_agent() -> None:
    start, drop = plan_agents({"aws-0": "id-a"}, {"aws-0": "id-a2"}, WANTED)

    assert start == {"aws-0": "id-a2"} and drop == ["aws-0"]


def test_the_setting_becomes_one_source_spec_per_node() -> None:
    specs = source_specs({"aws-0": {"cloud": "aws", "baseUrl": "http://127.0.0.1:4000"},
                          "gcp-0": {"cloud": "gcp"}})

    assert specs == {"aws-0": [SourceSpec("aws", "aws-0", base_url="http://127.0.0.1:4000")],
                     "gcp-0": [SourceSpec("gcp", "gcp-0", base_url=None)]}


@pytest.mark.parametrize(("entry", "field"), [({"cloud": "oracle", "baseUrl": "http://x"}, "notice_sources.n.cloud"),
                                              ({"cloud": "aws", "baseUrl": "x:80"}, "notice_sources.n.baseUrl")])
def test_a_bad_entry_names_its_node_and_field(entry: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        source_specs({"n": entry})
    assert error.value.field == field


def test_the_settings_read_notice_sources_and_storage_options_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_NOTICE_SOURCES", '{"aws-0": {"cloud": "aws", "baseUrl": "http://127.0.0.1:1"}}')
    monkeypatch.setenv("SUANLI_CHECKPOINT_STORAGE_OPTIONS",
                       '{"s3": {"key": "k", "client_kwargs": {"endpoint_url": "http://127.0.0.1:2"}}}')
    monkeypatch.setenv("SUANLI_LOCAL_OBJECT_STORE", "false")

    settings = Settings()

    assert settings.notice_sources == {"aws-0": {"cloud": "aws", "baseUrl": "http://127.0.0.1:1"}}
    assert settings.checkpoint_storage_options["s3"]["client_kwargs"] == {"endpoint_url": "http://127.0.0.1:2"}
    assert settings.local_object_store is False


def test_by_default_there_are_no_notice_sources_and_the_local_object_store_is_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUANLI_NOTICE_SOURCES", "SUANLI_CHECKPOINT_STORAGE_OPTIONS", "SUANLI_LOCAL_OBJECT_STORE"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings()

    assert settings.notice_sources == {} and settings.checkpoint_storage_options == {}
    assert settings.local_object_store is True
