"""The allocation service's message handlers: one subscription per concern."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.bus import Bus
from shared.problems import Problem
from shared.events import (
    ApplicantErasureRequested, ApplicationSubmitted, ChatTurnObserved, CourseUpserted, CourseWithdrawn, Envelope,
)

if TYPE_CHECKING:
    from services.allocation.service import AllocationService

log = logging.getLogger(__name__)


def register(bus: Bus, service: AllocationService) -> None:
    @bus.subscribe("allocation.catalogue", ["course.upserted", "course.withdrawn"])
    async def on_course(event: Envelope) -> None:
        if isinstance(event, CourseUpserted):
            await service.upsert_course(event.payload, event_id=str(event.event_id))
        elif isinstance(event, CourseWithdrawn):
            await service.withdraw_course(event.payload.id, event_id=str(event.event_id))

    # Erasure shares the submissions' queue so it comes after the submission it forgets.
    @bus.subscribe("allocation.applications", ["application.submitted", "applicant.erasure_requested"])
    async def on_application(event: Envelope) -> None:
        if isinstance(event, ApplicantErasureRequested):
            n = await service.erase_submissions(event.payload.submission_ids)
            log.info("erasure requested from a conversation: %d application(s) forgotten", n)
            return
        if not isinstance(event, ApplicationSubmitted):
            return
        try:
            await service.submit(event.payload)  # the submission id makes a redelivery a no-op
        except Problem as exc:
            log.info("application %s refused: %s", event.payload.submission_id, exc.detail)
            if exc.status == 429:
                return  # one more e-mail to the address is what the limit is there to stop
            # The learner is told why (application.rejected e-mail); nothing is silently dropped.
            await service.reject_submission(event.payload, exc.detail)

    @bus.subscribe("allocation.demand", ["chat.turn_observed"])
    async def on_chat_turn(event: Envelope) -> None:
        if isinstance(event, ChatTurnObserved):
            await service.record_chat_turn(event.payload, event_id=str(event.event_id))
