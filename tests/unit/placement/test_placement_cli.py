"""``suanli place``: the 70B example placed on the example pools, occupied devices avoided,
the node map printed, and bad input or an impossible placement reported with the right code."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from controlplane.cli.place import place

EXAMPLES = Path(__file__).resolve().parents[3] / "jobspecs" / "examples"
JOB = str(EXAMPLES / "llama-70b-pretrain.yaml")
POOLS = str(EXAMPLES / "pools.yaml")
H100_POOL = "aws-h100-spot-use1"
WIDE = {"COLUMNS": "250"}

app = typer.Typer()
app.command("place")(place)


@app.callback()
def _root() -> None:
    """A test wrapper so that ``place`` is a sub-command, as in ``suanli``."""


runner = CliRunner()


def _invoke(*args: str) -> Result:
    return runner.invoke(app, ["place", *args], env=WIDE)


def _state(tmp_path: Path, document: object) -> str:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def test_the_70b_job_lands_on_the_preferred_h100_pool_in_whole_nodes() -> None:
    result = _invoke(JOB, "--pools", POOLS, "-o", "json")
    assert result.exit_code == 0, result.output
    placement = json.loads(result.stdout)
    assert placement["world_size"] == 128
    assert set(placement["pools"]) == {H100_POOL}
    assert set(placement["accelerators"]) == {"H100-SXM"}
    assert placement["stage_layers"] == [20, 20, 20, 20]
    assert placement["comm_cost_s"] > 0
    for group in placement["groups"]["tp"]:
        assert len({placement["nodes"][rank] for rank in group}) == 1


def test_the_table_shows_the_summary_the_reasons_and_a_node_map() -> None:
    result = _invoke(JOB, "--pools", POOLS)
    assert result.exit_code == 0, result.output
    for expected in ("placement of llama-70b-pretrain", "comm s/step", "bubble", "node → ranks",
                     f"{H100_POOL}-n0000", "tp group", "home:"):
        assert expected in result.stdout


def test_occupied_devices_and_unavailable_nodes_are_avoided(tmp_path: Path) -> None:
    state = _state(tmp_path, {"occupied": {f"{H100_POOL}-n0000": "all", f"{H100_POOL}-n0001": [0, 1]},
                              "unavailable": [f"{H100_POOL}-n0002"]})
    result = _invoke(JOB, "--pools", POOLS, "--occupied", state, "-o", "json")
    assert result.exit_code == 0, result.output
    nodes = set(json.loads(result.stdout)["nodes"])
    assert not nodes & {f"{H100_POOL}-n0000", f"{H100_POOL}-n0001", f"{H100_POOL}-n0002"}


def test_a_baseline_placer_can_be_chosen() -> None:
    result = _invoke(JOB, "--pools", POOLS, "--placer", "first-fit", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["placer"] == "first-fit"


def test_a_job_that_cannot_be_placed_exits_1_with_the_reasons(tmp_path: Path) -> None:
    state = _state(tmp_path, {"occupied": {f"{H100_POOL}-n{i:04d}": "all" for i in range(32)}})
    result = _invoke(JOB, "--pools", POOLS, "--occupied", state, "-o", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "insufficient_devices"
    assert "cannot place llama-70b-pretrain" in result.stderr


def test_malformed_state_is_bad_input(tmp_path: Path) -> None:
    result = _invoke(JOB, "--pools", POOLS, "--occupied", _state(tmp_path, "{not json"))
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_an_unknown_node_in_the_state_is_bad_input(tmp_path: Path) -> None:
    result = _invoke(JOB, "--pools", POOLS, "--occupied", _state(tmp_path, {"occupied": {"nowhere": "all"}}))
    assert result.exit_code == 2
    assert "nowhere" in result.stderr


def test_a_state_with_unknown_keys_is_bad_input(tmp_path: Path) -> None:
    result = _invoke(JOB, "--pools", POOLS, "--occupied", _state(tmp_path, {"busy": {}}))
    assert result.exit_code == 2


def test_a_pools_file_without_pools_is_bad_input() -> None:
    result = _invoke(JOB, "--pools", JOB)
    assert result.exit_code == 2
    assert "AcceleratorPool" in result.stderr


def test_a_missing_job_file_is_bad_input(tmp_path: Path) -> None:
    result = _invoke(str(tmp_path / "missing.yaml"), "--pools", POOLS)
    assert result.exit_code == 2


def test_an_unknown_placer_is_bad_input() -> None:
    result = _invoke(JOB, "--pools", POOLS, "--placer", "magic")
    assert result.exit_code == 2
