"""Trace-driven, discrete-event simulation of the scheduler on a virtual clock.

The same ``controlplane.scheduling.Scheduler`` that drives the controller plans every round;
the harness (``harness``) replays arrivals and spot capacity changes (``events``, ``spot``)
from our specs or Gavel's formats (``workloads``), applies the decisions, and measures per-job
JCT, queueing delay, makespan, utilization, cost, preemptions and the scheduler's own time per
round (``metrics``). ``setup.load_inputs`` and ``setup.simulate`` serve ``suanli simulate``.
"""

from controlplane.simulator.harness import Simulation, SimulationConfig, SimulationResult
from controlplane.simulator.metrics import JobRecord, Summary
from controlplane.simulator.setup import SimulationInputs, load_inputs, simulate
from controlplane.simulator.spot import NodeChange, load_spot_trace, read_availability_trace, read_event_trace
from controlplane.simulator.workloads import (
    Cluster,
    cluster_from_pool_specs,
    cluster_from_pools_file,
    gavel_cluster,
    gavel_jobs,
    generate_gavel_jobs,
    jobs_from_specs_file,
    read_gavel_trace,
)

__all__ = [
    "Cluster",
    "JobRecord",
    "NodeChange",
    "Simulation",
    "SimulationConfig",
    "SimulationInputs",
    "SimulationResult",
    "Summary",
    "cluster_from_pool_specs",
    "cluster_from_pools_file",
    "gavel_cluster",
    "gavel_jobs",
    "generate_gavel_jobs",
    "jobs_from_specs_file",
    "load_inputs",
    "load_spot_trace",
    "read_availability_trace",
    "read_event_trace",
    "read_gavel_trace",
    "simulate",
]
