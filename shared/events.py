"""Integration events: the one place where the messages between services are defined.

Every message on the bus is an envelope (id, type, version, time, producer, correlation id)
around a typed payload. Adding a field with a default is a compatible change; anything else
gets a new version, and both versions stay registered until no producer sends the old one.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# The languages a learner is answered in (the pages, the assistant, the e-mails).
Lang = Literal["sv", "en", "ar", "fa", "prs", "so", "ti"]  # prs: Dari; ti: Tigrinya

class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --- catalogue payloads -------------------------------------------------------------------

class ProviderDoc(Model):
    id: str
    name: str
    municipality_code: str
    url: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class OccurrenceDoc(Model):
    """One course occurrence (EMIL3 educationEvent): where, when and how a course is given."""

    id: str
    course_id: str
    municipality_code: str = Field(description="Municipality whose feed offers it")
    place_municipality_code: str | None = Field(None, description="Where it is held, if given")
    town: str | None = None
    start: date | None = None
    end: date | None = None
    pace_percent: float | None = None
    distance: bool = False
    time_of_study: str | None = None
    application_opens: date | None = None
    application_deadline: date | None = None
    continuous_intake: bool = False
    languages: list[str] = Field(default_factory=list)
    url: str | None = None
    places: int | None = Field(None, ge=0, le=10_000)
    cancelled: bool = False


class CourseDoc(Model):
    """A course (EMIL3 educationInfo) with its provider and active occurrences, denormalised."""

    id: str
    municipality_code: str
    code: str | None = None
    title: str
    description: str = ""
    school_type: str | None = None
    subjects: list[str] = Field(default_factory=list)
    credits: float | None = None
    credits_system: str | None = None
    url: str | None = None
    keywords: list[str] = Field(default_factory=list)
    area: str | None = Field(None, description="Education area (vård och omsorg, ...), for seat funding and demand")
    provider: ProviderDoc | None = None
    occurrences: list[OccurrenceDoc] = Field(default_factory=list)


class ValidationOfferDoc(Model):
    """Validation of prior learning (validering): credits what someone learnt at work."""

    id: str
    municipality_code: str
    title: str
    description: str = ""
    occupation_ssyk4: str | None = None
    course_codes: list[str] = Field(default_factory=list)
    method: str | None = None
    duration: str | None = None
    cost: str | None = None
    provider: str | None = None
    contact: str | None = None
    url: str | None = None


class LearningCentreDoc(Model):
    """A lärcentrum: a local place for distance learners."""

    id: str
    municipality_code: str
    name: str
    address: str | None = None
    town: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    services: list[str] = Field(default_factory=list)
    opening_hours: str | None = None
    contact: str | None = None
    url: str | None = None


class WithdrawnPayload(Model):
    id: str
    municipality_code: str


# --- allocation payloads ---------------------------------------------------------------------

EducationLevel = Literal["none", "primary", "upper_secondary_incomplete", "upper_secondary", "post_secondary"]
Employment = Literal["unemployed", "labour_market_programme", "part_time", "employed", "student", "other"]


# A person's name in any script: words of letters (with their marks), each perhaps an initial with
# a dot, joined by spaces, hyphens or apostrophes. No digits, slashes or "www.x.se": what a caller
# writes here is printed in e-mails the county sends, and must not carry a link.
NAME_PATTERN = r"^[\p{L}\p{M}]+\.?(?:[ '’-]+[\p{L}\p{M}]+\.?)*$"


class ApplicantFacts(Model):
    """Only what contact and the priority rules need."""

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN,
                      description="letters, spaces, hyphens, apostrophes and initials; no digits or links")
    email: str = Field(min_length=3, max_length=254)
    home_municipality: str = Field(pattern=r"^\d{4}$")
    education_level: EducationLevel
    employment: Employment
    lang: Lang = "sv"


class ApplicationForm(Model):
    """What a learner submits: ranked course occurrences and the facts that decide priority."""

    submission_id: str = Field(min_length=8, max_length=80, description="client key: the same submission twice is one application")
    applicant: ApplicantFacts
    choices: list[str] = Field(min_length=1, max_length=5, description="occurrence ids, best first")
    consent: StrictBool = Field(description="consent to the processing of personal data; must be true")
    chat_session_id: str | None = None


class Contact(Model):
    name: str
    email: str
    lang: str = "sv"


class OccurrenceRef(Model):
    id: str
    course_id: str | None = None
    title: str | None = None
    municipality_code: str | None = None
    start: date | None = None


class ApplicationReceivedPayload(Model):
    application_id: str
    submission_id: str | None = Field(None, description="the submitter's key, so the assistant can show the receipt")
    contact: Contact
    home_municipality: str
    choices: list[OccurrenceRef]
    status_url: str | None = None


class ConfirmationPayload(Model):
    """An application waits for its applicant to prove the address: it counts only once confirmed."""

    application_id: str
    submission_id: str | None = None
    contact: Contact
    home_municipality: str
    choices: list[OccurrenceRef]
    confirm_url: str
    expires_at: datetime


class OfferPayload(Model):
    offer_id: str
    application_id: str
    round_id: str | None = None
    contact: Contact
    occurrence: OccurrenceRef
    choice_rank: int
    deadline: datetime
    answer_url: str | None = None


class WaitlistPosition(Model):
    occurrence: OccurrenceRef
    position: int


class WaitlistedPayload(Model):
    application_id: str
    round_id: str
    contact: Contact
    positions: list[WaitlistPosition]


class RejectedPayload(Model):
    application_id: str | None = None
    submission_id: str | None = None
    contact: Contact
    reason: str


class ErasedPayload(Model):
    application_id: str


class ErasureRequestedPayload(Model):
    """A learner was forgotten by the assistant: what was sent from their conversation goes too
    (the applications, and the e-mailed plans the notifier keeps under `chat:` + the code)."""

    chat_session: str = Field(description="the conversation's code, as in GuidanceSummaryPayload.session_id")
    submission_ids: list[str] = Field(default_factory=list, max_length=1000)


class PlanItem(Model):
    kind: Literal["validation", "course", "learning_centre"]
    title: str
    municipality: str | None = None
    start: date | None = None
    detail: str | None = None
    url: str | None = None


class SentApplication(Model):
    """An application the learner has already sent from the conversation, as the plan mentions it."""

    reference: str = Field(max_length=12, description="the short reference the receipt shows (8 characters)")
    status: Literal["sent", "received", "rejected"]


class GuidanceSummaryPayload(Model):
    """A counsellor's plan for a learner: validation first, then courses, with places and dates, and the
    applications already sent."""

    contact: Contact
    counsellor: str | None = None
    session_id: str
    items: list[PlanItem] = Field(default_factory=list)
    note: str | None = Field(None, max_length=4000)
    applications: list[SentApplication] = Field(default_factory=list, max_length=20)


class ChatTurnPayload(Model):
    """Anonymous: what a learner asked the assistant about, never what they wrote."""

    areas: list[str] = Field(default_factory=list)
    municipality_code: str | None = None
    lang: str | None = None


# --- envelopes ------------------------------------------------------------------------------

class Envelope(Model):
    type: str
    version: int
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    time: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    payload: Any

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


class CourseUpserted(Envelope):
    type: Literal["course.upserted"] = "course.upserted"
    version: Literal[1] = 1
    payload: CourseDoc


class CourseWithdrawn(Envelope):
    type: Literal["course.withdrawn"] = "course.withdrawn"
    version: Literal[1] = 1
    payload: WithdrawnPayload


class ValidationOfferUpserted(Envelope):
    type: Literal["validation_offer.upserted"] = "validation_offer.upserted"
    version: Literal[1] = 1
    payload: ValidationOfferDoc


class ValidationOfferWithdrawn(Envelope):
    type: Literal["validation_offer.withdrawn"] = "validation_offer.withdrawn"
    version: Literal[1] = 1
    payload: WithdrawnPayload


class LearningCentreUpserted(Envelope):
    type: Literal["learning_centre.upserted"] = "learning_centre.upserted"
    version: Literal[1] = 1
    payload: LearningCentreDoc


class LearningCentreWithdrawn(Envelope):
    type: Literal["learning_centre.withdrawn"] = "learning_centre.withdrawn"
    version: Literal[1] = 1
    payload: WithdrawnPayload


class ApplicationSubmitted(Envelope):
    """Command from the assistant to the allocation service."""

    type: Literal["application.submitted"] = "application.submitted"
    version: Literal[1] = 1
    payload: ApplicationForm


class ApplicationReceived(Envelope):
    type: Literal["application.received"] = "application.received"
    version: Literal[1] = 1
    payload: ApplicationReceivedPayload


class ApplicationConfirmationRequested(Envelope):
    """Mail the applicant a link that confirms the application (the address is theirs)."""

    type: Literal["application.confirmation_requested"] = "application.confirmation_requested"
    version: Literal[1] = 1
    payload: ConfirmationPayload


class OfferMade(Envelope):
    type: Literal["offer.made"] = "offer.made"
    version: Literal[1] = 1
    payload: OfferPayload


class OfferReminder(Envelope):
    type: Literal["offer.reminder"] = "offer.reminder"
    version: Literal[1] = 1
    payload: OfferPayload


class OfferAccepted(Envelope):
    type: Literal["offer.accepted"] = "offer.accepted"
    version: Literal[1] = 1
    payload: OfferPayload


class OfferDeclined(Envelope):
    type: Literal["offer.declined"] = "offer.declined"
    version: Literal[1] = 1
    payload: OfferPayload


class OfferExpired(Envelope):
    type: Literal["offer.expired"] = "offer.expired"
    version: Literal[1] = 1
    payload: OfferPayload


class OfferWithdrawn(Envelope):
    """The seat was taken back (course withdrawn, applicant erased)."""

    type: Literal["offer.withdrawn"] = "offer.withdrawn"
    version: Literal[1] = 1
    payload: OfferPayload


class ApplicationWaitlisted(Envelope):
    type: Literal["application.waitlisted"] = "application.waitlisted"
    version: Literal[1] = 1
    payload: WaitlistedPayload


class ApplicationRejected(Envelope):
    type: Literal["application.rejected"] = "application.rejected"
    version: Literal[1] = 1
    payload: RejectedPayload


class ApplicantErased(Envelope):
    type: Literal["applicant.erased"] = "applicant.erased"
    version: Literal[1] = 1
    payload: ErasedPayload


class ApplicantErasureRequested(Envelope):
    """Command from the assistant to the allocation service."""

    type: Literal["applicant.erasure_requested"] = "applicant.erasure_requested"
    version: Literal[1] = 1
    payload: ErasureRequestedPayload


class ChatTurnObserved(Envelope):
    type: Literal["chat.turn_observed"] = "chat.turn_observed"
    version: Literal[1] = 1
    payload: ChatTurnPayload


class GuidanceSummaryRequested(Envelope):
    """Command from the assistant: e-mail this plan to the learner."""

    type: Literal["guidance.summary_requested"] = "guidance.summary_requested"
    version: Literal[1] = 1
    payload: GuidanceSummaryPayload


class EmbedPayload(Model):
    """A text whose vector no search replica has found stored: one embed worker will make it."""

    signature: str = Field(min_length=1, max_length=64, description="the model's signature (vectors of "
                                                                     "different models are not comparable)")
    key: str = Field(pattern=r"^[0-9a-f]{24}$", description="the text's key (embedder.text_key)")
    text: str = Field(min_length=1, max_length=100_000)


class EmbeddedPayload(Model):
    signature: str = Field(min_length=1, max_length=64)
    key: str = Field(pattern=r"^[0-9a-f]{24}$")
    vector: str = Field(max_length=20_000, description="float32 little-endian, base64; unit length")


class SearchEmbedRequested(Envelope):
    """Command from a search replica to the embed workers (one shared queue: competing consumers)."""

    type: Literal["search.embed_requested"] = "search.embed_requested"
    version: Literal[1] = 1
    payload: EmbedPayload


class SearchTextEmbedded(Envelope):
    """An embed worker stored a text's vector: every replica may use it."""

    type: Literal["search.text_embedded"] = "search.text_embedded"
    version: Literal[1] = 1
    payload: EmbeddedPayload


class TestPing(Envelope):
    """Carries nothing of substance; used to exercise the bus itself (retries, parking, reconnects)."""

    __test__ = False  # not a pytest class
    type: Literal["test.ping"] = "test.ping"
    version: Literal[1] = 1
    payload: dict[str, Any]


EVENT_TYPES: tuple[type[Envelope], ...] = (
    CourseUpserted,
    CourseWithdrawn,
    ValidationOfferUpserted,
    ValidationOfferWithdrawn,
    LearningCentreUpserted,
    LearningCentreWithdrawn,
    ApplicationSubmitted,
    ApplicationConfirmationRequested,
    ApplicationReceived,
    OfferMade,
    OfferReminder,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferWithdrawn,
    ApplicationWaitlisted,
    ApplicationRejected,
    ApplicantErased,
    ApplicantErasureRequested,
    ChatTurnObserved,
    GuidanceSummaryRequested,
    SearchEmbedRequested,
    SearchTextEmbedded,
    TestPing,
)

AnyEvent = Annotated[Union[EVENT_TYPES], Field(discriminator="type")]  # type: ignore[valid-type]
_adapter: TypeAdapter[Envelope] = TypeAdapter(AnyEvent)


def parse_event(body: bytes | str) -> Envelope:
    """Validate a message body into its typed event; raises pydantic.ValidationError."""
    return _adapter.validate_json(body)


# Who may publish each event type: the bus's contract beside the events themselves. Each service
# speaks on the broker as its own user, named as the service; consumers refuse an event whose
# validated user_id is not its producer, the broker's topic permissions refuse it earlier
# (shared/broker.py), and the AsyncAPI document is generated from it.
PRODUCERS: dict[str, str] = {
    "course.upserted": "catalogue", "course.withdrawn": "catalogue",
    "validation_offer.upserted": "catalogue", "validation_offer.withdrawn": "catalogue",
    "learning_centre.upserted": "catalogue", "learning_centre.withdrawn": "catalogue",
    "application.submitted": "guidance", "chat.turn_observed": "guidance", "guidance.summary_requested": "guidance",
    "applicant.erasure_requested": "guidance",
    "application.confirmation_requested": "allocation",
    "application.received": "allocation", "application.waitlisted": "allocation",
    "application.rejected": "allocation", "applicant.erased": "allocation",
    "offer.made": "allocation", "offer.reminder": "allocation", "offer.accepted": "allocation",
    "offer.declined": "allocation", "offer.expired": "allocation", "offer.withdrawn": "allocation",
    "search.embed_requested": "search", "search.text_embedded": "search",
    "test.ping": "tests",
}


# What each service may bind its queues to (the broker's topic read permissions): a queue bound to
# `#` would read every event, names and addresses included.
CONSUMERS: dict[str, tuple[str, ...]] = {
    "catalogue": (),
    "search": ("course.upserted", "course.withdrawn", "validation_offer.upserted", "validation_offer.withdrawn",
               "learning_centre.upserted", "learning_centre.withdrawn", "search.embed_requested",
               "search.text_embedded"),
    "guidance": ("application.received", "application.rejected", "applicant.erased"),
    "allocation": ("course.upserted", "course.withdrawn", "application.submitted", "applicant.erasure_requested",
                   "chat.turn_observed"),
    "notifier": ("application.confirmation_requested", "application.received", "application.rejected", "application.waitlisted", "offer.made",
                 "offer.reminder", "offer.expired", "offer.withdrawn", "offer.accepted", "offer.declined",
                 "guidance.summary_requested", "applicant.erased", "applicant.erasure_requested"),
    "tests": ("test.ping",),
}
