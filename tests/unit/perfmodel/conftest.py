"""Fixtures of the performance-model tests: devices, model shapes and calibrations."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.catalog import get_accelerator
from controlplane.perfmodel import Calibration, DeviceSpec, as_device, default_calibration


@pytest.fixture
def calibration() -> Calibration:
    return default_calibration()


@pytest.fixture
def exact_calibration(calibration: Calibration) -> Calibration:
    """No reserve and no fragmentation: usable memory is exactly the HBM size."""
    return replace(calibration, memory_reserve_bytes=0.0, memory_fragmentation=0.0)


@pytest.fixture
def h100() -> DeviceSpec:
    return as_device(get_accelerator("H100"))


@pytest.fixture
def a100() -> DeviceSpec:
    return as_device(get_accelerator("A100-80GB"))
