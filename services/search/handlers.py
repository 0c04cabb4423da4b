"""The search service's message handlers: each replica its own queue on the catalogue's events;
the replicas share one queue for what happens to applications sent from a conversation."""
from __future__ import annotations

from shared.bus import Bus
from shared.events import ApplicantErased, ApplicationReceived, ApplicationRejected, Envelope

CATALOGUE_EVENTS = ["course.upserted", "course.withdrawn", "validation_offer.upserted", "validation_offer.withdrawn",
                    "learning_centre.upserted", "learning_centre.withdrawn"]


def register(bus: Bus, service, instance: str) -> None:  # noqa: ANN001 - SearchService (import cycle)
    @bus.subscribe(f"search.{instance}.catalogue", CATALOGUE_EVENTS)
    async def on_catalogue(event: Envelope) -> None:
        await service.on_event(event)

    @bus.subscribe("search.chat-applications", ["application.received", "application.rejected", "applicant.erased"])
    async def on_application(event: Envelope) -> None:
        # Setting the same status (or deleting) twice is harmless, so a redelivery needs no inbox entry.
        if isinstance(event, ApplicantErased):
            await service.chat.application_erased(event.payload.application_id)
        elif isinstance(event, ApplicationReceived):
            await service.chat.application_outcome(event.payload.submission_id, event.payload.application_id,
                                                   "received")
        elif isinstance(event, ApplicationRejected):
            await service.chat.application_outcome(event.payload.submission_id, event.payload.application_id,
                                                   "rejected", event.payload.reason)
