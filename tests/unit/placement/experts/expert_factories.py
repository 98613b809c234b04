"""Shapes and load generators shared by the expert-placement tests.

``PREFILL`` is DeepSeek-V3's prefill unit (4 nodes x 8 GPUs, 9 slots per GPU = 32 redundant
experts), ``DECODE`` its decode deployment (40 nodes x 8 GPUs, one slot each), both with 256
experts in 8 groups. ``SMALL`` is a toy cluster for hand-checked and property tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import numpy as np

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "expert_loads" / "dsv3_like_4_layers.json"



class Shape(TypedDict):
    """The cluster keyword arguments every planner takes."""

    nodes: int
    devices_per_node: int
    slots_per_device: int
    groups: int


PREFILL = Shape(nodes=4, devices_per_node=8, slots_per_device=9, groups=8)
DECODE = Shape(nodes=40, devices_per_node=8, slots_per_device=1, groups=8)
SMALL = Shape(nodes=2, devices_per_node=2, slots_per_device=3, groups=4)


def lognormal_loads(layers: int, experts: int, sigma: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(0.0, sigma, (layers, experts)) * 1000.0
