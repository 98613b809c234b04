"""The `suanli` CLI end to end against a real server process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, start_server

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "jobspecs" / "examples"


def test_apply_is_idempotent_and_pools_list_shows_prices(cli: Cli) -> None:
    first = cli("apply", "-f", str(EXAMPLES / "queues.yaml"), "-f", str(EXAMPLES / "pools.yaml"))
    assert first.code == 0, first.stderr
    assert "created" in first.stdout
    again = cli("apply", "-f", str(EXAMPLES / "pools.yaml"))
    assert again.code == 0
    assert "created" not in again.stdout and "unchanged" in again.stdout
    pools = json.loads(cli("pools", "list", "-o", "json").stdout)
    assert len(pools) >= 5
    assert all(p["status"]["pricePerDeviceHour"] > 0 for p in pools)


def test_submit_list_describe_cancel_round_trip(cli: Cli) -> None:
    cli("apply", "-f", str(EXAMPLES / "queues.yaml"))
    submitted = cli("submit", str(EXAMPLES / "tiny-cpu.yaml"), "-o", "json")
    assert submitted.code == 0, submitted.stderr
    job = json.loads(submitted.stdout)[0]
    name, team = job["metadata"]["name"], job["metadata"]["team"]
    listed = cli("jobs", "list")
    assert name in listed.stdout and "PENDING" in listed.stdout
    described = cli("jobs", "describe", name, "--team", team)
    assert described.code == 0
    assert "waiting for the scheduler" in described.stdout
    assert "job.submitted" in described.stdout
    cancelled = cli("jobs", "cancel", name, "--team", team, "--reason", "test")
    assert cancelled.code == 0 and "CANCELLED" in cancelled.stdout


def test_malformed_spec_exits_2_naming_file_line_and_field_without_traceback(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "job.yaml"
    bad.write_text((EXAMPLES / "tiny-cpu.yaml").read_text().replace("data: 4", "data: 3"))
    result = cli("submit", str(bad))
    assert result.code == 2
    assert f"{bad}:" in result.stderr
    assert "spec.parallelism" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_accepts_every_example_and_rejects_a_bad_file(cli: Cli, tmp_path: Path) -> None:
    ok = cli("validate", *sorted(str(p) for p in EXAMPLES.glob("*.yaml")))
    assert ok.code == 0, ok.stderr
    bad = tmp_path / "pool.yaml"
    bad.write_text("apiVersion: suanli.dev/v1alpha1\nkind: AcceleratorPool\nmetadata: {name: p}\n"
                   "spec:\n  provider: aws\n  region: us-east-1\n  accelerator: H100\n  devicesPerNode: 8\n"
                   "  nodes: 2\n  capacityType: spotty\n")
    result = cli("validate", str(bad))
    assert result.code == 2
    assert f"{bad}:10:" in result.stderr and "capacityType" in result.stderr


def test_server_refusal_is_exit_2_with_the_field_and_hint(cli: Cli) -> None:
    cli("submit", str(EXAMPLES / "tiny-cpu.yaml"))
    duplicate = cli("submit", str(EXAMPLES / "tiny-cpu.yaml"))
    assert duplicate.code == 2
    assert "metadata.name" in duplicate.stderr and "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr


def test_unreachable_server_is_a_readable_error_not_a_traceback(tmp_path: Path) -> None:
    from tests.e2e.conftest import free_port

    result = Cli(f"http://127.0.0.1:{free_port()}", tmp_path)("jobs", "list")
    assert result.code == 1
    assert "cannot reach the Suanli server" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_prints_json_schema_and_rejects_unknown_kinds(cli: Cli) -> None:
    result = cli("schema", "TrainingJob")
    assert result.code == 0
    assert "properties" in json.loads(result.stdout)
    assert cli("schema", "Nope").code == 2


def test_restarted_server_on_the_same_database_shows_the_same_jobs_and_events(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'state.db'}"
    first = start_server(database_url)
    try:
        cli = Cli(first.url, tmp_path)
        assert cli("submit", str(EXAMPLES / "tiny-cpu.yaml")).code == 0
        before_jobs = json.loads(cli("jobs", "list", "-o", "json").stdout)
        before_events = json.loads(cli("events", "-o", "json").stdout)
    finally:
        first.stop()
    second = start_server(database_url)
    try:
        cli = Cli(second.url, tmp_path)
        assert json.loads(cli("jobs", "list", "-o", "json").stdout) == before_jobs
        assert json.loads(cli("events", "-o", "json").stdout) == before_events
    finally:
        second.stop()


def test_server_with_an_unsupported_database_url_exits_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failure:
        start_server("mysql://nobody@127.0.0.1/x")
    assert "unsupported database backend" in str(failure.value)
    assert "Traceback" not in str(failure.value)
