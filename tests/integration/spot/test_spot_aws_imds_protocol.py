"""AWS: the IMDSv2 source against a local server speaking the IMDS protocol (tokens, 401/404, JSON)."""

from __future__ import annotations

import httpx

from controlplane.spot import AwsSpotNotices, EndpointOptions
from controlplane.spot.common import parse_iso_utc
from tests.metadata_servers import FakeAwsImds, ManualClock


def source(server: FakeAwsImds, clock: ManualClock, **options: object) -> AwsSpotNotices:
    endpoint = EndpointOptions(server.base_url, timeout_s=float(options.pop("timeout_s", 2.0)),  # type: ignore[arg-type]
                               retries=int(options.pop("retries", 2)))  # type: ignore[call-overload]
    return AwsSpotNotices("node-a", endpoint, clock=clock, sleep=lambda _: None, **options)  # type: ignore[arg-type]


def test_no_interruption_means_no_notice_and_a_session_token_was_used(aws: FakeAwsImds, clock: ManualClock) -> None:
    notices = source(aws, clock).poll()

    assert notices == []
    token_requests = aws.requests_to("/latest/api/token", "PUT")
    assert [r.headers.get("X-aws-ec2-metadata-token-ttl-seconds") for r in token_requests] == ["21600"]
    action_reads = aws.requests_to("/latest/meta-data/spot/instance-action", "GET")
    assert action_reads and all(r.headers.get("X-aws-ec2-metadata-token") for r in action_reads)


def test_an_interruption_notice_becomes_a_preemption_with_the_aws_deadline(aws: FakeAwsImds,
                                                                          clock: ManualClock) -> None:
    spot = source(aws, clock)
    notice_time = aws.preempt("terminate", warning_s=120)

    (notice,) = spot.poll()

    assert (notice.node, notice.kind) == ("node-a", "preemption")
    assert notice.deadline == parse_iso_utc(notice_time, source="test", what="time") == clock.now + 120
    assert notice.source == "aws-imds:terminate"


def test_each_notice_is_reported_once_and_again_after_it_changes(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock)
    aws.preempt("stop", warning_s=120)
    assert len(spot.poll()) == 1
    assert spot.poll() == []

    clock.advance(30)
    aws.preempt("hibernate", warning_s=90)
    (again,) = spot.poll()
    assert again.source == "aws-imds:hibernate"


def test_the_token_is_reused_until_close_to_its_ttl(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock, token_ttl_s=600, token_refresh_margin_s=60)
    for _ in range(3):
        spot.poll()
    assert spot.tokens_fetched == 1

    clock.advance(545)  # within the refresh margin of the 600 s TTL
    spot.poll()
    assert spot.tokens_fetched == 2
    assert len(aws.requests_to("/latest/api/token", "PUT")) == 2


def test_a_refused_token_is_refreshed_once_and_the_notice_still_arrives(aws: FakeAwsImds,
                                                                       clock: ManualClock) -> None:
    spot = source(aws, clock)
    spot.poll()
    aws.expire_tokens()
    aws.preempt()

    (notice,) = spot.poll()

    assert notice.kind == "preemption"
    assert spot.tokens_fetched == 2
    assert spot.health.failures == 0


def test_malformed_json_is_logged_and_ignored_then_a_good_notice_arrives(aws: FakeAwsImds,
                                                                        clock: ManualClock) -> None:
    spot = source(aws, clock)
    aws.malformed_body = '{"action": "terminate", "time": '

    assert spot.poll() == []
    assert spot.health.last_error_kind == "MalformedResponseError"
    assert "not JSON" in (spot.health.last_error or "")

    aws.malformed_body = None
    aws.preempt()
    assert len(spot.poll()) == 1
    assert spot.health.consecutive_failures == 0


def test_a_notice_with_a_bad_time_or_action_is_rejected(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock)
    aws.malformed_body = '{"action": "terminate", "time": "in two minutes"}'
    assert spot.poll() == []
    assert "ISO 8601" in (spot.health.last_error or "")

    aws.malformed_body = '{"action": "reboot", "time": "2026-01-01T00:00:00Z"}'
    assert spot.poll() == []
    assert "action 'reboot'" in (spot.health.last_error or "")


def test_a_slow_endpoint_times_out_without_raising(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock, timeout_s=0.2, retries=1)
    aws.delay_s = 2.0

    assert spot.poll() == []
    assert spot.health.last_error_kind == "MetadataUnavailableError"
    assert "timed out" in (spot.health.last_error or "")


def test_server_errors_are_retried(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock, retries=2)
    aws.preempt()
    aws.fail_next(2, status=503)

    assert len(spot.poll()) == 1


def test_an_unreachable_endpoint_is_reported_in_health(clock: ManualClock) -> None:
    spot = AwsSpotNotices("node-a", EndpointOptions("http://127.0.0.1:9", timeout_s=0.5, retries=0), clock=clock)
    assert spot.poll() == []
    assert spot.health.last_error_kind == "MetadataUnavailableError"


def test_rebalance_recommendations_are_advisories_not_notices(aws: FakeAwsImds, clock: ManualClock) -> None:
    spot = source(aws, clock)
    aws.recommend_rebalance()

    reading = spot.poll_reading()

    assert reading.notices == ()
    (advisory,) = reading.advisories
    assert (advisory.kind, advisory.noticed_at) == ("rebalance-recommendation", clock.now)
    assert spot.poll_reading().advisories == ()


def test_the_fake_speaks_imdsv2_strictly(aws: FakeAwsImds) -> None:
    with httpx.Client(base_url=aws.base_url) as client:
        assert client.put("/latest/api/token").status_code == 400
        assert client.put("/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "0"}).status_code == 400
        assert client.get("/latest/meta-data/spot/instance-action").status_code == 401
        assert client.get("/latest/meta-data/spot/instance-action",
                          headers={"X-aws-ec2-metadata-token": "forged"}).status_code == 401
        token = client.put("/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
        assert client.get("/latest/meta-data/spot/instance-action",
                          headers={"X-aws-ec2-metadata-token": token}).status_code == 404
        assert client.put("/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                                        "X-Forwarded-For": "10.0.0.1"}).status_code == 403
        assert client.post("/__fake__/preempt", json={"warning_s": 120}).status_code == 200
        assert client.get("/latest/meta-data/spot/instance-action",
                          headers={"X-aws-ec2-metadata-token": token}).json()["action"] == "terminate"
