"""Reading the audit log."""

from __future__ import annotations

from controlplane.services.context import ServiceContext
from controlplane.services.views import event_view
from controlplane.store.engine import session_scope
from controlplane.store.repositories.events import EventRepository
from controlplane.wire import EventView, Page


class EventService:
    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def list(self, *, job_id: str | None = None, entity: str | None = None, type_prefix: str | None = None,
             after: int | None = None, limit: int | None = None) -> Page[EventView]:
        page_size = min(limit or self._ctx.settings.page_size_default, self._ctx.settings.page_size_max)
        with session_scope(self._ctx.session_factory) as session:
            events = EventRepository(session).list(job_id=job_id, entity=entity, type_prefix=type_prefix,
                                                   after_seq=after, limit=page_size + 1)
        more = len(events) > page_size
        events = events[:page_size]
        return Page[EventView](items=[event_view(e) for e in events],
                               next_cursor=str(events[-1].seq) if more and events else None)
