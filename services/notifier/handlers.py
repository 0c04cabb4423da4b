"""The notifier's message handlers."""
from __future__ import annotations

from services.notifier.compose import TEMPLATE_FOR, conversation
from shared.bus import Bus
from shared.events import ApplicantErased, ApplicantErasureRequested, Envelope


def register(bus: Bus, service) -> None:  # noqa: ANN001 - NotifierService (import cycle)
    @bus.subscribe("notifier.mail", sorted(TEMPLATE_FOR))
    async def on_mail_event(event: Envelope) -> None:
        await service.record(event)

    @bus.subscribe("notifier.erasure", ["applicant.erased", "applicant.erasure_requested"])
    async def on_erased(event: Envelope) -> None:
        if isinstance(event, ApplicantErased):
            await service.erase(event.payload.application_id)
        elif isinstance(event, ApplicantErasureRequested):  # a forgotten conversation's e-mailed plans
            await service.erase(conversation(event.payload.chat_session))
