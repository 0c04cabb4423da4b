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


async def _serve(settings: CatalogueSettings) -> None:
    from services.catalogue.api import create_app
    from services.catalogue.service import CatalogueService
    from shared.http import serve_until_signalled

    service = CatalogueService(settings)
    await service.start()
    await serve_until_signalled(create_app(service), settings.http_host, settings.http_port, service.stop)


async def _token(settings: CatalogueSettings, args: argparse.Namespace) -> int:
    from services.catalogue import auth, storage
    from services.catalogue.service import MIGRATIONS
    from shared.db import make_engine, migrate
    from shared.reference import municipalities

    engine = make_engine(settings.db_url())
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_catalogue")
        async with engine.begin() as conn:
            if args.action == "create":
                if bool(args.region) == bool(args.municipality):
                    print("give either --municipality CODE or --region", file=sys.stderr)
                    return 2
                if args.municipality and args.municipality not in municipalities():
                    print(f"unknown municipality code {args.municipality}", file=sys.stderr)
                    return 2
                name = args.name or (f"region" if args.region else municipalities()[args.municipality].name)
                token = await auth.create_token(conn, name=name, municipality=args.municipality, region=args.region)
                scope = "region (any municipality)" if args.region else f"municipality {args.municipality}"
                print(f"created token {token.split('_')[1]} for {scope}; store it now, it is not shown again:")
                print(token)
            elif args.action == "revoke":
                if not await storage.revoke_token(conn, args.token_id):
                    print(f"no active token {args.token_id}", file=sys.stderr)
                    return 1
                print(f"revoked {args.token_id}")
            else:
                for t in await storage.list_tokens(conn):
                    scope = "region" if t.is_region else t.municipality_code
                    state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
                    print(f"{t.id}\t{scope}\t{t.name}\t{t.created_at:%Y-%m-%d %H:%M}\t{state}")
    finally:
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalogue", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve")
    tok = sub.add_parser("token")
    tsub = tok.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create")
    create.add_argument("--municipality")
    create.add_argument("--region", action="store_true")
    create.add_argument("--name")
    revoke = tsub.add_parser("revoke")
    revoke.add_argument("token_id")
    tsub.add_parser("list")
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
