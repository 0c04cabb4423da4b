"""Database glue: async engines for SQLite and PostgreSQL, and Alembic migrations at start-up."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


def aware(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kw) -> AsyncEngine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # What is deleted or overwritten is zeroed on disk, not left in free pages (erasure).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    kw.setdefault("pool_size", 10)
    kw.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kw)


async def forget_old_pages(engine: AsyncEngine) -> None:
    """After an erasure: SQLite keeps the pages as they were before in its WAL file until a
    checkpoint; write them back (secure_delete has zeroed what was erased) and empty the WAL.
    PostgreSQL's old row versions go with VACUUM, which autovacuum runs."""
    if engine.dialect.name != "sqlite":
        return
    for _ in range(40):  # a reader in the middle of its transaction makes it busy: try again shortly
        async with engine.connect() as conn:
            busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()[0]
        if not busy:
            return
        await asyncio.sleep(0.05)
    log.warning("the WAL could not be emptied after an erasure (busy); the next checkpoint will")


def _alembic_config(migrations_dir: Path, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["version_table"] = version_table
    return cfg


async def migrate(engine: AsyncEngine, migrations_dir: Path, version_table: str) -> None:
    """Bring the schema to head. On PostgreSQL an advisory lock keeps replicas from racing."""
    cfg = _alembic_config(migrations_dir, version_table)

    def _upgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        if not is_sqlite(str(engine.url)):
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": version_table})
        await conn.run_sync(_upgrade)


def run_migrations_in_env(context, target_metadata) -> None:  # noqa: ANN001
    """Body of every service's migrations/env.py: run on the connection migrate() hands over."""
    conn = context.config.attributes["connection"]
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        version_table=context.config.attributes["version_table"],
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    )
    with context.begin_transaction():
        context.run_migrations()


async def ping(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


class Writer:
    """`async with writer.begin() as conn:` one write transaction; on SQLite, one at a time per process.

    SQLite allows a single writer; letting many tasks race for its lock makes each wait in the busy
    handler's sleeps, which is far slower than taking turns.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock() if is_sqlite(str(engine.url)) else None

    def begin(self):  # noqa: ANN201
        return _WriteTx(self)


class _WriteTx:
    def __init__(self, writer: Writer) -> None:
        self.w = writer
        self.cm = None

    async def __aenter__(self):  # noqa: ANN204
        if self.w._lock:
            await self.w._lock.acquire()
        try:
            self.cm = self.w.engine.begin()
            return await self.cm.__aenter__()
        except BaseException:
            if self.w._lock:
                self.w._lock.release()
            raise

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        try:
            await self.cm.__aexit__(*exc)
        finally:
            if self.w._lock:
                self.w._lock.release()
