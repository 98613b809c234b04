"""Specification of /v1/jobs and /v1/inference-services."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests import factories


def submit(api: TestClient, doc: dict, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/v1/jobs", json=doc, headers=headers)


def test_submitted_job_is_pending_with_a_uid_and_a_submitted_event(api: TestClient) -> None:
    response = submit(api, factories.training_job())
    assert response.status_code == 201
    job = response.json()
    assert job["apiVersion"] == "suanli.dev/v1alpha1"
    assert job["kind"] == "TrainingJob"
    assert job["status"]["phase"] == "PENDING"
    assert job["metadata"]["uid"]
    events = api.get("/v1/events", params={"job": job["metadata"]["uid"]}).json()["items"]
    assert [e["type"] for e in events] == ["job.submitted"]


def test_same_idempotency_key_and_body_returns_the_first_job_instead_of_a_second(api: TestClient) -> None:
    first = submit(api, factories.training_job(), key="k-1")
    again = submit(api, factories.training_job(), key="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["metadata"]["uid"] == again.json()["metadata"]["uid"]
    assert len(api.get("/v1/jobs").json()["items"]) == 1


def test_reusing_an_idempotency_key_with_a_different_body_is_a_conflict(api: TestClient) -> None:
    submit(api, factories.training_job(), key="k-1")
    response = submit(api, factories.training_job(totalSteps=99), key="k-1")
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "Idempotency-Key"


def test_a_second_job_with_the_same_name_in_a_team_is_a_conflict_naming_the_field(api: TestClient) -> None:
    submit(api, factories.training_job())
    response = submit(api, factories.training_job())
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["field"] == "metadata.name"
    assert "already exists" in error["message"]
    assert submit(api, factories.training_job(team="other")).status_code == 201


def test_invalid_spec_is_422_with_one_issue_per_problem_and_nothing_is_stored(api: TestClient) -> None:
    doc = factories.training_job(totalSteps=0)
    doc["spec"]["bogusField"] = 1
    response = submit(api, doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_spec"
    paths = {issue["path"] for issue in error["issues"]}
    assert any("bogusField" in (p or "") for p in paths)
    assert "spec.totalSteps" in paths
    assert api.get("/v1/jobs").json()["items"] == []
    assert api.get("/v1/events").json()["items"] == []


def test_layout_that_does_not_multiply_to_the_device_count_is_explained(api: TestClient) -> None:
    response = submit(api, factories.training_job(parallelism={"data": 3}))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"].startswith("spec.parallelism")
    assert "count is 2" in error["message"]


def test_body_that_is_not_json_is_400_not_500(api: TestClient) -> None:
    response = api.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_unknown_accelerator_type_is_422_naming_the_list_element_and_near_matches(api: TestClient) -> None:
    doc = factories.training_job(resources={"accelerators": {"count": 2, "types": ["H100", "H1OO-SXM"]}})
    response = submit(api, doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "spec.resources.accelerators.types[1]"
    assert "H100" in error["message"]


def test_unknown_queue_is_refused_and_lists_the_teams_queues(api: TestClient) -> None:
    api.put("/v1/queues/ml/research", json=factories.queue())
    response = submit(api, factories.training_job(scheduling={"queue": "nope"}))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "spec.scheduling.queue"
    assert "research" in error["hint"]
    assert submit(api, factories.training_job(scheduling={"queue": "research"})).status_code == 201


def test_posting_another_kind_to_jobs_names_the_right_endpoint(api: TestClient) -> None:
    response = submit(api, factories.inference_service())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "kind"
    assert "/v1/inference-services" in response.json()["error"]["hint"]


def test_inference_services_live_in_their_own_collection(api: TestClient) -> None:
    response = api.post("/v1/inference-services", json=factories.inference_service())
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "InferenceService"
    assert len(api.get("/v1/inference-services").json()["items"]) == 1
    assert api.get("/v1/jobs").json()["items"] == []


def test_get_by_uid_or_by_name_within_a_team(api: TestClient) -> None:
    uid = submit(api, factories.training_job()).json()["metadata"]["uid"]
    assert api.get(f"/v1/jobs/{uid}").json()["metadata"]["name"] == "tiny"
    assert api.get("/v1/jobs/tiny", params={"team": "ml"}).json()["metadata"]["uid"] == uid
    missing = api.get("/v1/jobs/tiny", params={"team": "other"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_list_filters_by_team_and_status_and_pages_with_a_cursor(api: TestClient) -> None:
    for i in range(7):
        submit(api, factories.training_job(name=f"job-{i}", team="a" if i % 2 else "b"))
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/jobs", params=params).json()
        seen += [j["metadata"]["name"] for j in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [f"job-{i}" for i in range(7)]
    assert {j["metadata"]["team"] for j in api.get("/v1/jobs", params={"team": "a"}).json()["items"]} == {"a"}
    assert len(api.get("/v1/jobs", params={"status": "PENDING"}).json()["items"]) == 7
    assert api.get("/v1/jobs", params={"status": "RUNNING"}).json()["items"] == []


def test_bad_status_filter_or_cursor_is_a_clear_4xx(api: TestClient) -> None:
    response = api.get("/v1/jobs", params={"status": "SLEEPING"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "status"
    response = api.get("/v1/jobs", params={"cursor": "!!garbage!!"})
    assert response.status_code in (400, 422)
    assert response.json()["error"]["field"] == "cursor"


def test_cancelling_a_pending_job_ends_it_and_repeating_is_harmless(api: TestClient) -> None:
    uid = submit(api, factories.training_job()).json()["metadata"]["uid"]
    response = api.post(f"/v1/jobs/{uid}:cancel", json={"reason": "not needed"})
    assert response.status_code == 200
    assert response.json()["status"]["phase"] == "CANCELLED"
    assert api.post(f"/v1/jobs/{uid}:cancel").json()["status"]["phase"] == "CANCELLED"
    types = [e["type"] for e in api.get("/v1/events", params={"job": uid}).json()["items"]]
    assert types == ["job.submitted", "job.status_changed"]


def test_apply_creates_then_leaves_identical_unchanged_and_refuses_a_changed_spec(api: TestClient) -> None:
    doc = factories.training_job()
    assert api.put("/v1/jobs/ml/tiny", json=doc).json()["outcome"] == "created"
    again = api.put("/v1/jobs/ml/tiny", json=doc)
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    changed = api.put("/v1/jobs/ml/tiny", json=factories.training_job(totalSteps=7))
    assert changed.status_code == 409
    assert "immutable" in changed.json()["error"]["message"]


def test_apply_with_a_url_that_disagrees_with_the_document_names_metadata_name(api: TestClient) -> None:
    response = api.put("/v1/jobs/ml/other-name", json=factories.training_job())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "metadata.name"
