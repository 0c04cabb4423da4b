"""The notifier's tables: one delivery record per (event, template), unique, so an e-mail is sent once."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint,
)

from shared.db import aware  # noqa: F401 - storage.aware for callers
from shared.outbox import BigId, inbox_table
from shared.tokens import tokens_table

metadata = MetaData()

deliveries = Table(
    "deliveries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(80), nullable=False),
    Column("template", String(60), nullable=False),
    Column("application_id", String(36)),
    Column("recipient", Text, nullable=False),
    Column("lang", String(4), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", String(120), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    # pending | sending | sent | retry | failed | cancelled
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("possible_duplicate", Boolean, nullable=False, default=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(120)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("correlation_id", String(80)),
    UniqueConstraint("event_id", "template", name="uq_delivery_event_template"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_application", "application_id"),
)

api_tokens = tokens_table(metadata)
inbox = inbox_table(metadata)


def now() -> datetime:
    return datetime.now(timezone.utc)
