"""Remove what test and benchmark runs left on the local broker.

    python -m scripts.broker_tidy          (make setup runs it)

Each run of the tests or benchmarks declares its own queues (`test.<run>.…`, `e2e.<run>.…`,
`bench.<run>.…`) in the vhost and deletes them at the end; a run that was killed cannot. Every
one is a quorum queue, and a broker holding thousands of them grows slow until it stops answering,
which is how a whole CI run once hung. A run's queues go only when none of them has a consumer, so
a run going on beside this one keeps its queues (its retry and parking queues included).
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys

from shared.broker import VHOST

RUN_PREFIXES = ("test.", "e2e.", "bench.")
GUEST_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"


def _ctl(*args: str) -> list[str]:
    out = subprocess.run(["rabbitmqctl", *args, "-p", VHOST, "-q", "--no-table-headers"],
                         capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t")[0] for line in out.stdout.splitlines() if line.strip()]


def queues(prefix: str) -> list[str]:
    return sorted(n for n in _ctl("list_queues", "name") if n.startswith(prefix))


def run_of(queue: str) -> str:
    return ".".join(queue.split(".")[:2])  # test.<run>.search.embed -> test.<run>


def left_behind(prefixes: tuple[str, ...] = RUN_PREFIXES) -> list[str]:
    """Queues of runs (`<kind>.<run>.…`) none of whose queues has a consumer. (list_consumers, not
    list_queues' consumer count: that one lags seconds behind on quorum queues.)"""
    consumed = {run_of(q) for q in _ctl("list_consumers", "queue_name")}
    return sorted(q for q in _ctl("list_queues", "name") if q.startswith(prefixes) and run_of(q) not in consumed)


async def delete(names: list[str], exchanges: list[str] = (), url: str = GUEST_URL) -> None:
    import aio_pika

    conn = await aio_pika.connect(url)
    try:
        for kind, name in [("queue", n) for n in names] + [("exchange", n) for n in exchanges]:
            ch = await conn.channel()  # a failed delete closes its channel
            try:
                await (ch.queue_delete(name) if kind == "queue" else ch.exchange_delete(name))
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass
    finally:
        await conn.close()


def tidy(prefixes: tuple[str, ...] = RUN_PREFIXES) -> int:
    left = left_behind(prefixes)
    if left:
        asyncio.run(delete(left))
    return len(left)


def main() -> int:
    if shutil.which("rabbitmqctl") is None:
        return 0
    if removed := tidy():
        print(f"broker tidy: removed {removed} queues that earlier test or benchmark runs left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
