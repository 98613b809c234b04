"""``suanli local``: durations read as people write them; without a stack, a local cloud or a
known node the commands exit 2 and say why; with one they drive the stack's local cloud (here a
real ``LocalCloud`` control server with recording node callables, found through ``up.json``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controlplane.cli import local as local_cli
from controlplane.cli.local import app, format_duration, parse_duration
from controlplane.domain.errors import InvalidInputError
from controlplane.local.cloud import CloudNode, LocalCloud
from controlplane.local.state import StackState, state_file, write_state

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("30s", 30.0), ("2m", 120.0), ("1m30s", 90.0),
                                               ("1h", 3600.0), ("0.5", 0.5), (" 2M ", 120.0)])
def test_durations_are_seconds_or_hours_minutes_and_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "2 minutes", "m", "-5", "1s2m"])
def test_an_unreadable_duration_names_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_duration(text)
    assert error.value.field == "--in" and error.value.hint is not None and "2m, 30s" in error.value.hint


def test_durations_print_compactly() -> None:
    assert [format_duration(s) for s in (0, 30, 100, 3600, 3725.4)] == ["0s", "30s", "1m40s", "1h", "1h2m5s"]


def stack_state(tmp_path: Path, **fields: object) -> StackState:
    values: dict[str, object] = dict(
        pid=os.getpid(), url="http://127.0.0.1:1", ray_address="127.0.0.1:6379", ray_namespace="suanli",
        owns_cluster=True, database_url="sqlite://", controller_pid=None, controller_holder=None,
        controller_restarts=0, stack_log=str(tmp_path / "stack.log"), controller_log=str(tmp_path / "c.log"),
        rank_log_dir=str(tmp_path), started_at="2024-01-01T00:00:00+00:00")
    values.update(fields)
    return StackState(**values)  # type: ignore[arg-type]


@pytest.fixture
def stack_is_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pid in up.json (this test process) counts as a running stack."""
    monkeypatch.setattr(local_cli, "process_alive", lambda pid, command_contains=None: True)


@pytest.fixture
def removed() -> list[str]:
    return []


@pytest.fixture
def running_cloud(tmp_path: Path, stack_is_running: None, removed: list[str]) -> Iterator[LocalCloud]:
    cloud = LocalCloud([CloudNode("aws-h100-0", "aws"), CloudNode("gcp-a100-0", "gcp"),
                        CloudNode("ascend-0", "on-prem")], remove_node=removed.append, restore_node=lambda _: None)
    with cloud:
        write_state(state_file(tmp_path), stack_state(
            tmp_path, cloud_url=cloud.control_url, metadata=cloud.metadata(),
            object_store={"endpoint": "http://127.0.0.1:8333", "bucket": "suanli-checkpoints",
                          "url": "s3://suanli-checkpoints", "dataDir": str(tmp_path / "object-store"),
                          "storageOptions": {}}))
        yield cloud


def invoke(tmp_path: Path, *arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, [*arguments, "--state-dir", str(tmp_path)], env=WIDE)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [["preempt", "aws-h100-0"], ["remove-node", "aws-h100-0"],
                                     ["restore-node", "aws-h100-0"], ["status"]])
def test_without_a_running_stack_every_command_exits_2_and_says_how_to_start_one(tmp_path: Path,
                                                                                 command: list[str]) -> None:
    code, output = invoke(tmp_path, *command)

    assert code == 2 and "Suanli is not up" in output and "suanli up" in output


def test_a_state_file_left_by_a_dead_stack_counts_as_no_stack(tmp_path: Path) -> None:
    write_state(state_file(tmp_path), stack_state(tmp_path, pid=2**22 + 12345, cloud_url="http://127.0.0.1:9"))

    code, output = invoke(tmp_path, "preempt", "aws-h100-0")

    assert code == 2 and "Suanli is not up" in output


def test_a_stack_attached_to_an_existing_cluster_has_no_local_cloud_to_drive(tmp_path: Path,
                                                                            stack_is_running: None) -> None:
    write_state(state_file(tmp_path), stack_state(tmp_path, owns_cluster=False))

    code, output = invoke(tmp_path, "remove-node", "aws-h100-0")

    assert code == 2 and "has no local cloud" in output and "--ray-address" in output
    assert invoke(tmp_path, "status")[0] == 0


def test_an_unknown_node_exits_2_naming_the_known_ones(tmp_path: Path, running_cloud: LocalCloud) -> None:
    code, output = invoke(tmp_path, "preempt", "aws-h100-9")

    assert code == 2 and "no node named 'aws-h100-9'" in output
    assert "aws-h100-0, gcp-a100-0, ascend-0" in output


def test_preempting_an_on_prem_node_exits_2_and_says_it_has_no_metadata_endpoint(
        tmp_path: Path, running_cloud: LocalCloud) -> None:
    code, output = invoke(tmp_path, "preempt", "ascend-0")

    assert code == 2 and "ascend-0's provider is on-prem" in output and "no cloud metadata endpoint" in output
    assert "remove-node ascend-0" in output


def test_a_bad_duration_exits_2_before_anything_is_sent(tmp_path: Path, running_cloud: LocalCloud) -> None:
    code, output = invoke(tmp_path, "preempt", "aws-h100-0", "--in", "soon")

    assert code == 2 and "--in" in output
    assert running_cloud.node("aws-h100-0")["state"] == "up"


def test_preempt_says_what_the_endpoint_announces_and_when_the_node_goes(tmp_path: Path,
                                                                         running_cloud: LocalCloud) -> None:
    before = time.time()
    code, output = invoke(tmp_path, "preempt", "aws-h100-0", "--in", "2m", "--action", "stop")

    assert code == 0, output
    assert output.startswith("aws-h100-0: the AWS metadata endpoint now announces stop at ")
    assert output.rstrip().endswith(("the node is reclaimed then (in 2m)",  # the clouds state whole seconds
                                     "the node is reclaimed then (in 1m59s)"))
    node = running_cloud.node("aws-h100-0")
    assert node["state"] == "preempting" and node["action"] == "stop"
    assert before + 119 <= node["deadline"] <= time.time() + 120


def test_remove_and_restore_drive_the_cloud_and_status_shows_each_state(tmp_path: Path, running_cloud: LocalCloud,
                                                                        removed: list[str]) -> None:
    assert invoke(tmp_path, "preempt", "gcp-a100-0", "--in", "90")[0] == 0
    code, output = invoke(tmp_path, "remove-node", "ascend-0")
    assert code == 0 and "ascend-0: removed without notice" in output and removed == ["ascend-0"]

    code, output = invoke(tmp_path, "status")

    assert code == 0, output
    rows = {line.split()[1]: line for line in output.splitlines() if "-0 " in line}
    assert "up" in rows["aws-h100-0"] and running_cloud.metadata()["aws-h100-0"]["url"] in rows["aws-h100-0"]
    assert "preempting: terminate at" in rows["gcp-a100-0"]
    assert "removed (lost without notice)" in rows["ascend-0"] and "on-prem" in rows["ascend-0"]
    assert "object store: http://127.0.0.1:8333 (bucket s3://suanli-checkpoints" in output

    assert invoke(tmp_path, "restore-node", "ascend-0")[0] == 0
    assert running_cloud.node("ascend-0")["state"] == "up"
    code, output = invoke(tmp_path, "restore-node", "ascend-0")
    assert code == 2 and "it is up" in output


def test_status_as_json_lists_the_nodes_and_the_object_store(tmp_path: Path, running_cloud: LocalCloud) -> None:
    result = runner.invoke(app, ["status", "-o", "json", "--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["objectStore"]["bucket"] == "suanli-checkpoints"
    assert [node["name"] for node in document["nodes"]] == ["aws-h100-0", "gcp-a100-0", "ascend-0"]
    assert document["nodes"][0]["cloud"] == "aws" and document["nodes"][2]["metadataUrl"] is None
