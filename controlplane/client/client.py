"""``SuanliClient``: a typed httpx client over the ``/v1`` REST API.

Every method returns wire models (``controlplane.wire``). A 4xx/5xx answer raises
:class:`ApiError` carrying the server's error body (code, message, field, hint, issues); a server
that cannot be reached raises :class:`ServerUnreachableError` with a hint on how to start one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from controlplane.wire import (
    ApplyResult,
    ErrorDetail,
    EventView,
    HealthView,
    JobView,
    LogChunk,
    Page,
    PoolView,
    QueueView,
)
from controlplane.wire.checkpoints import CheckpointView

DEFAULT_SERVER = "http://127.0.0.1:8080"

JOB_COLLECTIONS = {"TrainingJob": "jobs", "InferenceService": "inference-services"}


class ApiError(Exception):
    """The server refused a request; ``detail`` is its error body."""

    def __init__(self, status_code: int, detail: ErrorDetail) -> None:
        super().__init__(detail.message)
        self.status_code = status_code
        self.detail = detail

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status_code < 500


class ServerUnreachableError(Exception):
    """No control plane answered at the configured address."""

    def __init__(self, base_url: str, cause: Exception) -> None:
        super().__init__(
            f"cannot reach the Suanli server at {base_url} ({type(cause).__name__}: {cause}); "
            "start one with `suanli server start` or point --server / SUANLI_SERVER at a running one"
        )
        self.base_url = base_url


class SuanliClient:
    """Synchronous client. ``transport`` lets tests talk to an ASGI app in-process."""

    def __init__(self, base_url: str = DEFAULT_SERVER, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SuanliClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> httpx.Response:
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=clean_params, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(self.base_url, exc) from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_detail(response))
        return response

    # -- health -----------------------------------------------------------------------------
    def health(self) -> HealthView:
        return HealthView.model_validate(self._request("GET", "/healthz").json())

    # -- jobs and inference services ----------------------------------------------------------
    def submit(self, resource: dict[str, Any], *, idempotency_key: str | None = None) -> JobView:
        """Submit a TrainingJob or InferenceService document (a dict as loaded from YAML)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        collection = _collection_of(resource)
        response = self._request("POST", f"/v1/{collection}", json=resource, headers=headers)
        return JobView.model_validate(response.json())

    def list_jobs(self, *, kind: str = "TrainingJob", team: str | None = None, status: str | None = None,
                  queue: str | None = None, cursor: str | None = None, limit: int | None = None) -> Page[JobView]:
        params = {"team": team, "status": status, "queue": queue, "cursor": cursor, "limit": limit}
        response = self._request("GET", f"/v1/{JOB_COLLECTIONS[kind]}", params=params)
        return Page[JobView].model_validate(response.json())

    def iter_jobs(self, **filters: Any) -> Iterator[JobView]:
        """Every job matching ``filters``, following cursors page by page."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(cursor=cursor, **filters)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_job(self, ref: str, *, team: str | None = None, kind: str = "TrainingJob") -> JobView:
        response = self._request("GET", f"/v1/{JOB_COLLECTIONS[kind]}/{ref}", params={"team": team})
        return JobView.model_validate(response.json())

    def cancel_job(self, ref: str, *, team: str | None = None, kind: str = "TrainingJob",
                   reason: str | None = None) -> JobView:
        response = self._request("POST", f"/v1/{JOB_COLLECTIONS[kind]}/{ref}:cancel",
                                 params={"team": team}, json={"reason": reason} if reason else {})
        return JobView.model_validate(response.json())

    def job_logs(self, ref: str, *, team: str | None = None, kind: str = "TrainingJob", rank: int = 0,
                 attempt: int | None = None, offset: int = 0, tail: int | None = None) -> LogChunk:
        params = {"team": team, "rank": rank, "attempt": attempt, "offset": offset, "tail": tail}
        response = self._request("GET", f"/v1/{JOB_COLLECTIONS[kind]}/{ref}/logs", params=params)
        return LogChunk.model_validate(response.json())

    def list_checkpoints(self, job: str, *, team: str | None = None, limit: int | None = None
                         ) -> list[CheckpointView]:
        """The job's committed checkpoints, newest step first."""
        response = self._request("GET", f"/v1/jobs/{quote(job, safe='')}/checkpoints",
                                 params={"team": team, "limit": limit})
        return [CheckpointView.model_validate(item) for item in response.json()]

    def get_checkpoint(self, job: str, checkpoint: str | int, *, team: str | None = None) -> CheckpointView:
        """One checkpoint of the job, by step or by checkpoint id."""
        path = f"/v1/jobs/{quote(job, safe='')}/checkpoints/{quote(str(checkpoint), safe='')}"
        return CheckpointView.model_validate(self._request("GET", path, params={"team": team}).json())

    # -- apply (idempotent create-or-update of any kind) ----------------------------------------
    def apply(self, resource: dict[str, Any]) -> ApplyResult:
        kind = resource.get("kind")
        metadata = resource.get("metadata") or {}
        name = metadata.get("name", "")
        team = metadata.get("team") or metadata.get("namespace") or "default"
        if kind == "AcceleratorPool":
            path = f"/v1/pools/{name}"
        elif kind == "Queue":
            path = f"/v1/queues/{team}/{name}"
        else:
            path = f"/v1/{_collection_of(resource)}/{team}/{name}"
        return ApplyResult.model_validate(self._request("PUT", path, json=resource).json())

    # -- pools, queues, events --------------------------------------------------------------------
    def list_pools(self) -> list[PoolView]:
        return [PoolView.model_validate(p) for p in self._request("GET", "/v1/pools").json()["items"]]

    def get_pool(self, name: str) -> PoolView:
        return PoolView.model_validate(self._request("GET", f"/v1/pools/{name}").json())

    def delete_pool(self, name: str) -> None:
        self._request("DELETE", f"/v1/pools/{name}")

    def list_queues(self, *, team: str | None = None) -> list[QueueView]:
        items = self._request("GET", "/v1/queues", params={"team": team}).json()["items"]
        return [QueueView.model_validate(q) for q in items]

    def list_events(self, *, job: str | None = None, entity: str | None = None, type_prefix: str | None = None,
                    after: int | None = None, limit: int | None = None) -> Page[EventView]:
        params = {"job": job, "entity": entity, "type": type_prefix, "after": after, "limit": limit}
        return Page[EventView].model_validate(self._request("GET", "/v1/events", params=params).json())


def _collection_of(resource: dict[str, Any]) -> str:
    kind = resource.get("kind")
    if kind not in JOB_COLLECTIONS:
        # Let the server produce the canonical error for unknown kinds.
        return "jobs"
    return JOB_COLLECTIONS[str(kind)]


def _error_detail(response: httpx.Response) -> ErrorDetail:
    try:
        body = response.json()
        return ErrorDetail.model_validate(body["error"])
    except (ValueError, KeyError, TypeError):
        return ErrorDetail(code=f"http_{response.status_code}", message=response.text[:500] or response.reason_phrase)
