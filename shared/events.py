"""Integration events: the one place where the messages between services are defined.

Every message on the bus is an envelope (id, type, version, time, producer, correlation id)
around a typed payload. Adding a field with a default is a compatible change; anything else
gets a new version, and both versions stay registered until no producer sends the old one.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Any, ClassVar, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    places: int | None = None
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


# --- envelopes ------------------------------------------------------------------------------

class Envelope(Model):
    type: str
    version: int
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    time: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    payload: Any

    routing_key: ClassVar[str]

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
    TestPing,
)

AnyEvent = Annotated[Union[EVENT_TYPES], Field(discriminator="type")]  # type: ignore[valid-type]
_adapter: TypeAdapter[Envelope] = TypeAdapter(AnyEvent)


def parse_event(body: bytes | str) -> Envelope:
    """Validate a message body into its typed event; raises pydantic.ValidationError."""
    return _adapter.validate_json(body)


def routing_key(event: Envelope) -> str:
    return event.type
