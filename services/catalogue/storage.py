"""The catalogue's tables and the queries on them (SQLAlchemy 2 async, SQLite or PostgreSQL)."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import orjson
from sqlalchemy import (
    Boolean, Column, DateTime, Index, MetaData, String, Table, Text, and_, func, insert, select, text, update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.catalogue.domain import Plan, State, Stored
from services.catalogue.feeds.records import KINDS
from shared.db import aware
from shared.outbox import outbox_table
from shared.tokens import tokens_table

metadata = MetaData()

records = Table(
    "records", metadata,
    Column("kind", String(20), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("municipality_code", String(4), nullable=False),
    Column("course_id", String(200)),
    Column("doc", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("feed_id", String(36)),
    Index("ix_records_municipality", "municipality_code", "kind"),
)

course_docs = Table(
    "course_docs", metadata,
    Column("id", String(200), primary_key=True),
    Column("municipality_code", String(4), nullable=False),
    Column("code", String(80)),
    Column("title", Text, nullable=False),
    Column("school_type", String(80)),
    Column("search_text", Text, nullable=False),
    Column("doc", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_course_docs_municipality", "municipality_code"),
    Index("ix_course_docs_updated", "updated_at"),
)

feeds = Table(
    "feeds", metadata,
    Column("feed_id", String(36), primary_key=True),
    Column("municipality_code", String(4), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("format", String(10), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("token_id", String(32)),
    Column("report", Text, nullable=False),
    Index("ix_feeds_municipality", "municipality_code", "received_at"),
)

api_tokens = tokens_table(metadata)

outbox = outbox_table(metadata)


def now() -> datetime:
    return datetime.now(timezone.utc)


def _upsert(conn: AsyncConnection, table: Table, keys: list[str]):  # noqa: ANN202
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    cols = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in keys}
    return ins.on_conflict_do_update(index_elements=keys, set_=cols)


async def lock_municipality(conn: AsyncConnection, municipality: str) -> None:
    """Serialise pushes for one municipality across replicas (PostgreSQL); SQLite has one writer anyway."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"feed:{municipality}"})


async def load_state(conn: AsyncConnection, municipality: str) -> State:
    state = State()
    rows = await conn.execute(
        select(records.c.kind, records.c.id, records.c.course_id, records.c.doc, records.c.hash, records.c.active)
        .where(records.c.municipality_code == municipality)
    )
    for kind, rid, course_id, doc, h, active in rows:
        state.records[kind][rid] = Stored(orjson.loads(doc), h, bool(active), course_id)
    rows = await conn.execute(
        select(course_docs.c.id, course_docs.c.hash, course_docs.c.active)
        .where(course_docs.c.municipality_code == municipality)
    )
    state.course_docs = {rid: (h, bool(a)) for rid, h, a in rows}
    return state


async def find_foreign(conn: AsyncConnection, municipality: str, ids: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """Which of these ids another municipality already holds."""
    found: dict[tuple[str, str], str] = {}
    for kind in KINDS:
        wanted = sorted(ids.get(kind, ()))
        for i in range(0, len(wanted), 500):
            rows = await conn.execute(
                select(records.c.id, records.c.municipality_code).where(
                    records.c.kind == kind, records.c.id.in_(wanted[i:i + 500]),
                    records.c.municipality_code != municipality,
                )
            )
            found.update({(kind, rid): m for rid, m in rows})
    return found


async def apply_plan(conn: AsyncConnection, plan: Plan, feed_id: str) -> None:
    ts = now()
    if plan.writes:
        rows = [
            {"kind": w.kind, "id": w.id, "municipality_code": plan.municipality, "course_id": w.course_id,
             "doc": orjson.dumps(w.doc).decode(), "hash": w.hash, "active": w.active, "updated_at": ts,
             "feed_id": feed_id}
            for w in plan.writes
        ]
        stmt = _upsert(conn, records, ["kind", "id"])
        for i in range(0, len(rows), 2000):
            await conn.execute(stmt, rows[i:i + 2000])
    upserts = [c for c in plan.course_docs if c.active]
    if upserts:
        rows = [
            {"id": c.id, "municipality_code": plan.municipality, "code": c.doc.get("code"), "title": c.doc["title"],
             "school_type": c.doc.get("school_type"),
             "search_text": " ".join(x for x in (c.doc.get("code"), c.doc["title"], c.doc.get("description")) if x).lower(),
             "doc": orjson.dumps(c.doc).decode(), "hash": c.hash, "active": True, "updated_at": ts}
            for c in upserts
        ]
        stmt = _upsert(conn, course_docs, ["id"])
        for i in range(0, len(rows), 2000):
            await conn.execute(stmt, rows[i:i + 2000])
    gone = [c.id for c in plan.course_docs if not c.active]
    for i in range(0, len(gone), 500):
        await conn.execute(update(course_docs).where(course_docs.c.id.in_(gone[i:i + 500]))
                           .values(active=False, updated_at=ts))


async def save_feed(conn: AsyncConnection, feed_id: str, municipality: str, mode: str, fmt: str,
                    token_id: str | None, report: dict) -> None:
    await conn.execute(insert(feeds).values(
        feed_id=feed_id, municipality_code=municipality, mode=mode, format=fmt, received_at=now(),
        token_id=token_id, report=orjson.dumps(report).decode(),
    ))


async def get_feed(conn: AsyncConnection, feed_id: str) -> dict | None:
    row = (await conn.execute(select(feeds.c.report).where(feeds.c.feed_id == feed_id))).first()
    return orjson.loads(row.report) if row else None


async def list_feeds(conn: AsyncConnection, municipality: str, limit: int) -> list[dict]:
    """A municipality's pushes, newest first: when, how, and each one's report."""
    rows = (await conn.execute(select(feeds).where(feeds.c.municipality_code == municipality)
                               .order_by(feeds.c.received_at.desc()).limit(limit))).all()
    return [{"feed_id": r.feed_id, "mode": r.mode, "format": r.format, "received_at": iso(r.received_at),
             "report": orjson.loads(r.report)} for r in rows]


# --- read side ---------------------------------------------------------------------------------

def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    pad = "=" * (-len(cursor) % 4)
    value = base64.b64decode(cursor + pad, altchars=b"-_", validate=True).decode()
    if not value:
        raise ValueError("empty cursor")
    return value


async def list_courses(conn: AsyncConnection, *, municipality: str | None, school_type: str | None,
                       text_query: str | None, updated_since: datetime | None, status: str,
                       after: str | None, limit: int) -> tuple[list[dict], int, str | None]:
    c = course_docs.c
    conds = []
    if municipality:
        conds.append(c.municipality_code == municipality)
    if school_type:
        conds.append(func.lower(c.school_type) == school_type.lower())
    if text_query:
        for word in text_query.lower().split()[:8]:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(c.search_text.like(f"%{escaped}%", escape="\\"))
    if updated_since:
        conds.append(c.updated_at >= updated_since)
    if status == "active":
        conds.append(c.active.is_(True))
    elif status == "withdrawn":
        conds.append(c.active.is_(False))
    where = and_(*conds) if conds else None
    total_q = select(func.count()).select_from(course_docs)
    page_q = select(c.id, c.doc, c.active, c.updated_at, c.municipality_code).order_by(c.id).limit(limit + 1)
    if where is not None:
        total_q = total_q.where(where)
        page_q = page_q.where(where)
    if after:
        page_q = page_q.where(c.id > after)
    total = int(await conn.scalar(total_q) or 0)
    rows = (await conn.execute(page_q)).all()
    items = [_course_item(r) for r in rows[:limit]]
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return items, total, nxt


def iso(ts: datetime | None) -> str | None:
    return aware(ts).isoformat() if ts else None


def _course_item(r) -> dict:  # noqa: ANN001
    if r.active:
        doc = orjson.loads(r.doc)
    else:
        doc = {"id": r.id, "municipality_code": r.municipality_code}
    doc["status"] = "active" if r.active else "withdrawn"
    doc["updated_at"] = iso(r.updated_at)
    return doc


async def get_course(conn: AsyncConnection, course_id: str) -> dict | None:
    c = course_docs.c
    row = (await conn.execute(select(c.id, c.doc, c.active, c.updated_at, c.municipality_code)
                              .where(c.id == course_id))).first()
    return _course_item(row) if row else None


async def list_records(conn: AsyncConnection, kind: str, municipality: str | None) -> list[dict]:
    q = select(records.c.doc).where(records.c.kind == kind, records.c.active.is_(True)).order_by(records.c.id)
    if municipality:
        q = q.where(records.c.municipality_code == municipality)
    return [orjson.loads(d) for (d,) in await conn.execute(q)]


async def municipality_stats(conn: AsyncConnection) -> dict[str, dict]:
    stats: dict[str, dict] = {}
    rows = await conn.execute(
        select(records.c.municipality_code, records.c.kind, func.count())
        .where(records.c.active.is_(True)).group_by(records.c.municipality_code, records.c.kind)
    )
    for m, kind, n in rows:
        stats.setdefault(m, {})[kind] = n
    rows = await conn.execute(
        select(feeds.c.municipality_code, func.max(feeds.c.received_at)).group_by(feeds.c.municipality_code)
    )
    for m, last in rows:
        stats.setdefault(m, {})["last_feed_at"] = last
    return stats


__all__ = ["metadata", "records", "course_docs", "feeds", "api_tokens", "outbox"]
