"""The local cloud plays a spot provider: it announces a preemption on the node's own metadata
endpoint, reclaims the node when the notice runs out (not before), takes nodes away without
notice and gives them back. The clock and the node callables are injected: no Ray here."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from controlplane.domain.errors import ConflictError, InvalidInputError, NotFoundError
from controlplane.local.cloud import CloudNode, LocalCloud
from controlplane.spot.aws import AwsSpotNotices
from controlplane.spot.azure import AzureScheduledEvents
from controlplane.spot.common import EndpointOptions
from controlplane.spot.gcp import GcpSpotNotices

NODES = [CloudNode("aws-0", "aws"), CloudNode("gcp-0", "gcp"), CloudNode("azure-0", "azure"),
         CloudNode("rack-0", "on-prem")]


class Clock:
    def __init__(self, now: float = 1_700_000_000.4) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cluster:
    """Records what the cloud does to the nodes."""

    def __init__(self, *, fail_removal: bool = False) -> None:
        self.removed: list[str] = []
        self.restored: list[str] = []
        self.fail_removal = fail_removal

    def remove(self, name: str) -> None:
        self.removed.append(name)
        if self.fail_removal:
            raise RuntimeError("raylet already gone")

    def restore(self, name: str) -> None:
        self.restored.append(name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


@pytest.fixture
def cloud(clock: Clock, cluster: Cluster) -> LocalCloud:
    return LocalCloud(NODES, remove_node=cluster.remove, restore_node=cluster.restore, clock=clock)


@pytest.fixture
def served(cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The same cloud with its metadata endpoints and control server listening (the ticker idles:
    the injected clock only moves when a test moves it)."""
    with cloud:
        yield cloud


def endpoint(cloud: LocalCloud, node: str) -> EndpointOptions:
    return EndpointOptions(cloud.metadata()[node]["url"], timeout_s=2.0, retries=0)


# -- the reclaim policy ------------------------------------------------------------------------

def test_a_preempted_node_is_reclaimed_once_its_deadline_passes_and_not_before(cloud: LocalCloud, clock: Clock,
                                                                              cluster: Cluster) -> None:
    view = cloud.preempt("aws-0", in_s=30)

    assert view["state"] == "preempting" and view["deadline"] == 1_700_000_030.0  # whole seconds, as AWS states
    clock.advance(29.5)
    assert cloud.tick() == [] and cluster.removed == []
    clock.advance(0.5)
    assert cloud.tick() == ["aws-0"] and cluster.removed == ["aws-0"]
    assert cloud.node("aws-0")["state"] == "removed"
    assert cloud.node("aws-0")["reason"] == "reclaimed after the terminate notice"
    clock.advance(60)
    assert cloud.tick() == [] and cluster.removed == ["aws-0"]  # reclaimed once


def test_without_a_notice_length_each_cloud_gives_its_usual_warning(cloud: LocalCloud, clock: Clock) -> None:
    start = int(clock.now)

    assert cloud.preempt("aws-0")["deadline"] == start + 120
    assert cloud.preempt("gcp-0")["deadline"] == start + 30
    assert cloud.preempt("azure-0")["deadline"] == start + 30


def test_the_preempt_message_says_what_the_endpoint_announces_and_when_the_node_goes(cloud: LocalCloud,
                                                                                    clock: Clock) -> None:
    clock.now = 1_700_000_000.0  # 22:13:20Z

    message = cloud.preempt("aws-0", in_s=130, action="stop")["message"]

    assert message == ("aws-0: the AWS metadata endpoint now announces stop at 22:15:30Z; "
                       "the node is reclaimed then")


def test_removing_a_node_takes_it_now_and_cancels_its_pending_preemption(cloud: LocalCloud, clock: Clock,
                                                                         cluster: Cluster) -> None:
    cloud.preempt("aws-0", in_s=60)

    assert cloud.remove("aws-0")["state"] == "removed" and cluster.removed == ["aws-0"]
    clock.advance(120)
    assert cloud.tick() == [] and cluster.removed == ["aws-0"]
    assert cloud.node("aws-0")["reason"] == "lost without notice"


def test_an_on_prem_node_can_be_lost_without_notice_and_restored(cloud: LocalCloud, cluster: Cluster) -> None:
    cloud.remove("rack-0")
    cloud.restore("rack-0")

    assert cluster.removed == ["rack-0"] and cluster.restored == ["rack-0"]
    assert cloud.node("rack-0")["state"] == "up"


def test_a_node_whose_removal_fails_at_the_deadline_still_counts_as_reclaimed(clock: Clock) -> None:
    cluster = Cluster(fail_removal=True)
    cloud = LocalCloud(NODES, remove_node=cluster.remove, restore_node=cluster.restore, clock=clock)
    cloud.preempt("gcp-0", in_s=5)
    clock.advance(5)

    assert cloud.tick() == ["gcp-0"] and cloud.node("gcp-0")["state"] == "removed"


def test_preempting_an_on_prem_node_is_refused_and_names_the_hard_loss_instead(cloud: LocalCloud) -> None:
    with pytest.raises(InvalidInputError) as refused:
        cloud.preempt("rack-0", in_s=30)

    assert "on-prem" in refused.value.message and "no cloud metadata endpoint" in refused.value.message
    assert refused.value.hint is not None and "remove-node rack-0" in refused.value.hint


def test_an_unknown_node_is_refused_with_the_names_of_the_known_ones(cloud: LocalCloud) -> None:
    with pytest.raises(NotFoundError) as unknown:
        cloud.preempt("aws-9")

    assert unknown.value.details["nodes"] == ["aws-0", "gcp-0", "azure-0", "rack-0"]
    assert unknown.value.hint == "nodes: aws-0, gcp-0, azure-0, rack-0"


@pytest.mark.parametrize("in_s", [-1.0, float("nan"), 10 * 86400.0])
def test_a_notice_length_outside_zero_to_a_day_is_refused(cloud: LocalCloud, in_s: float) -> None:
    with pytest.raises(InvalidInputError, match="between 0 and"):
        cloud.preempt("aws-0", in_s=in_s)


def test_an_unknown_action_is_refused(cloud: LocalCloud) -> None:
    with pytest.raises(InvalidInputError, match="unknown action 'reboot'"):
        cloud.preempt("aws-0", action="reboot")


def test_commands_that_do_not_fit_the_node_state_conflict(cloud: LocalCloud, cluster: Cluster) -> None:
    cloud.preempt("aws-0", in_s=60)
    with pytest.raises(ConflictError, match="being preempted"):
        cloud.preempt("aws-0", in_s=10)
    with pytest.raises(ConflictError, match="it is up"):
        cloud.restore("gcp-0")
    cloud.remove("gcp-0")
    with pytest.raises(ConflictError, match="already removed"):
        cloud.remove("gcp-0")
    with pytest.raises(ConflictError, match="restore-node gcp-0"):
        cloud.preempt("gcp-0")
    assert cluster.removed == ["gcp-0"] and cluster.restored == []


# -- what the metadata endpoints say -----------------------------------------------------------

def test_the_aws_endpoint_announces_the_action_with_the_reclaim_deadline(served: LocalCloud, clock: Clock) -> None:
    source = AwsSpotNotices("aws-0", endpoint(served, "aws-0"), clock=clock, watch_rebalance=False)
    assert source.poll() == []

    view = served.preempt("aws-0", in_s=5, action="hibernate")

    [notice] = source.poll()
    assert notice.node == "aws-0" and notice.kind == "preemption"
    assert notice.deadline == view["deadline"] and notice.source == "aws-imds:hibernate"


def test_the_gcp_endpoint_answers_preempted_and_azure_lists_a_preempt_event(served: LocalCloud,
                                                                           clock: Clock) -> None:
    gcp = GcpSpotNotices("gcp-0", endpoint(served, "gcp-0"), clock=clock)
    azure = AzureScheduledEvents("azure-0", endpoint(served, "azure-0"), clock=clock)
    assert gcp.poll() == [] and azure.poll() == []

    served.preempt("gcp-0", in_s=30)
    azure_deadline = served.preempt("azure-0", in_s=45)["deadline"]

    [gcp_notice] = gcp.poll()
    assert gcp_notice.kind == "preemption" and gcp_notice.deadline == pytest.approx(clock.now + 30)
    [azure_notice] = azure.poll()
    assert azure_notice.kind == "preemption" and azure_notice.deadline == azure_deadline


def test_a_restored_node_comes_back_with_a_clean_endpoint(served: LocalCloud, clock: Clock,
                                                          cluster: Cluster) -> None:
    served.preempt("aws-0", in_s=5)
    clock.advance(5)
    served.tick()

    served.restore("aws-0")

    assert cluster.restored == ["aws-0"] and served.node("aws-0")["state"] == "up"
    fresh = AwsSpotNotices("aws-0", endpoint(served, "aws-0"), clock=clock, watch_rebalance=False)
    assert fresh.poll() == []


def test_every_cloud_node_publishes_its_endpoint_for_the_controller(served: LocalCloud) -> None:
    sources = served.notice_sources()

    assert sorted(sources) == ["aws-0", "azure-0", "gcp-0"]  # the on-prem node has none
    assert {entry["cloud"] for entry in sources.values()} == {"aws", "gcp", "azure"}
    assert all(entry["baseUrl"].startswith("http://127.0.0.1:") for entry in sources.values())
    assert served.metadata()["aws-0"] == {"cloud": "aws", "url": sources["aws-0"]["baseUrl"]}


# -- the control server ------------------------------------------------------------------------

def test_the_control_server_drives_the_cloud_and_maps_errors_to_statuses(served: LocalCloud,
                                                                         cluster: Cluster) -> None:
    url = served.control_url

    preempted = httpx.post(f"{url}/nodes/aws-0/preempt", json={"inSeconds": 90, "action": "stop"})
    assert preempted.status_code == 200 and preempted.json()["state"] == "preempting"
    assert "announces stop" in preempted.json()["message"]
    listing = httpx.get(f"{url}/nodes").json()
    assert [node["state"] for node in listing["nodes"]] == ["preempting", "up", "up", "up"]
    assert httpx.post(f"{url}/nodes/rack-0/remove").json()["state"] == "removed"
    assert httpx.post(f"{url}/nodes/rack-0/restore").json()["state"] == "up"
    assert cluster.removed == ["rack-0"] and cluster.restored == ["rack-0"]

    unknown = httpx.post(f"{url}/nodes/nope/preempt")
    assert unknown.status_code == 404 and unknown.json()["details"]["nodes"][0] == "aws-0"
    assert httpx.post(f"{url}/nodes/rack-0/preempt").status_code == 400
    assert httpx.post(f"{url}/nodes/aws-0/preempt").status_code == 409
    assert httpx.post(f"{url}/nodes/gcp-0/preempt", content=b"[1]").status_code == 400
    assert httpx.post(f"{url}/nodes/gcp-0/preempt", json={"inSeconds": "soon"}).status_code == 400
    assert httpx.get(f"{url}/nodes/gcp-0/preempt").status_code == 405
    assert httpx.get(f"{url}/elsewhere").status_code == 404


def test_once_started_every_node_call_runs_on_one_long_lived_thread_of_the_cloud(clock: Clock) -> None:
    # Ray starts a node's processes with PR_SET_PDEATHSIG: a node restored from a request's
    # short-lived thread would die when that thread ends.
    threads: list[threading.Thread] = []
    cloud = LocalCloud(NODES, remove_node=lambda _: threads.append(threading.current_thread()),
                       restore_node=lambda _: threads.append(threading.current_thread()), clock=clock)
    with cloud:
        for verb in ("remove", "restore", "remove"):
            assert httpx.post(f"{cloud.control_url}/nodes/rack-0/{verb}").status_code == 200
        cloud.preempt("aws-0", in_s=0)
        cloud.tick()

    assert len(threads) == 4 and len(set(threads)) == 1
    assert threads[0].name.startswith("local-cloud-hand") and not threads[0].is_alive()
