"""The worker SDK: the same calls under a Suanli runtime, under plain torchrun and alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane.runtime import LaunchSpec, RankSpec, rank_env, worker
from tests.unit.runtime.conftest import RecordingBridge


def launch_spec() -> LaunchSpec:
    return LaunchSpec(
        attempt_id="a-1", request_id="r-1", job_id="job-7", entrypoint="pkg.mod:main",
        ranks=(RankSpec(0, "n0", 0, {"tp": 0, "pp": 0, "dp": 0, "stage": 0}),
               RankSpec(1, "n0", 1, {"tp": 1, "pp": 0, "dp": 0, "stage": 0}, experts=(4, 5)),
               RankSpec(2, "n1", 0, {"tp": 0, "pp": 1, "dp": 0, "stage": 1})),
        env={"USER_FLAG": "on", "RANK": "99"}, checkpoint_uri="s3://bucket/job-7", parallelism={"tp": 2, "pp": 2},
    )


def test_the_context_of_a_suanli_rank_round_trips_through_its_environment() -> None:
    environment = rank_env.rank_environment(launch_spec(), launch_spec().ranks[1], master_addr="10.0.0.5",
                                            master_port=29500)

    ctx = worker.context(environment)

    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.local_world_size) == (1, 3, 1, 2)
    assert (ctx.tp_rank, ctx.pp_rank, ctx.dp_rank, ctx.stage) == (1, 0, 0, 0)
    assert ctx.group_sizes == {"tp": 2, "pp": 2}
    assert ctx.experts == (4, 5)
    assert (ctx.attempt_id, ctx.job_id, ctx.node) == ("a-1", "job-7", "n0")
    assert ctx.checkpoint_uri == "s3://bucket/job-7"
    assert ctx.init_method == "tcp://10.0.0.5:29500"
    assert ctx.managed and not ctx.is_chief


def test_the_spec_environment_cannot_override_the_ranks_but_is_passed_through() -> None:
    environment = rank_env.rank_environment(launch_spec(), launch_spec().ranks[2], master_addr="h", master_port=1)

    assert environment["RANK"] == "2"
    assert environment["USER_FLAG"] == "on"
    assert json.loads(environment["SUANLI_COORDINATES"]) == {"tp": 0, "pp": 1, "dp": 0, "stage": 1}
    assert environment["SUANLI_PP_RANK"] == "1" and environment["SUANLI_STAGE"] == "1"


def test_under_plain_torchrun_the_context_assumes_pure_data_parallelism() -> None:
    ctx = worker.context({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
                          "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29400"})

    assert (ctx.rank, ctx.world_size, ctx.local_rank) == (3, 4, 1)
    assert ctx.dp_rank == 3 and ctx.tp_rank == 0
    assert ctx.group_sizes == {"dp": 4}
    assert not ctx.managed
    assert ctx.init_method == "tcp://127.0.0.1:29400"


def test_alone_the_process_is_rank_zero_of_one() -> None:
    ctx = worker.context({})

    assert (ctx.rank, ctx.world_size, ctx.local_rank) == (0, 1, 0)
    assert ctx.is_chief and ctx.init_method is None


def test_individual_coordinate_variables_are_read_when_no_json_is_given() -> None:
    ctx = worker.context({"RANK": "1", "SUANLI_TP_RANK": "1", "SUANLI_TP_SIZE": "2", "SUANLI_PAGE_SIZE": "9"})

    assert ctx.coordinates == {"tp": 1}
    assert ctx.group_sizes == {"tp": 2}


def test_reports_of_rank_zero_reach_the_bridge(bridge: RecordingBridge) -> None:
    worker.report(step=3, loss=2.5, tokens=4096)

    assert bridge.steps == [(3, 2.5, 4096)]


def test_reports_of_other_ranks_are_dropped_unless_every_rank_reports(bridge: RecordingBridge,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "2")
    worker.report(step=1, loss=1.0)
    monkeypatch.setenv("SUANLI_REPORTING_RANKS", "all")
    worker.report(step=2, loss=1.0)

    assert bridge.steps == [(2, 1.0, None)]


def test_stop_and_checkpoint_requests_come_from_the_bridge(bridge: RecordingBridge) -> None:
    assert not worker.should_stop() and not worker.checkpoint_requested()

    bridge.stop, bridge.checkpoint = True, True

    assert worker.should_stop() and worker.checkpoint_requested()


class DictCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[int, Any] = {}

    def save(self, ctx: worker.WorkerContext, step: int, state: Any) -> worker.SavedCheckpoint:
        self.saved[step] = state
        return worker.SavedCheckpoint(uri=f"memory://{step}", bytes=11)

    def restore(self, ctx: worker.WorkerContext) -> tuple[int, Any] | None:
        return (max(self.saved), self.saved[max(self.saved)]) if self.saved else None


def test_saving_through_installed_hooks_reports_the_commit_and_clears_the_request(bridge: RecordingBridge) -> None:
    hooks = DictCheckpoints()
    worker.set_checkpoint_hooks(hooks)
    bridge.checkpoint = True

    saved = worker.save_checkpoint(5, {"w": 1})

    assert saved == worker.SavedCheckpoint("memory://5", 11)
    assert bridge.checkpoints == [(5, "memory://5", 11)]
    assert not worker.checkpoint_requested()
    assert worker.restore_checkpoint() == (5, {"w": 1})


def test_without_hooks_saving_only_clears_the_request_and_nothing_restores(bridge: RecordingBridge) -> None:
    bridge.checkpoint = True

    assert worker.save_checkpoint(5, {"w": 1}) is None
    assert not worker.checkpoint_requested()
    assert bridge.checkpoints == []
    assert worker.restore_checkpoint() is None


def test_a_subprocess_rank_reports_through_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    report_file, stop_file, checkpoint_file = tmp_path / "r.jsonl", tmp_path / "stop", tmp_path / "ckpt"
    monkeypatch.setenv("SUANLI_REPORT_FILE", str(report_file))
    monkeypatch.setenv("SUANLI_STOP_FILE", str(stop_file))
    monkeypatch.setenv("SUANLI_CHECKPOINT_FILE", str(checkpoint_file))

    worker.report(step=1, loss=0.5, tokens=8)
    worker.report_checkpoint(step=1, uri="file:///c/1", bytes=3)
    assert not worker.should_stop()
    stop_file.touch()
    checkpoint_file.touch()

    records = [json.loads(line) for line in report_file.read_text().splitlines()]
    assert [(r["kind"], r["step"]) for r in records] == [("step", 1), ("checkpoint", 1)]
    assert records[0]["loss"] == 0.5 and records[0]["tokens"] == 8 and records[1]["uri"] == "file:///c/1"
    assert worker.should_stop() and worker.checkpoint_requested()
    worker.save_checkpoint(1, None)
    assert not checkpoint_file.exists()


def test_outside_suanli_reports_become_lines_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    worker.report(step=7, loss=1.25, tokens=10)

    assert "suanli: step=7 loss=1.25 tokens=10" in capsys.readouterr().err
    assert not worker.should_stop()
