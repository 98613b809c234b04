"""Fixtures of the expert-placement tests: the DeepSeek-V3-shaped loads shipped in tests/data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.unit.placement.experts.expert_factories import DATA


@pytest.fixture(scope="session")
def dsv3_loads() -> np.ndarray:
    """4 layers x 256 experts of the shared DeepSeek-V3-shaped loads (see tests/data/expert_loads)."""
    document: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return np.asarray(document["loads"], dtype=np.float64)


@pytest.fixture(scope="session")
def loads_path() -> Path:
    return DATA
