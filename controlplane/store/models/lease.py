"""ORM row of a leader lease: which controller may act, until when, under which fencing token.

Vocabulary:
- ``name``: what the lease guards (``controller`` for the reconcile loop).
- ``holder``: the identity of the process holding it (host, pid and a random suffix).
- ``token``: a fencing token that grows by one every time the lease changes hands; writes made
  on behalf of a lease carry it, so a deposed leader's late writes can be recognised.
- ``expires_at``: the holder must renew before this instant or lose the lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import NAME_LENGTH, SHORT_TEXT, Base


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(SHORT_TEXT), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    token: Mapped[int]
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
