"""Azure: the Scheduled Events source against a local server speaking the IMDS scheduled-events protocol."""

from __future__ import annotations

import json

import httpx

from controlplane.spot import AzureScheduledEvents, EndpointOptions
from controlplane.spot.common import parse_http_date
from tests.metadata_servers import FakeAzureScheduledEvents, ManualClock

PATH = "/metadata/scheduledevents"


def source(server: FakeAzureScheduledEvents, clock: ManualClock, *, timeout_s: float = 2.0,
           **options: object) -> AzureScheduledEvents:
    return AzureScheduledEvents("node-z", EndpointOptions(server.base_url, timeout_s=timeout_s, retries=0),
                                clock=clock, sleep=lambda _: None, **options)  # type: ignore[arg-type]


def test_no_events_means_no_notice_and_the_request_is_well_formed(azure: FakeAzureScheduledEvents,
                                                                  clock: ManualClock) -> None:
    assert source(azure, clock).poll() == []
    (request,) = azure.requests_to(PATH)
    assert request.headers.get("Metadata") == "true"
    assert request.query == {"api-version": "2020-07-01"}


def test_a_preempt_event_is_a_preemption_due_at_not_before(azure: FakeAzureScheduledEvents,
                                                           clock: ManualClock) -> None:
    spot = source(azure, clock)
    event_id = azure.preempt(warning_s=30)

    (notice,) = spot.poll()

    not_before = azure.document()["Events"][0]["NotBefore"]
    assert notice.deadline == parse_http_date(not_before, source="test", what="NotBefore") == clock.now + 30
    assert (notice.node, notice.kind, notice.source) == ("node-z", "preemption",
                                                        f"azure-scheduled-events:Preempt:{event_id}")
    assert spot.poll() == []


def test_acknowledging_starts_the_event(azure: FakeAzureScheduledEvents, clock: ManualClock) -> None:
    spot = source(azure, clock)
    event_id = azure.preempt()
    spot.poll()

    assert spot.acknowledge_all() == [event_id]

    assert azure.acknowledged == [event_id]
    (ack,) = azure.requests_to(PATH, "POST")
    assert json.loads(ack.body) == {"StartRequests": [{"EventId": event_id}]}
    assert azure.document()["Events"][0]["EventStatus"] == "Started"
    assert spot.poll() == []  # the same event, now started, is not a new notice


def test_only_this_vms_events_count_and_freezes_are_ignored(azure: FakeAzureScheduledEvents,
                                                            clock: ManualClock) -> None:
    spot = source(azure, clock, vm_name="vm-7")
    azure.schedule("Preempt", resources=["vm-3"])
    azure.schedule("Freeze", resources=["vm-7"])
    assert spot.poll() == []

    azure.schedule("Reboot", warning_s=900, resources=["vm-7"])
    (notice,) = spot.poll()
    assert (notice.kind, notice.deadline) == ("maintenance", clock.now + 900)


def test_a_malformed_document_fails_the_read_and_a_malformed_event_is_skipped(azure: FakeAzureScheduledEvents,
                                                                              clock: ManualClock) -> None:
    spot = source(azure, clock)
    azure.malformed_body = "{not json"
    assert spot.poll() == []
    assert spot.health.last_error_kind == "MalformedResponseError"

    good = {"EventId": "E1", "EventType": "Preempt", "ResourceType": "VirtualMachine", "Resources": ["vm"],
            "EventStatus": "Scheduled", "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT"}
    bad = dict(good, EventId="E2", NotBefore="soon")
    azure.malformed_body = json.dumps({"DocumentIncarnation": 2, "Events": [bad, good]})
    (notice,) = spot.poll()
    assert notice.source.endswith(":E1")
    assert spot.skipped_events == 1


def test_a_slow_endpoint_times_out_quietly(azure: FakeAzureScheduledEvents, clock: ManualClock) -> None:
    spot = source(azure, clock, timeout_s=0.2)
    azure.delay_s = 2.0
    assert spot.poll() == []
    assert spot.health.last_error_kind == "MetadataUnavailableError"


def test_the_fake_insists_on_the_metadata_header_and_api_version(azure: FakeAzureScheduledEvents) -> None:
    with httpx.Client(base_url=azure.base_url) as client:
        no_header = client.get(PATH, params={"api-version": "2020-07-01"})
        assert no_header.status_code == 400 and "metadata header" in no_header.json()["error"]
        no_version = client.get(PATH, headers={"Metadata": "true"})
        assert no_version.status_code == 400
        bad_version = client.get(PATH, params={"api-version": "1999-01-01"}, headers={"Metadata": "true"})
        assert bad_version.status_code == 400 and "newest-versions" in bad_version.json()
        bad_ack = client.post(PATH, params={"api-version": "2020-07-01"}, headers={"Metadata": "true"},
                              content="{}")
        assert bad_ack.status_code == 400
