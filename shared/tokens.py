"""API tokens shared by the services: `vux_<id>_<secret>`, stored as a SHA-256 of the secret.

The secret is 32 random bytes, so a slow password hash would add nothing but latency. A token has
a role (what kind of caller) and an optional scope (e.g. the municipality it speaks for).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote

from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def tokens_table(metadata: MetaData) -> Table:
    return Table(
        "api_tokens", metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("role", String(20), nullable=False),
        Column("scope", String(20)),
        Column("secret_hash", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
    )


@dataclass(frozen=True)
class Caller:
    token_id: str
    name: str
    role: str
    scope: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(conn: AsyncConnection, table: Table, *, name: str, role: str, scope: str | None) -> str:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await conn.execute(insert(table).values(id=token_id, name=name, role=role, scope=scope,
                                            secret_hash=_hash(secret), created_at=datetime.now(timezone.utc)))
    return f"vux_{token_id}_{secret}"


# The staff console signs people in and calls the services for them with its own `console` token and
# this header, "ROLE SCOPE NAME" (scope "-" when none; the name percent-encoded). The service maps the person's role to one of its
# own and checks that role's rights, so the person never gets more than the service would give them.
STAFF_HEADER = "X-Vux-Staff"
STAFF_ROLES = ("regional", "municipality", "operator")


def acting_for(console: Caller, header: str | None, staff_roles: dict[str, str]) -> Caller:
    """The signed-in person a console call is made for, with this service's role for them; a person
    whose role the service does not know gets role "none" (403), a call with no person the same."""
    parts = (header or "").split(" ", 2)
    if len(parts) != 3 or parts[0] not in STAFF_ROLES:
        return Caller(console.token_id, console.name, "none", None)
    role, scope, name = parts
    scope = None if scope == "-" else scope
    if (role == "municipality") != (scope is not None):
        return Caller(console.token_id, console.name, "none", None)
    return Caller(console.token_id, f"{unquote(name)[:150]} (console)", staff_roles.get(role, "none"), scope)


async def authenticate(conn: AsyncConnection, table: Table, header: str | None, *, staff: str | None = None,
                       staff_roles: dict[str, str] | None = None) -> Caller | None:
    """The caller behind an `Authorization: Bearer vux_...` header, or None. A `console` token speaks
    for the person in `staff` (the X-Vux-Staff header), with the role `staff_roles` gives them."""
    if not header or not header.startswith("Bearer "):
        return None
    parts = header[7:].strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "vux" or not parts[1] or not parts[2]:
        return None
    row = (await conn.execute(select(table).where(table.c.id == parts[1]))).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        return None
    caller = Caller(row.id, row.name, row.role, row.scope)
    if caller.role == "console":
        return acting_for(caller, staff, staff_roles or {})
    return caller


async def revoke_token(conn: AsyncConnection, table: Table, token_id: str) -> bool:
    res = await conn.execute(update(table).where(table.c.id == token_id, table.c.revoked_at.is_(None))
                             .values(revoked_at=datetime.now(timezone.utc)))
    return res.rowcount == 1


def add_token_parser(sub: argparse._SubParsersAction, roles: list[str], municipality_role: str | None) -> None:
    """`token create --ROLE [--municipality CODE]`; with only --municipality, the role is municipality_role."""
    tok = sub.add_parser("token", help="create, revoke or list API tokens")
    tsub = tok.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create")
    for role in roles:
        create.add_argument(f"--{role}", dest="role", action="store_const", const=role)
    create.add_argument("--municipality", dest="scope", metavar="CODE", help="the municipality the token speaks for")
    create.add_argument("--name")
    create.set_defaults(role=None, municipality_role=municipality_role,
                        roles=roles + ([municipality_role] if municipality_role else []))
    revoke = tsub.add_parser("revoke")
    revoke.add_argument("token_id")
    tsub.add_parser("list")


async def run_token_command(engine: AsyncEngine, table: Table, args: argparse.Namespace,
                            check_scope=None) -> int:  # noqa: ANN001
    """`token create|revoke|list`; the new token is the last line printed."""
    async with engine.begin() as conn:
        if args.action == "create":
            if args.role is None and args.scope and args.municipality_role:
                args.role = args.municipality_role
            if args.role is None:
                print("say which kind of token: " + ", ".join(f"--{r}" for r in args.roles), file=sys.stderr)
                return 2
            if check_scope is not None:
                problem = check_scope(args.role, args.scope)
                if problem:
                    print(problem, file=sys.stderr)
                    return 2
            token = await create_token(conn, table, name=args.name or args.role, role=args.role, scope=args.scope)
            where = f" for {args.scope}" if args.scope else ""
            print(f"created {args.role} token {token.split('_')[1]}{where}; store it now, it is not shown again:")
            print(token)
        elif args.action == "revoke":
            if not await revoke_token(conn, table, args.token_id):
                print(f"no active token {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id}")
        else:
            for t in (await conn.execute(select(table).order_by(table.c.created_at))).all():
                state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
                print(f"{t.id}\t{t.role}\t{t.scope or '-'}\t{t.name}\t{t.created_at:%Y-%m-%d %H:%M}\t{state}")
    return 0
