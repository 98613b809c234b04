"""Snapshots built from jobspecs documents: the example pools, queues and jobs."""

from __future__ import annotations

from pathlib import Path

from controlplane.scheduling import Scheduler
from controlplane.scheduling.specs import snapshot_from_specs
from jobspecs import AcceleratorPool, Queue, TrainingJob, load_file

EXAMPLES = Path(__file__).resolve().parents[3] / "jobspecs" / "examples"


def load(name: str) -> list:  # type: ignore[type-arg]
    return load_file(EXAMPLES / name)


def example_snapshot():  # type: ignore[no-untyped-def]
    pools = [r for r in load("pools.yaml") if isinstance(r, AcceleratorPool)]
    queues = [r for r in load("queues.yaml") if isinstance(r, Queue)]
    jobs = [r for name in ("llama-70b-pretrain.yaml", "tiny-cpu.yaml") for r in load(name)
            if isinstance(r, TrainingJob)]
    return snapshot_from_specs(jobs=jobs, pools=pools, queues=queues, now=1_000.0)


def test_specs_become_jobs_pools_and_queues_with_catalog_names() -> None:
    snapshot = example_snapshot()
    llama = next(job for job in snapshot.jobs if job.job_id == "research/llama-70b-pretrain")
    assert llama.devices == 128 and llama.queue == "pretraining" and llama.priority_name == "high"
    assert llama.allowed_types == ("H100-SXM", "H200", "MI300X")
    assert llama.layout is not None and llama.layout.tp == 8 and llama.model is not None
    pools = snapshot.pool_by_name()
    assert pools["aws-h100-spot-use1"].accelerator == "H100-SXM" and pools["aws-h100-spot-use1"].spot
    assert pools["onprem-ascend-910b"].price_per_device_hour == 1.10
    assert abs(pools["azure-mi300x-eastus"].units_per_device - 1307.4 / 989.4) < 1e-9
    queue = next(q for q in snapshot.queues if q.team == "research")
    assert queue.device_quota("H100-SXM") == 256


def test_every_example_job_gets_a_decision_with_a_readable_reason() -> None:
    result = Scheduler().plan(example_snapshot())
    by_job = {decision.job_id: decision for decision in result.decisions}
    assert set(by_job) == {"research/llama-70b-pretrain", "default/tiny-cpu"}
    assert by_job["default/tiny-cpu"].kind == "admit"
    llama = by_job["research/llama-70b-pretrain"]
    assert llama.kind == "wait" and llama.reason.startswith("waiting: ")
    assert "over the remaining budget" in llama.reason
