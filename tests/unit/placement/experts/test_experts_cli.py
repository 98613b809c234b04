"""``suanli experts place``: the JSON plan's shape, table output, incremental mode, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from controlplane.cli.experts import app as experts_app

root = typer.Typer()
root.add_typer(experts_app, name="experts")
runner = CliRunner()

PREFILL_ARGS = ["--nodes", "4", "--devices-per-node", "8", "--slots-per-device", "9", "--groups", "8"]
METRIC_KEYS = {"device_max_over_mean", "node_max_over_mean", "mean_group_span", "max_group_span", "replicas_max",
               "experts_moved"}


def place(*args: str) -> dict:
    result = runner.invoke(root, ["experts", "place", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_json_plan_lists_each_layers_devices_with_their_metrics(loads_path: Path) -> None:
    plan = place("--loads", str(loads_path), *PREFILL_ARGS, "-o", "json")
    assert len(plan["layers"]) == 4
    layer = plan["layers"][0]
    assert set(layer) >= METRIC_KEYS
    assert len(layer["devices"]) == 32 and all(len(device) == 9 for device in layer["devices"])
    assert {e for device in layer["devices"] for e in device} == set(range(256))
    assert plan["shape"] == {"nodes": 4, "devices_per_node": 8, "slots_per_device": 9, "groups": 8}
    assert plan["summary"]["algorithm"] == "suanli" and plan["summary"]["seconds"] >= 0


def test_a_previous_plan_can_be_the_current_placement_with_a_move_budget(loads_path: Path, tmp_path: Path) -> None:
    previous = tmp_path / "plan.json"
    previous.write_text(json.dumps(place("--loads", str(loads_path), *PREFILL_ARGS, "-o", "json")))
    plan = place("--loads", str(loads_path), *PREFILL_ARGS, "--current", str(previous), "--max-moves", "3",
                 "-o", "json")
    assert all(layer["experts_moved"] <= 3 for layer in plan["layers"])


def test_the_table_shows_one_row_per_layer(loads_path: Path) -> None:
    result = runner.invoke(root, ["experts", "place", "--loads", str(loads_path), *PREFILL_ARGS],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "device max/mean" in result.stdout and "group span" in result.stdout


def bad(*args: str) -> str:
    result = runner.invoke(root, ["experts", "place", *args])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    return message


def test_too_few_slots_exit_2_with_one_line(loads_path: Path) -> None:
    message = bad("--loads", str(loads_path), "--nodes", "4", "--devices-per-node", "8", "--slots-per-device", "1",
                  "--groups", "8")
    assert "slots_per_device" in message and "256 experts" in message


def test_malformed_json_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "loads.json"
    path.write_text("{not json")
    assert "not valid JSON" in bad("--loads", str(path), *PREFILL_ARGS)


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    assert "cannot read" in bad("--loads", str(tmp_path / "absent.json"), *PREFILL_ARGS)


def test_wrong_shapes_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "loads.json"
    path.write_text(json.dumps({"loads": [[1.0] * 256, [1.0] * 255]}))
    assert "loads" in bad("--loads", str(path), *PREFILL_ARGS)
    path.write_text(json.dumps({"loads": [[1.0] * 250]}))
    assert "groups" in bad("--loads", str(path), *PREFILL_ARGS)


def test_max_moves_without_current_exits_2(loads_path: Path) -> None:
    assert "max_moves" in bad("--loads", str(loads_path), *PREFILL_ARGS, "--max-moves", "3")


def test_a_current_plan_of_another_shape_exits_2(loads_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"layers": [{"devices": [[0]]}]}))
    assert "current" in bad("--loads", str(loads_path), *PREFILL_ARGS, "--current", str(path))
