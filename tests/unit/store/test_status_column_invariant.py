"""Inside the store, only ``transitions.py`` assigns a status column."""

from __future__ import annotations

import re
from pathlib import Path

import controlplane.store

STORE = Path(controlplane.store.__file__).parent
STATUS_ASSIGNMENT = re.compile(r"\.status\s*=(?!=)")


def test_no_store_module_but_transitions_assigns_a_status() -> None:
    offenders = [
        f"{path.relative_to(STORE)}:{number}"
        for path in STORE.rglob("*.py") if path.name != "transitions.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if STATUS_ASSIGNMENT.search(line)
    ]
    assert offenders == []


def test_transitions_does_assign_the_status() -> None:
    assert STATUS_ASSIGNMENT.search((STORE / "transitions.py").read_text())
