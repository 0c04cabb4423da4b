"""python -m services.search [serve]      the search service (builds no model: `make setup` does)
python -m services.search embed-worker [--port 8086]   only embed texts from the shared queue (EMBED_DEVICE)
python -m services.search check-index    does the running search index hold exactly what the catalogue has?"""
import argparse
import asyncio
import ctypes
import sys

from services.search.api import create_app
from services.search.service import SearchService
from services.search.settings import SearchSettings
from shared.cli import service_main


def _commands(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("embed-worker", help="embed texts from the shared queue; no index, no searches")
    worker.add_argument("--port", type=int, default=8086, help="for /healthz, /readyz and /metrics")
    sub.add_parser("check-index", help="compare the running search service's index with the catalogue "
                                       "(SEARCH_URL, CATALOGUE_URL); exit code 1 when they differ")


def _run(args: argparse.Namespace, settings: SearchSettings) -> int:
    if args.command == "embed-worker":
        from services.search.worker import EmbedWorkerService, create_worker_app
        from shared.cli import serve

        asyncio.run(serve(settings.model_copy(update={"http_port": args.port}), EmbedWorkerService,
                          create_worker_app))
        return 0
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
