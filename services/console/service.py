"""The staff console: signs staff in and shows the services' data to them through pages.

A small service of its own (not pages of one of the others) because a console page draws on four
services (catalogue feeds, allocation seats and rounds, the notifier's deliveries, every service's
parked messages); staff accounts and sign-ins are its only data. The services stay the source of
truth and decide each person's rights (backends.py)."""
from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from pathlib import Path

from services.console import storage
from services.console.backends import Backends, Staff
from services.console.settings import ConsoleSettings
from shared.db import Writer, make_engine, migrate, ping
from shared.passwords import DUMMY_HASH, check_password, hash_password
from shared.reference import municipalities

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("regional", "municipality", "operator")


class ConsoleService:
    name = "console"
    migrations = MIGRATIONS

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.writer = Writer(self.engine)
        self.backends = Backends(
            {"catalogue": settings.catalogue_url, "allocation": settings.allocation_url,
             "notifier": settings.notifier_url, "guidance": settings.guidance_url},
            {"catalogue": settings.catalogue_token, "allocation": settings.allocation_token,
             "notifier": settings.notifier_token, "guidance": settings.guidance_token}, settings.backend_timeout_s)

    async def start(self) -> None:
        await migrate(self.engine, self.migrations, "alembic_version_console")
        await self.backends.start()

    async def stop(self) -> None:
        await self.backends.stop()
        await self.engine.dispose()

    async def db_ready(self) -> bool:
        return await ping(self.engine)

    # --- staff and sign-in --------------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> tuple[str, str] | None:
        """A new sign-in's (cookie token, form token), or None for a wrong name or password."""
        async with self.engine.connect() as conn:
            row = await storage.active_staff(conn, username)
        if not check_password(password, row.password_hash if row else DUMMY_HASH) or row is None:
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        async with self.writer.begin() as conn:
            await storage.add_sign_in(conn, token, username, csrf,
                                      storage.now() + timedelta(hours=self.settings.sign_in_hours))
        return token, csrf

    async def signed_in(self, token: str | None) -> tuple[Staff, str] | None:
        """The person behind a sign-in cookie and their form token, or None."""
        if not token or len(token) > 100:
            return None
        async with self.engine.connect() as conn:
            row = await storage.signed_in(conn, token)
        if row is None:
            return None
        return Staff(row.username, row.name, row.role, row.municipality), row.csrf

    async def sign_out(self, token: str) -> None:
        async with self.writer.begin() as conn:
            await storage.remove_sign_in(conn, token)

    # --- uploads waiting for a confirmation -------------------------------------------------

    async def keep_upload(self, staff: Staff, municipality: str, content_type: str, filename: str,
                          body: bytes) -> str:
        upload_id = str(uuid.uuid4())
        oldest = storage.now() - timedelta(minutes=self.settings.upload_keep_minutes)
        async with self.writer.begin() as conn:
            await storage.add_upload(conn, {"id": upload_id, "username": staff.username, "municipality": municipality,
                                            "content_type": content_type, "filename": filename[:200], "body": body},
                                     oldest)
        return upload_id

    async def take_upload(self, staff: Staff, municipality: str, upload_id: str):  # noqa: ANN201 - a row or None
        async with self.writer.begin() as conn:
            row = await storage.take_upload(conn, upload_id, staff.username, municipality)
        if row is None or storage.aware(row.created_at) < storage.now() - timedelta(
                minutes=self.settings.upload_keep_minutes):
            return None
        return row


def check_account(role: str, municipality: str | None) -> str | None:
    """For `staff create`: what is wrong with the role and municipality given, or None."""
    if role not in ROLES:
        return f"unknown role {role!r}; use one of {', '.join(ROLES)}"
    if role == "municipality" and municipality not in municipalities():
        return "a municipality coordinator needs --municipality CODE, one of " + ", ".join(sorted(municipalities()))
    if role != "municipality" and municipality:
        return f"a {role} account is not tied to a municipality; leave out --municipality"
    return None


async def create_staff(conn, username: str, name: str, role: str, municipality: str | None,  # noqa: ANN001
                       password: str) -> None:
    await storage.put_staff(conn, {"username": username, "name": name, "role": role, "municipality": municipality,
                                   "password_hash": hash_password(password)})
