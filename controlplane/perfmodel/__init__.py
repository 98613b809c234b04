"""Performance model: memory, step time, throughput and cost of AI jobs per accelerator type.

Analytical first — FLOPs, bytes and link bandwidths of a transformer under a parallel layout,
with kernel efficiencies from one calibration file — then corrected online from observed step
times, and superseded by measured throughput tables where they exist. Pure: no I/O except
the explicit loaders, no clock, no globals.
"""

from controlplane.perfmodel.adapters import layout_from_spec, model_shape_from_spec, parse_layout
from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.flops import ParameterCounts, model_flops_per_token, parameter_counts
from controlplane.perfmodel.inference import InferenceEstimate, estimate_inference
from controlplane.perfmodel.memory import MemoryEstimate, estimate_memory
from controlplane.perfmodel.online import Correction, OnlineCorrector
from controlplane.perfmodel.ranking import (
    Candidate,
    PriceOffer,
    ServingWorkload,
    TrainingWorkload,
    rank_candidates,
    rank_serving_candidates,
    search_layouts,
)
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, MLAShape, ModelShape, MoEShape
from controlplane.perfmodel.step import (
    StepEstimate,
    TrainingEstimate,
    check_layout,
    estimate_step,
    estimate_training,
)
from controlplane.perfmodel.throughput import MeasuredOrModeled, StepTime, ThroughputTable

__all__ = [
    "Calibration",
    "Candidate",
    "Correction",
    "DeviceSpec",
    "ExecutionOptions",
    "InferenceEstimate",
    "Layout",
    "MLAShape",
    "MeasuredOrModeled",
    "MemoryEstimate",
    "MoEShape",
    "ModelShape",
    "OnlineCorrector",
    "ParameterCounts",
    "PriceOffer",
    "ServingWorkload",
    "StepEstimate",
    "StepTime",
    "ThroughputTable",
    "TrainingEstimate",
    "TrainingWorkload",
    "as_device",
    "check_layout",
    "default_calibration",
    "estimate_inference",
    "estimate_memory",
    "estimate_step",
    "estimate_training",
    "layout_from_spec",
    "model_flops_per_token",
    "model_shape_from_spec",
    "parameter_counts",
    "parse_layout",
    "rank_candidates",
    "rank_serving_candidates",
    "search_layouts",
]
