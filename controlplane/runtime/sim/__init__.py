"""The simulated runtime: the ``Runtime`` contract on a virtual clock (see ``runtime``)."""

from controlplane.runtime.sim.runtime import SimRuntime
from controlplane.runtime.sim.workload import SimFailure, SimWorkload, WorkloadModel, constant_workload

__all__ = ["SimFailure", "SimRuntime", "SimWorkload", "WorkloadModel", "constant_workload"]
