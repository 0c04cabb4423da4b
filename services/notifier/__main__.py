"""python -m services.notifier [serve]
python -m services.notifier token create --operator [--municipality CODE] [--name NAME]
python -m services.notifier token revoke TOKEN_ID | token list"""
from __future__ import annotations

import argparse
import asyncio
import sys

from services.notifier.settings import NotifierSettings
from shared.logs import setup_logging
from shared.tokens import add_token_parser


async def _serve(settings: NotifierSettings) -> None:
    from services.notifier.api import create_app
    from services.notifier.service import NotifierService
    from shared.http import serve_until_signalled

    service = NotifierService(settings)
    await service.start()
    await serve_until_signalled(create_app(service), settings.http_host, settings.http_port, service.stop)


async def _token(settings: NotifierSettings, args: argparse.Namespace) -> int:
    from services.notifier import storage
    from services.notifier.service import MIGRATIONS
    from shared.db import make_engine, migrate
    from shared.reference import municipalities
    from shared.tokens import run_token_command

    def check(role: str, scope: str | None) -> str | None:
        if scope and scope not in municipalities():
            return f"unknown municipality code {scope}"
        return None

    engine = make_engine(settings.db_url())
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_notifier")
        return await run_token_command(engine, storage.api_tokens, args, check)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve")
    add_token_parser(sub, ["operator"], municipality_role=None)
    args = parser.parse_args(argv)
    settings = NotifierSettings()
    setup_logging(settings.log_level, settings.log_json)
    if args.command == "token":
        return asyncio.run(_token(settings, args))
    asyncio.run(_serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
