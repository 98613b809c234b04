"""Specification of /v1/jobs/{ref}/logs and of the cost shown in a job's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from controlplane.domain.logfiles import rank_log_path
from controlplane.domain.statuses import AttemptStatus
from controlplane.settings import Settings
from controlplane.store.engine import session_scope
from controlplane.store.repositories import AttemptRepository
from controlplane.store.transitions import switch_attempt_status
from tests import factories

PLACEMENT = {"pool": "aws-h100-spot", "pricePerDeviceHour": 2.0, "layout": "tp=1,pp=1,dp=2",
             "parallelism": {"dp": 2},
             "ranks": [{"rank": 0, "node": "n0", "device": "n0/dev0", "coordinates": {"dp": 0}},
                       {"rank": 1, "node": "n1", "device": "n1/dev0", "coordinates": {"dp": 1}}]}


def start_attempt(api: TestClient, uid: str, *, hours: float = 1.5, ended: bool = True) -> str:
    factory = api.app.state.services.context.session_factory  # type: ignore[attr-defined]
    started = datetime.now(UTC) - timedelta(hours=hours)
    with session_scope(factory) as session:
        attempt = AttemptRepository(session).add(uid, placement=PLACEMENT, accelerator="H100-SXM")
        switch_attempt_status(session, attempt.id, AttemptStatus.LAUNCHING, message="launch", now=started)
        switch_attempt_status(session, attempt.id, AttemptStatus.RUNNING, message="running", now=started)
        if ended:
            switch_attempt_status(session, attempt.id, AttemptStatus.SUCCEEDED, message="done",
                                  now=started + timedelta(hours=hours))
        AttemptRepository(session).record_progress(attempt.id, {"step": 7, "loss": 1.5})
    return attempt.id


def test_cost_is_devices_times_hours_times_the_admitted_price(api: TestClient) -> None:
    uid = api.post("/v1/jobs", json=factories.training_job()).json()["metadata"]["uid"]
    start_attempt(api, uid, hours=1.5)
    status = api.get(f"/v1/jobs/{uid}").json()["status"]
    assert status["cost"]["deviceHours"] == 3.0
    assert status["cost"]["dollars"] == 6.0
    assert status["attempts"][0]["progress"] == {"step": 7, "loss": 1.5}


def test_logs_are_served_from_an_offset_and_followable(api: TestClient, settings: Settings) -> None:
    uid = api.post("/v1/jobs", json=factories.training_job()).json()["metadata"]["uid"]
    attempt_id = start_attempt(api, uid, ended=False)
    path = rank_log_path(settings.log_dir, attempt_id, 1)
    path.parent.mkdir(parents=True)
    path.write_text("step 1 loss 3.0\nstep 2 loss 2.5\npartial")
    first = api.get(f"/v1/jobs/{uid}/logs", params={"rank": 1}).json()
    assert first["lines"] == ["step 1 loss 3.0", "step 2 loss 2.5"]
    assert first["finished"] is False and first["attempt"] == 1
    with path.open("a") as handle:
        handle.write(" line\n")
    more = api.get(f"/v1/jobs/{uid}/logs", params={"rank": 1, "offset": first["nextOffset"]}).json()
    assert more["lines"] == ["partial line"]
    assert api.get(f"/v1/jobs/{uid}/logs", params={"rank": 1, "tail": 1}).json()["lines"] == ["partial line"]


def test_logs_of_a_job_without_attempts_or_a_rank_out_of_range_are_404_with_the_reason(api: TestClient) -> None:
    uid = api.post("/v1/jobs", json=factories.training_job()).json()["metadata"]["uid"]
    response = api.get(f"/v1/jobs/{uid}/logs")
    assert response.status_code == 404 and "not started an attempt" in response.json()["error"]["message"]
    start_attempt(api, uid)
    response = api.get(f"/v1/jobs/{uid}/logs", params={"rank": 5})
    assert response.status_code == 404 and response.json()["error"]["field"] == "rank"
