"""The control plane records every checkpoint commit; the API, the client and the CLI show them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from controlplane.api.app import create_app
from controlplane.api.routers import checkpoints as checkpoint_routes
from controlplane.cli import checkpoints as checkpoint_cli
from controlplane.cli.context import CliContext
from controlplane.cli.output import OutputFormat
from controlplane.client import SuanliClient
from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.services import Services
from controlplane.services.checkpoints import CheckpointService, split_commit_uri
from controlplane.services.validation import CatalogValidator
from controlplane.settings import Settings
from controlplane.store.engine import create_engine_for
from controlplane.store.migrate import downgrade, upgrade
from controlplane.store.models.checkpoint import CheckpointRow
from jobspecs.examples import __file__ as examples_init

TINY = Path(examples_init).with_name("tiny-cpu.yaml")
NAME = "step-0000000040-1a2b3c4d"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = Services.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
                                   validator=CatalogValidator.default())
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def job_id(services: Services) -> str:
    import yaml

    document = yaml.safe_load(TINY.read_text())
    view, _ = services.jobs.submit(document, kind="TrainingJob")
    assert view.metadata.uid is not None
    return view.metadata.uid


def _record_two_checkpoints(service: CheckpointService, job_id: str) -> None:
    moment = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    service.record(job_id=job_id, step=20, uri="memory://job/step-0000000020-1a2b3c4d", bytes=4096,
                   snapshot_s=0.004, persist_s=0.002, committed_at=moment)
    for tier_uri in ("memory://job/" + NAME, "file:///tmp/suanli-ckpt/tiny/" + NAME):
        service.record(job_id=job_id, step=40, uri=tier_uri, bytes=4096, snapshot_s=0.005, persist_s=0.05,
                       committed_at=moment)


def test_the_checkpoints_table_is_migrated_and_matches_its_model(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    try:
        inspector = inspect(engine)
        columns = {column["name"] for column in inspector.get_columns("checkpoints")}
        assert columns == set(CheckpointRow.__table__.columns.keys())
        assert {index["name"] for index in inspector.get_indexes("checkpoints")} == {
            "ix_checkpoints_attempt_id", "ix_checkpoints_job_id_step"}
        assert [c["name"] for c in inspector.get_unique_constraints("checkpoints")] == [
            "uq_checkpoints_job_id_checkpoint"]
        downgrade(url, "0003")
        assert "checkpoints" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_commits_of_one_checkpoint_on_several_tiers_make_one_record(services: Services, job_id: str) -> None:
    service = CheckpointService(services.context)
    _record_two_checkpoints(service, job_id)
    service.record(job_id=job_id, step=40, uri="memory://job/" + NAME, bytes=4096)  # seen again: no-op

    views = service.list(job=job_id)

    assert [view.step for view in views] == [40, 20]
    assert [tier.tier for tier in views[0].tiers] == ["memory://", "file:///tmp/suanli-ckpt/tiny"]
    assert views[0].durable and not views[1].durable
    assert views[0].snapshot_s == 0.005 and views[0].tiers[1].persist_s == 0.05
    events = services.events.list(job_id=job_id, type_prefix="job.checkpoint").items
    assert len(events) == 3 and "step 40 committed on file:///tmp/suanli-ckpt/tiny" in events[-1].message


def test_a_checkpoint_is_described_by_step_or_id_and_a_missing_one_is_not_found(services: Services,
                                                                                job_id: str) -> None:
    service = CheckpointService(services.context)
    _record_two_checkpoints(service, job_id)

    assert service.describe(job="tiny-cpu", checkpoint="40").checkpoint == NAME
    assert service.describe(job=job_id, checkpoint=NAME).step == 40
    with pytest.raises(NotFoundError, match="no checkpoint '30'"):
        service.describe(job=job_id, checkpoint="30")
    with pytest.raises(NotFoundError):
        service.list(job="no-such-job")


def test_a_commit_uri_names_its_tier_and_checkpoint() -> None:
    assert split_commit_uri("memory://job-1/" + NAME) == ("memory://", NAME)
    assert split_commit_uri("peer://job-1/" + NAME) == ("peer://", NAME)
    assert split_commit_uri("s3://bucket/prefix/" + NAME) == ("s3://bucket/prefix", NAME)
    with pytest.raises(InvalidInputError):
        split_commit_uri("s3://bucket/prefix/latest")


@pytest.fixture
def app(services: Services) -> TestClient:
    built = create_app(services.context.settings, services=services)
    built.include_router(checkpoint_routes.router)
    return TestClient(built, raise_server_exceptions=False)


def test_the_api_lists_and_describes_a_jobs_checkpoints(app: TestClient, services: Services, job_id: str) -> None:
    _record_two_checkpoints(CheckpointService(services.context), job_id)

    listed = app.get("/v1/jobs/tiny-cpu/checkpoints", params={"team": "default"})
    described = app.get(f"/v1/jobs/{job_id}/checkpoints/40")
    missing = app.get(f"/v1/jobs/{job_id}/checkpoints/41")

    assert listed.status_code == 200 and [item["step"] for item in listed.json()] == [40, 20]
    assert listed.json()[0]["tiers"][0]["tier"] == "memory://" and "snapshotS" in listed.json()[0]
    assert described.status_code == 200 and described.json()["checkpoint"] == NAME
    assert missing.status_code == 404


def test_the_client_reads_checkpoints_over_http(app: TestClient, services: Services, job_id: str) -> None:
    _record_two_checkpoints(CheckpointService(services.context), job_id)
    client = SuanliClient("http://testserver", transport=app._transport)

    views = client.list_checkpoints("tiny-cpu", limit=1)
    one = client.get_checkpoint(job_id, NAME)

    assert [view.step for view in views] == [40]
    assert one.step == 40 and one.tiers[1].uri.endswith(NAME)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_url(services: Services) -> Iterator[str]:
    built = create_app(services.context.settings, services=services)
    built.include_router(checkpoint_routes.router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(built, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_cli_lists_and_describes_checkpoints(server_url: str, services: Services, job_id: str) -> None:
    _record_two_checkpoints(CheckpointService(services.context), job_id)
    runner = CliRunner(env={"COLUMNS": "200"})
    context = CliContext(server=server_url, output=OutputFormat.table)

    listed = runner.invoke(checkpoint_cli.app, ["list", "tiny-cpu"], obj=context)
    described = runner.invoke(checkpoint_cli.app, ["describe", "tiny-cpu", "40"], obj=context)
    as_json = runner.invoke(checkpoint_cli.app, ["list", "tiny-cpu", "-o", "json"], obj=context)
    missing = runner.invoke(checkpoint_cli.app, ["describe", "tiny-cpu", "99"], obj=context)

    assert listed.exit_code == 0, listed.output
    assert "step-0000000040-1a2b3c4d" in listed.output and "4.0 KiB" in listed.output
    assert described.exit_code == 0 and "file:///tmp/suanli-ckpt/tiny/" + NAME in described.output
    assert "durable:   yes" in described.output
    assert as_json.exit_code == 0 and '"step": 40' in as_json.output
    assert missing.exit_code == 2 and "no checkpoint '99'" in missing.output
