"""``suanli simulate``: one row per policy, JSON or table, and exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from controlplane.cli.simulate import simulate

DATA = Path(__file__).resolve().parents[2] / "data" / "gavel"
ARGS = ["--cluster", "2:2:2", "--jobs", str(DATA / "traces" / "small_test.trace"),
        "--throughputs", str(DATA / "simulation_throughputs.json")]


def app() -> typer.Typer:
    application = typer.Typer()
    application.command()(simulate)

    @application.callback()
    def root() -> None:
        """Test root so the command keeps its name."""

    return application


def test_policies_are_printed_side_by_side_as_json() -> None:
    result = CliRunner().invoke(app(), ["simulate", *ARGS, "--policy", "suanli", "--policy", "fifo", "-o", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [row["policy"] for row in document["policies"]] == ["suanli", "fifo"]
    assert all(row["completed"] == 20 and row["violations"] == 0 for row in document["policies"])


def test_the_table_has_one_row_per_policy() -> None:
    result = CliRunner().invoke(app(), ["simulate", *ARGS, "--policy", "las", "--policy", "cheapest"])
    assert result.exit_code == 0, result.output
    assert "las" in result.output and "cheapest" in result.output and "avg JCT h" in result.output


def test_an_unknown_policy_exits_2_with_the_known_names() -> None:
    result = CliRunner().invoke(app(), ["simulate", *ARGS, "--policy", "random"])
    assert result.exit_code == 2
    assert "suanli, fifo, las, cheapest" in result.output


def test_a_trace_without_throughputs_exits_2() -> None:
    result = CliRunner().invoke(app(), ["simulate", "--cluster", "2:2:2", "--jobs",
                                        str(DATA / "traces" / "small_test.trace")])
    assert result.exit_code == 2
    assert "--throughputs" in result.output


def test_jobspecs_files_run_on_pools_files(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[3] / "jobspecs" / "examples"
    result = CliRunner().invoke(app(), ["simulate", "--cluster", str(examples / "pools.yaml"), "--jobs",
                                        str(examples / "tiny-cpu.yaml"), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["policies"][0]["completed"] == 1
