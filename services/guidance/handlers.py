"""The guidance service's message handlers: what happens to applications sent from a conversation."""
from __future__ import annotations

from services.guidance.conversations import Chat
from shared.bus import Bus
from shared.events import ApplicantErased, ApplicationReceived, ApplicationRejected, Envelope


def register(bus: Bus, chat: Chat) -> None:
    @bus.subscribe("guidance.chat-applications", ["application.received", "application.rejected", "applicant.erased"])
    async def on_application(event: Envelope) -> None:
        # Setting the same status (or deleting) twice is harmless, so a redelivery needs no inbox entry.
        if isinstance(event, ApplicantErased):
            await chat.application_erased(event.payload.application_id)
        elif isinstance(event, ApplicationReceived):
            await chat.application_outcome(event.payload.submission_id, event.payload.application_id, "received")
        elif isinstance(event, ApplicationRejected):
            await chat.application_outcome(event.payload.submission_id, event.payload.application_id,
                                           "rejected", event.payload.reason)
