"""The search service's one table: every distinct text's vector, per model, shared by all replicas and
embed workers (SQLite locally, PostgreSQL in the cluster). Documents and the FAISS index are kept in
each replica's memory; only what is costly to make is stored.

A row with no vector is a claim: a worker is embedding that text now. A claim older than
`stale_after` is taken over (its worker died).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, PrimaryKeyConstraint, String, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

vectors = Table(
    "text_vectors", metadata,
    Column("signature", String(64), nullable=False),
    Column("key", String(24), nullable=False),
    Column("vector", LargeBinary),  # float32 little-endian; NULL while claimed
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("embedded_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("signature", "key"),
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def to_array(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


async def stored(conn: AsyncConnection, signature: str, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """The stored vectors of these keys (all of this model's when keys is None)."""
    q = select(vectors.c.key, vectors.c.vector).where(vectors.c.signature == signature,
                                                      vectors.c.vector.is_not(None))
    if keys is None:
        return {r.key: to_array(r.vector) for r in await conn.execute(q)}
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(keys), 500):
        rows = await conn.execute(q.where(vectors.c.key.in_(keys[i:i + 500])))
        out.update({r.key: to_array(r.vector) for r in rows})
    return out


async def claim(conn: AsyncConnection, signature: str, key: str, stale_after: timedelta) -> bool:
    """Take the job of embedding this text: True when nobody holds it (or its holder went quiet)."""
    t = now()
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(vectors)
    if (await conn.execute(ins.values(signature=signature, key=key, claimed_at=t).on_conflict_do_nothing())).rowcount:
        return True
    taken = await conn.execute(update(vectors).where(
        vectors.c.signature == signature, vectors.c.key == key, vectors.c.vector.is_(None),
        vectors.c.claimed_at < t - stale_after).values(claimed_at=t))
    return taken.rowcount == 1


async def store(conn: AsyncConnection, signature: str, key: str, vector: np.ndarray) -> None:
    await conn.execute(update(vectors).where(vectors.c.signature == signature, vectors.c.key == key)
                       .values(vector=vector.astype("<f4").tobytes(), embedded_at=now()))
