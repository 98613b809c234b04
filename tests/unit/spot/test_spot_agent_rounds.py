"""The notice agent's guarantees: nothing lost, nothing twice, never killed by a source or a sink."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from controlplane.runtime.types import Notice
from controlplane.spot import Advisory, NoticeAgent, SourceReading, SourceSpec, build_source
from controlplane.spot.aws import AwsSpotNotices
from controlplane.spot.azure import AzureScheduledEvents
from controlplane.spot.gcp import GcpSpotNotices

NOTICE = Notice("n1", "preemption", 100.0, "test")


class ScriptedSource:
    def __init__(self, *rounds: Sequence[Notice] | Exception) -> None:
        self.rounds = list(rounds)
        self.polls = 0

    def poll(self) -> Sequence[Notice]:
        self.polls += 1
        item = self.rounds.pop(0) if self.rounds else []
        if isinstance(item, Exception):
            raise item
        return item


def test_a_source_that_raises_is_polled_again_next_round() -> None:
    delivered: list[Notice] = []
    source = ScriptedSource(RuntimeError("boom"), [NOTICE])
    agent = NoticeAgent([source], delivered.append)

    assert agent.poll_once() == []
    assert agent.poll_once() == [NOTICE]
    assert agent.source_errors == 1 and delivered == [NOTICE]


def test_a_refused_notice_is_kept_and_delivered_next_round() -> None:
    delivered: list[Notice] = []
    refuse = [True]

    def sink(notice: Notice) -> None:
        if refuse.pop(0) if refuse else False:
            raise ConnectionError("controller away")
        delivered.append(notice)

    agent = NoticeAgent([ScriptedSource([NOTICE])], sink)
    assert agent.poll_once() == []
    assert agent.poll_once() == [NOTICE]
    assert delivered == [NOTICE]


def test_advisories_go_to_their_own_sink() -> None:
    advisory = Advisory("n1", "rebalance-recommendation", 5.0, "test")

    class Advising:
        def poll(self) -> Sequence[Notice]:
            return []

        def poll_reading(self) -> SourceReading:
            return SourceReading((NOTICE,), (advisory,))

    advisories: list[Advisory] = []
    notices: list[Notice] = []
    NoticeAgent([Advising()], notices.append, advisory_sink=advisories.append).poll_once()
    assert (notices, advisories) == ([NOTICE], [advisory])


def test_the_background_threads_poll_until_stopped() -> None:
    delivered: list[Notice] = []
    source = ScriptedSource([], [], [NOTICE])
    agent = NoticeAgent([source], delivered.append, interval_s=0.01).start()
    deadline = time.monotonic() + 5
    while not delivered and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.stop()
    assert delivered == [NOTICE]
    assert not agent.running
    with pytest.raises(ValueError):
        NoticeAgent([], delivered.append, interval_s=0)


def test_source_specs_build_each_cloud_with_its_default_endpoint() -> None:
    aws = build_source(SourceSpec("aws", "n1"))
    gcp = build_source(SourceSpec("gcp", "n1", options={"wait_for_change_s": 10}))
    azure = build_source(SourceSpec("azure", "n1", base_url="http://127.0.0.1:1", options={"vm_name": "vm"}))
    assert isinstance(aws, AwsSpotNotices) and aws.endpoint.base_url == "http://169.254.169.254"
    assert isinstance(gcp, GcpSpotNotices) and gcp.endpoint.base_url == "http://metadata.google.internal"
    assert isinstance(azure, AzureScheduledEvents) and azure.vm_name == "vm"
    with pytest.raises(ValueError):
        build_source(SourceSpec("oracle", "n1"))  # type: ignore[arg-type]
