"""The guidance service's tables: chat sessions and what hangs on them, counsellors, and the outbox.

What learners and counsellors write lives here, shared by all replicas. A session is stored under
the SHA-256 of its secret id, so the database alone does not give anyone a way into a conversation.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, ForeignKey, Index, MetaData, String, Table, Text

from shared.outbox import BigId, outbox_table
from shared.tokens import tokens_table

metadata = MetaData()

sessions = Table(
    "chat_sessions", metadata,
    Column("key", String(64), primary_key=True),  # sha256 of the learner's secret session id
    Column("code", String(12), nullable=False, unique=True),  # what a learner shows a counsellor
    Column("lang", String(4), nullable=False),
    Column("profile", Text, nullable=False),  # Profile as JSON
    Column("suggestions", Text, nullable=False, default="[]"),  # the last suggestions shown, as JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_chat_sessions_updated", "updated_at"),
)

messages = Table(
    "chat_messages", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_key", String(64), ForeignKey("chat_sessions.key", ondelete="CASCADE"), nullable=False),
    Column("role", String(12), nullable=False),  # learner | assistant
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_chat_messages_session", "session_key", "id"),
)

marks = Table(
    "chat_marks", metadata,
    Column("session_key", String(64), ForeignKey("chat_sessions.key", ondelete="CASCADE"), primary_key=True),
    Column("result_id", String(200), primary_key=True),
    Column("mark", String(10), nullable=False),  # saved | hidden | pinned | removed
    Column("by", String(12), nullable=False),  # learner | counsellor
    Column("snapshot", Text, nullable=False),  # the result as shown, for the plan
    Column("created_at", DateTime(timezone=True), nullable=False),
)

notes = Table(
    "chat_notes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_key", String(64), ForeignKey("chat_sessions.key", ondelete="CASCADE"), nullable=False),
    Column("counsellor", String(80), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

applications = Table(
    "chat_applications", metadata,
    Column("submission_id", String(80), primary_key=True),
    Column("session_key", String(64), ForeignKey("chat_sessions.key", ondelete="CASCADE"), nullable=False),
    Column("status", String(12), nullable=False),  # sent | received | rejected
    Column("application_id", String(36)),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_chat_applications_session", "session_key"),
)

counsellors = Table(
    "counsellors", metadata,
    Column("username", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254)),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

logins = Table(
    "counsellor_logins", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(80), ForeignKey("counsellors.username", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

opened = Table(
    "counsellor_sessions", metadata,
    Column("username", String(80), ForeignKey("counsellors.username", ondelete="CASCADE"), primary_key=True),
    Column("session_key", String(64), ForeignKey("chat_sessions.key", ondelete="CASCADE"), primary_key=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
api_tokens = tokens_table(metadata)  # operators and the staff console (parked messages)

# Children first: SQLite has foreign keys off unless asked, so deletion is done explicitly.
SESSION_CHILDREN = (messages, marks, notes, applications, opened)


def now() -> datetime:
    return datetime.now(timezone.utc)

