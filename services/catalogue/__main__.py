"""python -m services.catalogue [serve]                      run the service
python -m services.catalogue token create --municipality 2480 [--name NAME]
python -m services.catalogue token create --region [--name NAME]
python -m services.catalogue token revoke TOKEN_ID
python -m services.catalogue token list
python -m services.catalogue demo-feeds OUT_DIR            write the demo feeds"""
from __future__ import annotations

import argparse
import asyncio
import sys

from services.catalogue.settings import CatalogueSettings
from shared.logs import setup_logging
from shared.tokens import add_token_parser


async def _serve(settings: CatalogueSettings) -> None:
    from services.catalogue.api import create_app
    from services.catalogue.service import CatalogueService
    from shared.http import serve_until_signalled

    service = CatalogueService(settings)
    await service.start()
    await serve_until_signalled(create_app(service), settings.http_host, settings.http_port, service.stop)


async def _token(settings: CatalogueSettings, args: argparse.Namespace) -> int:
    from services.catalogue import storage
    from services.catalogue.auth import check_scope
    from services.catalogue.service import MIGRATIONS
    from shared.db import make_engine, migrate
    from shared.tokens import run_token_command

    engine = make_engine(settings.db_url())
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_catalogue")
        return await run_token_command(engine, storage.api_tokens, args, check_scope)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalogue", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve")
    add_token_parser(sub, ["region"], municipality_role="municipality")
    demo = sub.add_parser("demo-feeds")
    demo.add_argument("out_dir")
    demo.add_argument("--occurrences", type=int, default=None, help="scale to about this many occurrences")
    args = parser.parse_args(argv)
    settings = CatalogueSettings()
    setup_logging(settings.log_level, settings.log_json)
    if args.command == "token":
        return asyncio.run(_token(settings, args))
    if args.command == "demo-feeds":
        from services.catalogue.demo import write_feeds

        for path in write_feeds(args.out_dir, target_occurrences=args.occurrences):
            print(path)
        return 0
    asyncio.run(_serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
