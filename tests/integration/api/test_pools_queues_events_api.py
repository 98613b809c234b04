"""Specification of /v1/pools, /v1/queues, /v1/events, /healthz and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests import factories


def test_pool_apply_creates_configures_and_is_unchanged_on_repeat(api: TestClient) -> None:
    assert api.put("/v1/pools/aws-h100-spot", json=factories.pool()).json()["outcome"] == "created"
    assert api.put("/v1/pools/aws-h100-spot", json=factories.pool()).json()["outcome"] == "unchanged"
    bigger = factories.pool(nodes={"min": 0, "max": 16})
    assert api.put("/v1/pools/aws-h100-spot", json=bigger).json()["outcome"] == "configured"
    pools = api.get("/v1/pools").json()["items"]
    assert len(pools) == 1
    assert pools[0]["spec"]["nodes"]["max"] == 16
    types = [e["type"] for e in api.get("/v1/events", params={"entity": "pool"}).json()["items"]]
    assert types == ["pool.created", "pool.updated"]


def test_pool_status_shows_the_price_from_the_catalog_or_the_operator_override(api: TestClient) -> None:
    api.put("/v1/pools/aws-h100-spot", json=factories.pool())
    api.put("/v1/pools/onprem-910b", json=factories.on_prem_pool(price=1.1))
    spot = api.get("/v1/pools/aws-h100-spot").json()["status"]
    assert spot["pricePerDeviceHour"] > 0
    assert spot["priceSource"].startswith("catalog")
    onprem = api.get("/v1/pools/onprem-910b").json()["status"]
    assert onprem["pricePerDeviceHour"] == 1.1
    assert onprem["priceSource"] == "override"


def test_on_prem_pool_without_a_price_is_refused_with_the_field_to_set(api: TestClient) -> None:
    response = api.put("/v1/pools/onprem-910b", json=factories.on_prem_pool(price=None))
    assert response.status_code == 422
    assert "price" in str(response.json()["error"])
    assert api.get("/v1/pools").json()["items"] == []


def test_pool_with_an_unknown_accelerator_is_refused_naming_spec_accelerator(api: TestClient) -> None:
    response = api.put("/v1/pools/x", json=factories.pool(name="x", accelerator="H1000"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "spec.accelerator"


def test_missing_pool_is_404_and_delete_removes_it(api: TestClient) -> None:
    assert api.get("/v1/pools/nope").status_code == 404
    api.put("/v1/pools/aws-h100-spot", json=factories.pool())
    assert api.delete("/v1/pools/aws-h100-spot").status_code == 204
    assert api.get("/v1/pools/aws-h100-spot").status_code == 404


def test_queue_apply_and_list_by_team(api: TestClient) -> None:
    assert api.put("/v1/queues/ml/research", json=factories.queue()).status_code == 201
    api.put("/v1/queues/vision/research", json=factories.queue(team="vision"))
    assert len(api.get("/v1/queues").json()["items"]) == 2
    ml = api.get("/v1/queues", params={"team": "ml"}).json()["items"]
    assert [q["metadata"]["team"] for q in ml] == ["ml"]
    assert api.get("/v1/queues/ml/research").json()["spec"]["weight"] == 2.0


def test_events_page_by_sequence_number(api: TestClient) -> None:
    for i in range(5):
        api.post("/v1/jobs", json=factories.training_job(name=f"j{i}"))
    first = api.get("/v1/events", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["nextCursor"]
    rest = api.get("/v1/events", params={"after": first["nextCursor"]}).json()["items"]
    assert [e["seq"] for e in first["items"] + rest] == sorted(e["seq"] for e in first["items"] + rest)
    assert len(first["items"]) + len(rest) == 5


def test_health_reports_the_database(api: TestClient) -> None:
    body = api.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"


def test_openapi_lists_every_collection(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/v1/jobs", "/v1/inference-services", "/v1/pools", "/v1/queues", "/v1/events", "/healthz"):
        assert path in paths


def test_unknown_route_is_a_json_404(api: TestClient) -> None:
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
