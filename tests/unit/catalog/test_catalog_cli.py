"""``suanli catalog``: tables and JSON from the shipped data; bad names exit 2 without a traceback."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from controlplane.cli.catalog import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}  # rich sizes tables from COLUMNS; wide enough for no truncation


def test_accelerators_table_lists_every_type_with_its_figures() -> None:
    result = runner.invoke(app, ["accelerators"], env=WIDE)
    assert result.exit_code == 0, result.output
    expected_cells = ("H100-SXM", "MI300X", "Ascend-910B", "TPU-v6e", "989.4", "NVLink 4 900 GB/s",
                      "HCCS 392")
    for expected in expected_cells:
        assert expected in result.output


def test_accelerators_json_carries_the_full_specs_and_sources() -> None:
    result = runner.invoke(app, ["accelerators", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["H800"]["interconnect_gbps"] == 400
    assert rows["A100-40GB"]["fp8_tflops"] is None
    assert all(row["sources"] for row in rows.values())


def test_accelerators_can_filter_by_vendor_and_show_one_type() -> None:
    amd = json.loads(runner.invoke(app, ["accelerators", "--vendor", "AMD", "-o", "json"]).output)
    assert {row["name"] for row in amd} == {"MI300X", "MI325X"}
    one = runner.invoke(app, ["accelerators", "trillium", "-o", "json"])
    assert json.loads(one.output)["name"] == "TPU-v6e"


def test_prices_table_ranks_offers_by_dollars_per_device_hour() -> None:
    result = runner.invoke(app, ["prices", "--accelerator", "H100", "--cloud", "aws", "--limit", "3"],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    assert "H100-SXM offers" in result.output
    assert "p5.48xlarge" in result.output and "$/device-h" in result.output


def test_prices_json_honours_spot_cloud_and_limit() -> None:
    result = runner.invoke(app, ["prices", "-a", "h100", "--spot", "--cloud", "aws", "-n", "5", "-o", "json"])
    assert result.exit_code == 0, result.output
    offers = json.loads(result.output)
    assert 1 <= len(offers) <= 5
    assert all(o["cloud"] == "aws" and o["spot_per_hour"] is not None for o in offers)
    ranked = [o["per_device_hour"] for o in offers]
    assert ranked == sorted(ranked)
    assert ranked[0] == offers[0]["spot_per_hour"] / offers[0]["devices"]


def test_prices_min_devices_keeps_whole_nodes_only() -> None:
    result = runner.invoke(app, ["prices", "-a", "H100", "--min-devices", "8", "-o", "json"])
    offers = json.loads(result.output)
    assert offers and all(o["devices"] >= 8 for o in offers)


def test_unknown_accelerator_exits_2_with_suggestions_and_no_traceback() -> None:
    for args in (["prices", "--accelerator", "H1OO"], ["accelerators", "H1OO"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "unknown accelerator 'H1OO'" in result.output
        assert "H100-SXM" in result.output
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_a_type_without_offers_prints_an_empty_result_and_a_note() -> None:
    result = runner.invoke(app, ["prices", "-a", "MI300X", "-o", "json"])
    assert result.exit_code == 0
    assert "no offers for MI300X" in result.output
