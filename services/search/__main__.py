"""python -m services.search [serve]      the search service and the chat page (builds no model: `make setup` does)
python -m services.search counsellor create USERNAME --name NAME [--email E]   (password from stdin, or generated)
python -m services.search counsellor disable USERNAME
python -m services.search check-index    does the running search index hold exactly what the catalogue has?"""
import argparse
import asyncio
import ctypes
import secrets
import sys

from services.search.api import create_app
from services.search.service import MIGRATIONS, SearchService
from services.search.settings import SearchSettings
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
    sub.add_parser("check-index", help="compare the running search service's index with the catalogue "
                                       "(SEARCH_URL, CATALOGUE_URL); exit code 1 when they differ")


def _run(args: argparse.Namespace, settings: SearchSettings) -> int:
    if args.command == "check-index":
        import json

        import aiohttp

        from services.search.index_check import check

        try:
            report = asyncio.run(check(settings.search_url, settings.catalogue_url))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            print(json.dumps({"equal": False, "error": f"could not compare: {type(exc).__name__}: {exc}"}))
            return 2
        print(json.dumps(report, ensure_ascii=False))
        return 0 if report["equal"] else 1
    from services.search.chat import create_counsellor, disable_counsellor
    from shared.db import make_engine, migrate

    async def go() -> int:
        engine = make_engine(settings.db_url())
        try:
            await migrate(engine, MIGRATIONS, "alembic_version_search")
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


def _few_malloc_arenas() -> None:
    """Embedding runs in worker threads; glibc gives each its own arena and the process swells by
    hundreds of MB of free-but-kept memory. Two arenas keep resident memory near what is in use."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


if __name__ == "__main__":
    _few_malloc_arenas()
    sys.exit(service_main(doc=__doc__, settings_cls=SearchSettings, service_cls=SearchService,
                          create_app=create_app, token_table=None, roles=[], extra_commands=_commands,
                          run_extra=_run))
