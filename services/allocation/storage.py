"""The allocation service's tables (SQLAlchemy 2 async, SQLite or PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import aware  # noqa: F401 - storage.aware for callers
from shared.outbox import inbox_table, outbox_table
from shared.tokens import tokens_table

metadata = MetaData()

occurrences = Table(
    "occurrences", metadata,
    Column("id", String(200), primary_key=True),
    Column("course_id", String(200), nullable=False),
    Column("course_code", String(80)),
    Column("title", Text, nullable=False),
    Column("municipality_code", String(4), nullable=False),
    Column("area", String(80)),
    Column("start", Date),
    Column("places", Integer),  # as the feed says
    Column("funded_places", Integer),  # set by an adopted distribution; wins over `places`
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_occurrences_course", "course_id"),
    Index("ix_occurrences_funding", "municipality_code", "area"),
)

applications = Table(
    "applications", metadata,
    Column("id", String(36), primary_key=True),
    Column("submission_id", String(80), nullable=False, unique=True),
    Column("form_hash", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("name", Text),  # personal data: blanked on erasure
    Column("email", Text),
    Column("email_key", String(64)),  # hash of the lower-cased address, to find duplicates
    Column("lang", String(4), nullable=False),
    Column("home_municipality", String(4), nullable=False),
    Column("education_level", String(40)),
    Column("employment", String(40)),
    Column("priority_group", Integer, nullable=False),
    Column("priority_reason", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True)),
    Index("ix_applications_email", "email_key"),
    Index("ix_applications_status", "status"),
)

choices = Table(
    "choices", metadata,
    Column("application_id", String(36), ForeignKey("applications.id"), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("occurrence_id", String(200), nullable=False),
    Column("approval", String(10), nullable=False),  # approved | pending | denied (home municipality)
    Column("state", String(20), nullable=False),  # open | offered | accepted | declined | expired | withdrawn
    Column("reserve_position", Integer),
    Index("ix_choices_occurrence", "occurrence_id"),
)

offers = Table(
    "offers", metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("occurrence_id", String(200), nullable=False),
    Column("round_id", String(36)),
    Column("choice_rank", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # pending | accepted | declined | expired | withdrawn
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("reminded", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Index("ix_offers_status", "status", "deadline"),
    Index("ix_offers_occurrence", "occurrence_id", "status"),
)

rounds = Table(
    "rounds", metadata,
    Column("id", String(36), primary_key=True),
    Column("seed", String(80), nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_s", Float),
    Column("summary", Text, nullable=False),
    Column("result", Text, nullable=False),  # per applicant: outcome and explanation
)

distributions = Table(
    "distributions", metadata,
    Column("id", String(36), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("input", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("status", String(10), nullable=False),  # scenario | adopted
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("adopted_by", String(200)),
    Column("adopted_at", DateTime(timezone=True)),
)

chat_demand = Table(
    "chat_demand", metadata,
    Column("area", String(80), primary_key=True),
    Column("municipality_code", String(4), primary_key=True),
    Column("turns", Integer, nullable=False),
)

service_secrets = Table(
    "service_secrets", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

api_tokens = tokens_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def now() -> datetime:
    return datetime.now(timezone.utc)




async def lock(conn: AsyncConnection, key: str) -> None:
    """Serialise work that must never run twice at once (rounds) across replicas, on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
