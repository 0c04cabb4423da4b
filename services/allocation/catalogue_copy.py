"""The allocation service's copy of the catalogue: the occurrences applied to, kept from the catalogue's
events; a course withdrawn takes back the offers on it."""
from __future__ import annotations

from shared.events import CourseDoc, Envelope, OfferWithdrawn
from shared.outbox import claim_event
from services.allocation import storage


class CatalogueCopy:
    """Use cases of AllocationService (service.py gives engine, writer, relay and the helpers used)."""

    async def upsert_course(self, course: CourseDoc, event_id: str | None = None) -> None:
        await self._sync(course.id, course, event_id)

    async def withdraw_course(self, course_id: str, event_id: str | None = None) -> None:
        await self._sync(course_id, None, event_id)

    async def _sync(self, course_id: str, course: CourseDoc | None, event_id: str | None) -> None:
        async with self.writer.begin() as conn:
            if event_id and not await claim_event(conn, storage.inbox, "catalogue", event_id):
                return  # handled before
            keep = set()
            if course is not None:
                for occ in course.occurrences:
                    keep.add(occ.id)
                    await storage.upsert_occurrence(conn, occ.id, {
                        "course_id": course.id, "course_code": course.code, "title": course.title,
                        "municipality_code": occ.municipality_code, "area": course.area, "start": occ.start,
                        "places": occ.places, "active": not occ.cancelled, "updated_at": storage.now()})
            gone = [i for i in await storage.active_occurrence_ids(conn, course_id) if i not in keep]
            if course is not None:
                gone += [occ.id for occ in course.occurrences if occ.cancelled]
            events: list[Envelope] = []
            if gone:
                await storage.deactivate_occurrences(conn, gone)
                events = await self._withdraw_offers(conn, storage.offers.c.occurrence_id.in_(gone))
            await self._commit_events(conn, events)
        self.relay.notify()

    async def _withdraw_offers(self, conn, where, notify: bool = True) -> list[Envelope]:  # noqa: ANN001
        """Take back pending and accepted offers (the course was withdrawn, or the applicant erased)."""
        events = []
        for r in await storage.open_offers(conn, where):
            await storage.settle_offer(conn, r, "withdrawn", "withdrawn", "waitlisted", answered_at=storage.now())
            payload = await self._offer_payload(conn, r) if notify else None
            if payload:
                events.append(self._ev(OfferWithdrawn, payload))
        return events
