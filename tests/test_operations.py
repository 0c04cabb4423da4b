"""Operator commands: parked messages are listed with their reasons and replayed after the fix."""
import os
import subprocess
import sys

import aio_pika

from tests.conftest import AMQP_URL, broker_url
from tests.processes import ROOT


def cli(env, *args):
    out = subprocess.run([sys.executable, "-m", "services.notifier", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    return out.stdout


async def test_parked_messages_are_listed_with_reasons_and_replayed(unique, tmp_path):
    prefix = f"test.{unique}."
    env = {**os.environ, "QUEUE_PREFIX": prefix, "EVENTS_EXCHANGE": f"vux.test.{unique}",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/n.db",
           "AMQP_URL": broker_url("notifier")}
    cli(env, "parked", "list")  # declares the queues, all empty
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        for i in range(2):
            await ch.default_exchange.publish(aio_pika.Message(
                b'{"type": "offer.made"}', message_id=f"m{i}",
                headers={"x-parked-reason": "invalid event: payload missing"}), routing_key=f"{prefix}notifier.mail.parking")
        listing = cli(env, "parked", "list")
        assert f"{prefix}notifier.mail.parking: 2 parked" in listing
        assert "2 x invalid event: payload missing" in listing
        out = cli(env, "parked", "replay", "notifier.mail")
        assert "notifier.mail: 2 message(s) moved back" in out
        main = await ch.declare_queue(f"{prefix}notifier.mail", passive=True)
        assert main.declaration_result.message_count == 2
        assert f"{prefix}notifier.mail.parking: 0 parked" in cli(env, "parked", "list")
    finally:
        for q in ("notifier.mail", "notifier.erasure"):
            for suffix in ("", ".parking", ".retry.1", ".retry.2", ".retry.3"):
                ch = await conn.channel()
                try:
                    await ch.queue_delete(f"{prefix}{q}{suffix}")
                except Exception:  # noqa: BLE001
                    pass
        await conn.close()
