"""``suanli estimate``: the 70B example ranked across H100/H200/MI300X/910B offers, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from controlplane.cli.estimate import estimate

EXAMPLES = Path(__file__).resolve().parents[3] / "jobspecs" / "examples"
JOB = str(EXAMPLES / "llama-70b-pretrain.yaml")
POOLS = str(EXAMPLES / "pools.yaml")
WIDE = {"COLUMNS": "250"}

app = typer.Typer()
app.command("estimate")(estimate)


@app.callback()
def _root() -> None:
    """A test wrapper so that ``estimate`` is a sub-command, as in ``suanli``."""


runner = CliRunner()


def _json(*args: str) -> list[dict]:
    result = runner.invoke(app, ["estimate", JOB, *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_70b_job_is_ranked_by_dollars_per_million_tokens_with_pools() -> None:
    rows = _json("--pools", POOLS)
    types = {row["accelerator"] for row in rows}
    assert {"H100-SXM", "H200", "MI300X", "Ascend-910B"} <= types
    usable = [row for row in rows if row["eligible"]]
    assert usable, rows
    costs = [row["dollars_per_million_tokens"] for row in usable]
    assert costs == sorted(costs)
    assert rows.index(usable[-1]) < min(i for i, row in enumerate(rows) if not row["eligible"])


def test_candidates_that_cannot_be_used_say_why() -> None:
    rows = {(row["accelerator"], row["offer"]): row for row in _json("--pools", POOLS)}
    ascend = rows[("Ascend-910B", "pool:onprem-ascend-910b")]
    assert ascend["per_device_hour"] == 1.10 and ascend["fits"]
    assert "minMemoryGiB" in ascend["why_not"] and "not in the job's types" in ascend["why_not"]
    mi300x = next(row for (name, _), row in rows.items() if name == "MI300X")
    assert mi300x["fits"]
    assert mi300x["dollars_per_million_tokens"] is not None or "no price" in mi300x["why_not"]


def test_a_pinned_layout_that_does_not_fit_is_explained() -> None:
    rows = _json("-a", "TPU-v6e", "-a", "H100", "--layout", "tp=8,pp=4,dp=4")
    tpu = [row for row in rows if row["accelerator"] == "TPU-v6e"]
    assert tpu and all(not row["fits"] and "needs" in row["why_not"] for row in tpu)
    assert rows[0]["accelerator"] == "H100-SXM" and rows[0]["eligible"]


def test_the_table_shows_the_ranking_columns() -> None:
    result = runner.invoke(app, ["estimate", JOB, "--pools", POOLS], env=WIDE)
    assert result.exit_code == 0, result.output
    for header in ("type", "offer", "layout", "GiB/dev", "step s", "tokens/s", "MFU", "$/dev-h", "$/Mtok", "why not"):
        assert header in result.stdout
    assert "pool:onprem-ascend-910b" in result.stdout


def test_a_malformed_layout_exits_2_with_a_message_and_no_traceback() -> None:
    result = runner.invoke(app, ["estimate", JOB, "--layout", "tp=x"])
    assert result.exit_code == 2
    assert "--layout" in result.stderr and "'x' is not a positive integer" in result.stderr
    assert "Traceback" not in result.output


def test_an_unknown_accelerator_exits_2_and_suggests_names() -> None:
    result = runner.invoke(app, ["estimate", JOB, "-a", "H900"])
    assert result.exit_code == 2
    assert "unknown accelerator 'H900'" in result.stderr and "H100-SXM" in result.stderr


def test_a_service_spec_is_ranked_per_million_output_tokens() -> None:
    result = runner.invoke(app, ["estimate", str(EXAMPLES / "moe-inference.yaml"), "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    h200 = next(row for row in rows if row["accelerator"] == "H200")
    assert h200["fits"] and h200["dollars_per_million_tokens"] and h200["tpot_ms"] > 0


def test_a_file_without_a_job_exits_2() -> None:
    result = runner.invoke(app, ["estimate", POOLS])
    assert result.exit_code == 2 and "no TrainingJob or InferenceService" in result.stderr
