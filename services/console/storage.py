"""The console's own tables: staff accounts, sign-ins, and uploads waiting for a confirmation.

Everything else the console shows is the services' own, asked for over their APIs."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import aware

metadata = MetaData()

staff = Table(
    "staff", metadata,
    Column("username", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # regional | municipality | operator
    Column("municipality", String(4)),  # a municipality coordinator's own
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

sign_ins = Table(
    "sign_ins", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(80), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_sign_ins_expiry", "expires_at"),
)

# A feed that would withdraw more than half a municipality's courses waits here for the person's "yes".
uploads = Table(
    "uploads", metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(80), nullable=False),
    Column("municipality", String(4), nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def put_staff(conn: AsyncConnection, values: dict) -> None:
    found = (await conn.execute(select(staff.c.username).where(staff.c.username == values["username"]))).first()
    if found:
        await conn.execute(update(staff).where(staff.c.username == values["username"])
                           .values(**values, disabled_at=None))
    else:
        await conn.execute(insert(staff).values(**values, created_at=now()))


async def disable_staff(conn: AsyncConnection, username: str) -> bool:
    res = await conn.execute(update(staff).where(staff.c.username == username, staff.c.disabled_at.is_(None))
                             .values(disabled_at=now()))
    await conn.execute(delete(sign_ins).where(sign_ins.c.username == username))
    return res.rowcount == 1


async def staff_rows(conn: AsyncConnection) -> list:
    return (await conn.execute(select(staff).order_by(staff.c.username))).all()


async def active_staff(conn: AsyncConnection, username: str):  # noqa: ANN201 - a row or None
    return (await conn.execute(select(staff).where(staff.c.username == username,
                                                   staff.c.disabled_at.is_(None)))).first()


async def add_sign_in(conn: AsyncConnection, token: str, username: str, csrf: str, expires_at: datetime) -> None:
    await conn.execute(delete(sign_ins).where(sign_ins.c.expires_at < now()))
    await conn.execute(insert(sign_ins).values(token_hash=token_hash(token), username=username, csrf=csrf,
                                               expires_at=expires_at))


async def signed_in(conn: AsyncConnection, token: str):  # noqa: ANN201 - (staff row, csrf) or None
    s = sign_ins
    row = (await conn.execute(select(staff, s.c.csrf, s.c.expires_at).join(s, s.c.username == staff.c.username)
                              .where(s.c.token_hash == token_hash(token), staff.c.disabled_at.is_(None)))).first()
    if row is None or aware(row.expires_at) < now():
        return None
    return row


async def remove_sign_in(conn: AsyncConnection, token: str) -> None:
    await conn.execute(delete(sign_ins).where(sign_ins.c.token_hash == token_hash(token)))


async def add_upload(conn: AsyncConnection, values: dict, keep_until: datetime) -> None:
    await conn.execute(delete(uploads).where(uploads.c.created_at < keep_until))
    await conn.execute(insert(uploads).values(**values, created_at=now()))


async def take_upload(conn: AsyncConnection, upload_id: str, username: str, municipality: str):  # noqa: ANN201
    """The person's own waiting upload for that municipality, removed as it is taken; or None."""
    row = (await conn.execute(select(uploads).where(uploads.c.id == upload_id, uploads.c.username == username,
                                                    uploads.c.municipality == municipality))).first()
    if row is not None:
        await conn.execute(delete(uploads).where(uploads.c.id == upload_id))
    return row
