"""The command line every service has: `python -m services.NAME [serve | token ...]`."""
from __future__ import annotations

import argparse
import asyncio

from typing import Callable

from shared.logs import setup_logging
from shared.tokens import add_token_parser, run_token_command


def service_main(
    *,
    doc: str,
    settings_cls,  # noqa: ANN001
    service_cls,  # noqa: ANN001
    create_app: Callable,
    token_table,  # noqa: ANN001
    roles: list[str],
    municipality_role: str | None = None,
    check_scope: Callable | None = None,
    extra_commands: Callable[[argparse._SubParsersAction], None] | None = None,
    run_extra: Callable[[argparse.Namespace, object], int] | None = None,
    argv: list[str] | None = None,
) -> int:
    name = service_cls.name
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (the default)")
    if token_table is not None:
        add_token_parser(sub, roles, municipality_role)
    parked = sub.add_parser("parked", help="messages that could not be handled").add_subparsers(
        dest="parked_action", required=True)
    parked.add_parser("list", help="how many messages wait in each parking queue, with their reasons")
    replay = parked.add_parser("replay", help="move parked messages back to their queue (after the fix)")
    replay.add_argument("queue", nargs="?", help="one subscription queue (default: all of this service's)")
    replay.add_argument("--limit", type=int, default=None)
    if extra_commands:
        extra_commands(sub)
    args = parser.parse_args(argv)
    settings = settings_cls()
    setup_logging(settings.log_level, settings.log_json)
    if args.command == "token":
        return asyncio.run(_token(settings, service_cls, token_table, args, check_scope))
    if args.command == "parked":
        return asyncio.run(_parked(settings, service_cls, args))
    if args.command not in (None, "serve"):
        return run_extra(args, settings)
    asyncio.run(serve(settings, service_cls, create_app))
    return 0


async def serve(settings, service_cls, create_app) -> None:  # noqa: ANN001
    """Run one service with its HTTP API until SIGINT/SIGTERM."""
    from shared.http import serve_until_signalled

    service = service_cls(settings)
    await service.start()
    await serve_until_signalled(create_app(service), settings.http_host, settings.http_port, service.stop)


async def _token(settings, service_cls, table, args, check_scope) -> int:  # noqa: ANN001
    from shared.db import make_engine, migrate

    engine = make_engine(settings.db_url())
    try:
        await migrate(engine, service_cls.migrations, f"alembic_version_{service_cls.name}")
        return await run_token_command(engine, table, args, check_scope)
    finally:
        await engine.dispose()



async def _parked(settings, service_cls, args) -> int:  # noqa: ANN001
    """`parked list` and `parked replay`: the operator's way back for messages that failed for good."""
    service = service_cls(settings)
    service.register_handlers()
    bus = service.bus
    queues = [sub.queue for sub in bus.subscriptions]
    if getattr(args, "queue", None):
        if args.queue not in queues:
            print(f"unknown queue {args.queue!r}; this service's queues: {', '.join(queues)}")
            return 2
        queues = [args.queue]
    await bus.connect()
    try:
        for q in queues:
            if args.parked_action == "list":
                for line in await bus.parked_summary(q):
                    print(line)
            else:
                n = await bus.replay_parked(q, args.limit)
                print(f"{q}: {n} message(s) moved back for another try")
    finally:
        await bus.close()
        await service.engine.dispose()
    return 0
