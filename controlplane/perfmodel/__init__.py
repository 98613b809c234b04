"""Performance model: memory, step time, throughput and cost of AI jobs per accelerator type.

Analytical first — FLOPs, bytes and link bandwidths of a transformer under a parallel layout,
with kernel efficiencies from one calibration file — then corrected online from observed step
times, and superseded by measured throughput tables where they exist. Pure: no I/O except
the explicit loaders, no clock, no globals.
"""

from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.flops import ParameterCounts, model_flops_per_token, parameter_counts
from controlplane.perfmodel.memory import MemoryEstimate, estimate_memory
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, MLAShape, ModelShape, MoEShape
from controlplane.perfmodel.step import (
    StepEstimate,
    TrainingEstimate,
    check_layout,
    estimate_step,
    estimate_training,
)

__all__ = [
    "Calibration",
    "DeviceSpec",
    "ExecutionOptions",
    "Layout",
    "MLAShape",
    "MemoryEstimate",
    "MoEShape",
    "ModelShape",
    "ParameterCounts",
    "StepEstimate",
    "TrainingEstimate",
    "as_device",
    "check_layout",
    "default_calibration",
    "estimate_memory",
    "estimate_step",
    "estimate_training",
    "model_flops_per_token",
    "parameter_counts",
]
