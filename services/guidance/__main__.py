"""python -m services.guidance [serve]      the learners' chat page and the counsellors' page
python -m services.guidance counsellor create USERNAME --name NAME [--email E]   (password from stdin, or generated)
python -m services.guidance counsellor disable USERNAME
python -m services.guidance token create --operator | --console [--name NAME]   (parked messages over HTTP)"""
import argparse
import asyncio
import secrets
import sys

from services.guidance import storage
from services.guidance.api import create_app
from services.guidance.service import MIGRATIONS, GuidanceService
from services.guidance.settings import GuidanceSettings
from shared.cli import service_main


def _commands(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("counsellor", help="counsellor accounts").add_subparsers(dest="action", required=True)
    create = c.add_parser("create", help="create an account, or set a new password on an existing one")
    create.add_argument("username")
    create.add_argument("--name", required=True)
    create.add_argument("--email")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    disable = c.add_parser("disable", help="disable an account and end its sign-ins")
    disable.add_argument("username")


def _run(args: argparse.Namespace, settings: GuidanceSettings) -> int:
    from services.guidance.conversations import create_counsellor, disable_counsellor
    from shared.db import make_engine, migrate

    async def go() -> int:
        engine = make_engine(settings.db_url())
        try:
            await migrate(engine, MIGRATIONS, "alembic_version_guidance")
            async with engine.begin() as conn:
                if args.action == "disable":
                    if not await disable_counsellor(conn, args.username):
                        print(f"no counsellor named {args.username!r}", file=sys.stderr)
                        return 1
                    print(f"disabled {args.username}")
                    return 0
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(12)
                if len(password) < 10:
                    print("the password must be at least 10 characters", file=sys.stderr)
                    return 2
                await create_counsellor(conn, args.username, args.name, args.email, password)
            print(f"counsellor {args.username}" + ("" if args.password_stdin else f" password: {password}"))
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(service_main(doc=__doc__, settings_cls=GuidanceSettings, service_cls=GuidanceService,
                          create_app=create_app, token_table=storage.api_tokens, roles=["operator", "console"],
                          extra_commands=_commands,
                          run_extra=_run))
