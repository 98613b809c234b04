"""GCP: the preemption source against a local server speaking the Compute Engine metadata protocol."""

from __future__ import annotations

import threading

import httpx

from controlplane.spot import EndpointOptions, GcpSpotNotices
from tests.metadata_servers import FakeGcpMetadata, ManualClock


def source(server: FakeGcpMetadata, clock: ManualClock, *, timeout_s: float = 2.0, **options: object
           ) -> GcpSpotNotices:
    return GcpSpotNotices("node-g", EndpointOptions(server.base_url, timeout_s=timeout_s, retries=0), clock=clock,
                          sleep=lambda _: None, **options)  # type: ignore[arg-type]


def test_not_preempted_means_no_notice_and_the_flavor_header_is_sent(gcp: FakeGcpMetadata,
                                                                    clock: ManualClock) -> None:
    assert source(gcp, clock).poll() == []
    (request,) = gcp.requests_to("/computeMetadata/v1/instance/preempted")
    assert request.headers.get("Metadata-Flavor") == "Google"


def test_preemption_gives_thirty_seconds_from_when_it_was_first_seen(gcp: FakeGcpMetadata,
                                                                     clock: ManualClock) -> None:
    spot = source(gcp, clock)
    gcp.preempt()
    seen_at = clock.now

    (notice,) = spot.poll()
    clock.advance(5)
    assert spot.poll() == []  # reported once; the deadline does not slide

    assert (notice.node, notice.kind, notice.deadline) == ("node-g", "preemption", seen_at + 30)
    assert notice.source == "gcp-metadata:preempted"


def test_wait_for_change_long_poll_returns_when_the_value_flips(gcp: FakeGcpMetadata, clock: ManualClock) -> None:
    spot = source(gcp, clock, wait_for_change_s=20)
    assert spot.poll() == []  # a plain read first: it learns the current ETag
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.extend(spot.poll()))
    waiter.start()
    while not [r for r in gcp.requests_to("/computeMetadata/v1/instance/preempted") if "last_etag" in r.query]:
        threading.Event().wait(0.01)

    gcp.preempt()
    waiter.join(timeout=10)

    assert not waiter.is_alive()
    assert len(results) == 1
    long_polls = [r for r in gcp.requests_to("/computeMetadata/v1/instance/preempted") if "last_etag" in r.query]
    assert long_polls[0].query["wait_for_change"] == "true" and long_polls[0].query["timeout_sec"] == "20"


def test_a_long_poll_that_sees_no_change_ends_after_its_timeout_quietly(gcp: FakeGcpMetadata,
                                                                        clock: ManualClock) -> None:
    spot = source(gcp, clock, wait_for_change_s=1)
    spot.poll()
    assert spot.poll() == []
    assert spot.health.failures == 0


def test_a_server_slower_than_the_timeout_is_a_logged_failure(gcp: FakeGcpMetadata, clock: ManualClock) -> None:
    spot = source(gcp, clock, timeout_s=0.2)
    gcp.delay_s = 2.0
    assert spot.poll() == []
    assert spot.health.last_error_kind == "MetadataUnavailableError"


def test_an_unexpected_value_is_malformed(gcp: FakeGcpMetadata, clock: ManualClock) -> None:
    spot = source(gcp, clock)
    gcp.malformed_body = "MAYBE"
    assert spot.poll() == []
    assert spot.health.last_error_kind == "MalformedResponseError"
    assert "expected TRUE or FALSE" in (spot.health.last_error or "")


def test_an_answer_without_the_flavor_header_is_not_the_metadata_server(clock: ManualClock) -> None:
    impostor = httpx.MockTransport(lambda request: httpx.Response(200, text="TRUE"))
    spot = GcpSpotNotices("node-g", EndpointOptions("http://metadata.google.internal"), clock=clock,
                          transport=impostor)
    assert spot.poll() == []
    assert "not the metadata server" in (spot.health.last_error or "")


def test_a_terminating_host_maintenance_is_a_maintenance_notice(gcp: FakeGcpMetadata, clock: ManualClock) -> None:
    spot = source(gcp, clock, watch_maintenance=True, maintenance_notice_s=60)
    gcp.schedule_maintenance("MIGRATE_ON_HOST_MAINTENANCE")
    assert spot.poll() == []

    gcp.schedule_maintenance("TERMINATE_ON_HOST_MAINTENANCE")
    (notice,) = spot.poll()
    assert (notice.kind, notice.deadline) == ("maintenance", clock.now + 60)


def test_the_fake_refuses_requests_without_the_flavor_header(gcp: FakeGcpMetadata) -> None:
    with httpx.Client(base_url=gcp.base_url) as client:
        refused = client.get("/computeMetadata/v1/instance/preempted")
        assert refused.status_code == 403
        answered = client.get("/computeMetadata/v1/instance/preempted", headers={"Metadata-Flavor": "Google"})
        assert (answered.status_code, answered.text, answered.headers["Metadata-Flavor"]) == (200, "FALSE", "Google")
        assert answered.headers["ETag"]
