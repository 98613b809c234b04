"""Leader leases: at most one holder per lease name at any instant, with fencing tokens.

``try_acquire`` is the whole protocol: the current holder renews; anyone else takes the lease
only once it has expired, and the token then grows by one. The row is read with
``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), so two contenders can never both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import ConflictError, FencedOutError
from controlplane.store.converters import lease_record
from controlplane.store.models import LeaseRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import LeaseRecord
from controlplane.store.repositories._support import conflict_on_integrity_error


class LeaseRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def current(self, name: str) -> LeaseRecord | None:
        row = self._session.get(LeaseRow, name)
        return lease_record(row) if row is not None else None

    def try_acquire(self, name: str, holder: str, *, ttl_s: float, now: datetime | None = None) -> LeaseRecord | None:
        """Acquire or renew ``name`` for ``holder`` for ``ttl_s`` seconds; None if someone else holds it."""
        now = now or utcnow()
        expires = now + timedelta(seconds=ttl_s)
        row = self._session.scalar(select(LeaseRow).where(LeaseRow.name == name).with_for_update())
        if row is None:
            try:
                with conflict_on_integrity_error(self._session, f"lease {name} was taken concurrently"):
                    row = LeaseRow(name=name, holder=holder, token=1, acquired_at=now, renewed_at=now,
                                   expires_at=expires)
                    self._session.add(row)
                    self._session.flush()
            except ConflictError:
                return None
            return lease_record(row)
        if row.holder == holder and row.expires_at > now:
            row.renewed_at = now
            row.expires_at = expires
        elif row.expires_at <= now:
            row.holder = holder
            row.token += 1
            row.acquired_at = now
            row.renewed_at = now
            row.expires_at = expires
        else:
            return None
        self._session.flush()
        return lease_record(row)

    def check_fence(self, name: str, token: int, *, now: datetime | None = None) -> None:
        """Raise ``FencedOutError`` unless ``token`` is the current, unexpired token of ``name``.

        Called in the transaction of a leader's write: the row is read ``FOR SHARE`` (PostgreSQL),
        so a successor's ``try_acquire`` waits for that transaction, and a write that passed the
        check commits under the term it was checked in (SQLite serializes writers anyway)."""
        row = self._session.scalar(select(LeaseRow).where(LeaseRow.name == name).with_for_update(read=True))
        now = now or utcnow()
        if row is None or row.token != token or row.expires_at <= now:
            holder = "nobody" if row is None else f"{row.holder} (token {row.token})"
            raise FencedOutError(f"lease {name!r} token {token} is no longer current; it is held by {holder}",
                                 field="lease_token", hint="stop acting: another controller leads now")

    def release(self, name: str, holder: str, *, now: datetime | None = None) -> None:
        """Give the lease up at once (a clean shutdown), if ``holder`` still holds it."""
        row = self._session.scalar(select(LeaseRow).where(LeaseRow.name == name).with_for_update())
        if row is not None and row.holder == holder:
            row.expires_at = now or utcnow()
            self._session.flush()
