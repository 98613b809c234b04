"""The controller's leader lease: its name, and the fence every leader write passes.

A leader records decisions (attempts, intents) only inside a transaction that first checks its
lease token is still the current one (``fence``). A controller that lost the lease in the middle
of a tick — paused, partitioned from the database, slower than its TTL — therefore fails its
next write with ``FencedOutError`` instead of admitting a job its successor may admit too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from controlplane.store.repositories import LeaseRepository

CONTROLLER_LEASE = "controller"


def fence(session: Session, token: int) -> None:
    """Raise ``FencedOutError`` unless ``token`` is the controller lease's current token."""
    LeaseRepository(session).check_fence(CONTROLLER_LEASE, token)
