"""Helpers the benchmarks share."""
from __future__ import annotations

import asyncio
import math
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a running process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(http: aiohttp.ClientSession, url: str, timeout: float = 300, every: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            async with http.get(url) as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(every)
    raise RuntimeError(f"{url} not ready")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(len(sorted_values) * q) - 1)]


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every service process, wait for a clean stop, kill what does not stop."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


async def drop_broker_names(amqp_url: str, queue_prefix: str, exchange: str) -> None:
    """Remove a run's queues and its exchange from the broker."""
    from scripts.broker_tidy import delete, queues

    await delete(queues(queue_prefix), [exchange], amqp_url)
