"""Feed API tokens: one per municipality (pushes only its own feed) or for the region (any feed).

A token is `vux_<id>_<secret>`. Only a SHA-256 of the secret is stored: the secret is 32 random
bytes, so a slow password hash would add nothing but latency to every push.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.catalogue import storage


@dataclass(frozen=True)
class Caller:
    token_id: str
    name: str
    municipality_code: str | None
    is_region: bool

    def may_push(self, municipality: str) -> bool:
        return self.is_region or self.municipality_code == municipality


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(conn: AsyncConnection, *, name: str, municipality: str | None, region: bool) -> str:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await storage.insert_token(conn, id=token_id, name=name, municipality_code=municipality,
                               is_region=region, secret_hash=_hash(secret))
    return f"vux_{token_id}_{secret}"


async def authenticate(conn: AsyncConnection, header: str | None) -> Caller | None:
    """The caller behind an `Authorization: Bearer vux_...` header, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "vux" or not parts[1] or not parts[2]:
        return None
    row = await storage.get_token(conn, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        return None
    return Caller(row.id, row.name, row.municipality_code, bool(row.is_region))
