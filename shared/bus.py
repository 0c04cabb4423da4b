"""The message bus: a RabbitMQ topic exchange with confirmed publishing and safe consuming.

Publishing waits for the broker's confirm; messages are persistent. Each subscription owns a
durable quorum queue bound to the events exchange, one delay queue per retry step (a TTL that
dead-letters back into the main queue) and a parking queue. A message is acked only once its
handler succeeded or once a copy of it sits, confirmed, in a retry or parking queue. A body that
is not a valid event is parked at once with the reason. Robust connections restore channels,
queues and consumers after the broker restarts.

Every message carries its publisher's broker user in `user_id`, which RabbitMQ checks against the
connection's login; a consumer parks an event whose user is not the one allowed to produce that
type (shared/events.py PRODUCERS). A message this service moved to its own retry or parking queue
keeps its first publisher's user in the header `x-producer-user`, believed only when the message
comes from this service's own user.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable, Mapping
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from pydantic import ValidationError

from shared.events import PRODUCERS, Envelope, parse_event
from shared.logs import correlation_id
from shared.metrics import MESSAGES, PUBLISHED

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message is parked at once."""


@dataclass
class Subscription:
    queue: str
    routing_keys: list[str]
    handler: Handler
    names: dict[str, str] = field(default_factory=dict)


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` is zero or more."""
    p, k = pattern.split("."), key.split(".")
    if not p:
        return not k
    if p[0] == "#":
        return any(topic_matches(".".join(p[1:]), ".".join(k[i:])) if p[1:] else True for i in range(len(k) + 1))
    return bool(k) and p[0] in ("*", k[0]) and (topic_matches(".".join(p[1:]), ".".join(k[1:])) if p[1:] else
                                                len(k) == 1)


def quorum_args(**extra) -> dict:
    return {"x-queue-type": "quorum", **extra}


def _short(exc: BaseException, limit: int = 1500) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Bus:
    def __init__(
        self,
        url: str,
        *,
        producer: str,
        exchange: str = "vux.events",
        queue_prefix: str = "",
        retry_delays_s: list[float] | None = None,
        prefetch: int = 32,
        publish_timeout_s: float = 15.0,
        producers: Mapping[str, str] | None = PRODUCERS,
    ) -> None:
        self.url = url
        self.producer = producer
        # The broker user this process speaks as (RabbitMQ validates the user_id it stamps on messages).
        self.user = unquote(urlsplit(url).username or "guest")
        # Event type -> the broker user allowed to publish it; None trusts every publisher (tools only).
        self.producers = producers
        self.exchange_name = exchange
        self.queue_prefix = queue_prefix
        self.retry_delays_s = list(retry_delays_s if retry_delays_s is not None else [1.0, 5.0, 30.0])
        self.prefetch = prefetch
        self.publish_timeout_s = publish_timeout_s
        self.subscriptions: list[Subscription] = []
        self._conn: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self.consuming = False  # every subscription's queues declared and its consumer started

    # --- lifecycle ------------------------------------------------------------------------

    async def connect(self, timeout: float | None = None) -> None:
        """Connect (retrying until `timeout`, forever if None) and declare the exchange."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.5
        while True:
            try:
                self._conn = await aio_pika.connect_robust(
                    self.url, client_properties={"connection_name": self.producer}, timeout=10
                )
                break
            except (OSError, aio_pika.exceptions.AMQPError, asyncio.TimeoutError) as exc:
                if deadline is not None and loop.time() + delay > deadline:
                    raise
                log.warning("broker not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        self._channel = await self._conn.channel(publisher_confirms=True)
        self._exchange = await self._channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def close(self, timeout: float = 10.0) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # A robust connection in the middle of reconnecting can wait on the broker for a
                # long time; a stopping service must not.
                await asyncio.wait_for(conn.close(), timeout)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
                log.warning("closing the broker connection did not finish cleanly: %r", exc)

    @property
    def connected(self) -> bool:
        return (
            self._conn is not None
            and not self._conn.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    # --- publishing -----------------------------------------------------------------------

    async def publish(self, event: Envelope) -> None:
        await self.publish_raw(
            event.to_json(), routing_key=event.type, message_id=str(event.event_id),
            correlation_id=event.correlation_id, event_type=event.type,
        )

    async def publish_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        correlation_id: str | None = None,
        event_type: str | None = None,
        headers: dict | None = None,
        exchange: str | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raises if the broker did not take it."""
        if self._channel is None or self._exchange is None:
            raise RuntimeError("bus is not connected")
        msg = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            correlation_id=correlation_id,
            type=event_type,
            app_id=self.producer,
            user_id=self.user,
            timestamp=datetime.now(timezone.utc),
            headers=headers or {},
        )
        target = self._exchange if exchange is None else self._channel.default_exchange
        # mandatory=False: an event nobody subscribes to yet is not an error for the producer.
        await target.publish(msg, routing_key=routing_key, mandatory=False, timeout=self.publish_timeout_s)
        PUBLISHED.labels(self.producer).inc()

    # --- consuming ------------------------------------------------------------------------

    def subscribe(self, queue: str, routing_keys: list[str]):
        """Decorator: `@bus.subscribe("search.catalogue", ["course.*"])` over an async handler."""

        def deco(handler: Handler) -> Handler:
            self.subscriptions.append(Subscription(queue, routing_keys, handler))
            return handler

        return deco

    def queue_names(self, queue: str) -> dict[str, str]:
        main = f"{self.queue_prefix}{queue}"
        names = {"main": main, "parking": f"{main}.parking"}
        for i in range(len(self.retry_delays_s)):
            names[f"retry{i + 1}"] = f"{main}.retry.{i + 1}"
        return names

    async def start_consuming(self) -> None:
        if self._conn is None:
            raise RuntimeError("bus is not connected")
        self._consume_channel = await self._conn.channel(publisher_confirms=True)
        await self._consume_channel.set_qos(prefetch_count=self.prefetch)
        exchange = await self._consume_channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for sub in self.subscriptions:
            sub.names = self.queue_names(sub.queue)
            main = sub.names["main"]
            for i, delay in enumerate(self.retry_delays_s):
                await self._consume_channel.declare_queue(
                    sub.names[f"retry{i + 1}"],
                    durable=True,
                    arguments=quorum_args(**{
                        "x-message-ttl": int(delay * 1000),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": main,
                        # A delayed message must not be lost on its way back.
                        "x-dead-letter-strategy": "at-least-once",
                        "x-overflow": "reject-publish",
                    }),
                )
            await self._consume_channel.declare_queue(sub.names["parking"], durable=True, arguments=quorum_args())
            q = await self._consume_channel.declare_queue(main, durable=True, arguments=quorum_args())
            for key in sub.routing_keys:
                await q.bind(exchange, routing_key=key)
            await q.consume(self._consumer_for(sub))
            log.info("consuming %s (%s)", main, ", ".join(sub.routing_keys))
        self.consuming = True

    def _consumer_for(self, sub: Subscription):  # noqa: ANN202
        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._dispatch(sub, message)

        return on_message

    def sender(self, message: AbstractIncomingMessage) -> str:
        """The broker user that first published the message ("" when it carries none)."""
        user = message.user_id or ""
        if user == self.user and "x-producer-user" in (message.headers or {}):
            return str(message.headers["x-producer-user"])  # moved by this service: its first publisher
        return user

    async def _dispatch(self, sub: Subscription, message: AbstractIncomingMessage) -> None:
        headers = message.headers or {}
        retries = int(headers.get("x-retries", 0) or 0)
        queue = sub.names["main"]
        sender = self.sender(message)
        try:
            event = parse_event(message.body)
        except ValidationError as exc:
            await self._move(message, sub.names["parking"], retries, sender=sender,
                             reason=f"invalid message: {_short(exc)}", outcome="parked", queue=queue)
            return
        if not any(topic_matches(key, event.type) for key in sub.routing_keys):
            # Bound by mistake, or published to the queue directly: kept for a person to look at.
            await self._move(message, sub.names["parking"], retries, sender=sender, outcome="parked", queue=queue,
                             reason=f"event type {event.type!r} is not one this queue subscribes to "
                                    f"({', '.join(sub.routing_keys)})")
            return
        if self.producers is not None and sender != self.producers.get(event.type):
            # A forged or misrouted event: kept for a person to look at, never handled.
            await self._move(message, sub.names["parking"], retries, sender=sender, outcome="parked", queue=queue,
                             reason=f"event type {event.type!r} may only come from broker user "
                                    f"{self.producers.get(event.type)!r}; this one came from {sender or 'no user'!r}")
            return
        token = correlation_id.set(event.correlation_id)
        try:
            await sub.handler(event)
        except PermanentError as exc:
            await self._move(message, sub.names["parking"], retries, reason=f"rejected by handler: {_short(exc)}",
                             outcome="parked", queue=queue, sender=sender)
        except Exception as exc:  # noqa: BLE001 - every failure is retried, then parked
            if retries < len(self.retry_delays_s):
                log.warning("handler failed for %s (attempt %d), retrying: %s", event.type, retries + 1, _short(exc))
                await self._move(message, sub.names[f"retry{retries + 1}"], retries + 1,
                                 reason=_short(exc), outcome="retried", queue=queue, sender=sender)
            else:
                log.error("handler failed for %s after %d retries, parking: %s", event.type, retries, _short(exc))
                await self._move(message, sub.names["parking"], retries, sender=sender,
                                 reason=f"failed after {retries} retries: {_short(exc)}", outcome="parked", queue=queue)
        else:
            await self._settle(message.ack)
            MESSAGES.labels(self.producer, queue, "ok").inc()
        finally:
            correlation_id.reset(token)

    async def _move(self, message: AbstractIncomingMessage, target: str, retries: int, *, reason: str,
                    outcome: str, queue: str, sender: str) -> None:
        """Copy the message to a retry or parking queue (confirmed), then ack the original."""
        headers = dict(message.headers or {})
        headers.update({
            "x-producer-user": sender,
            "x-retries": retries,
            "x-error": reason,
            "x-original-queue": queue,
            "x-original-routing-key": message.routing_key or "",
            "x-moved-at": datetime.now(timezone.utc).isoformat(),
        })
        if outcome == "parked":
            headers["x-parked-reason"] = reason
        try:
            await self.publish_raw(
                message.body, routing_key=target, message_id=message.message_id or "",
                correlation_id=message.correlation_id, event_type=message.type, headers=headers, exchange="",
            )
        except Exception as exc:  # noqa: BLE001 - broker trouble: leave it unacked, it comes back
            log.warning("could not move message to %s (%s); it will be redelivered", target, exc)
            await self._settle(lambda: message.nack(requeue=True))
            return
        await self._settle(message.ack)
        MESSAGES.labels(self.producer, queue, outcome).inc()

    @staticmethod
    async def _settle(fn) -> None:  # noqa: ANN001
        # After a reconnect the delivery tag is stale; the broker redelivers that message anyway.
        try:
            await fn()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not settle message: %s", exc)

    # --- operations ---------------------------------------------------------------------------

    async def parked(self, queue: str, peek: int = 20) -> dict:
        """A parking queue's count, and the first `peek` messages' reasons (left in place, in order)."""
        if self._channel is None:
            raise RuntimeError("bus is not connected")
        names = self.queue_names(queue)
        ch = await self._conn.channel()
        messages = []
        try:
            parking = await ch.declare_queue(names["parking"], durable=True, arguments=quorum_args())
            count = parking.declaration_result.message_count
            for _ in range(min(count, peek)):
                msg = await parking.get(no_ack=False, fail=False)
                if msg is None:
                    break
                h = msg.headers or {}
                messages.append({"message_id": msg.message_id or "", "type": msg.type or "",
                                 "reason": str(h.get("x-parked-reason", "?"))[:200],
                                 "moved_at": str(h.get("x-moved-at", "")), "producer": str(h.get("x-producer-user", ""))})
        finally:
            await ch.close()  # unacked peeks go back to the queue, in order
        return {"queue": queue, "parking": names["parking"], "count": count, "messages": messages}

    async def parked_summary(self, queue: str, peek: int = 20) -> list[str]:
        """A line per parking queue and per distinct reason among its first `peek` messages."""
        p = await self.parked(queue, peek)
        reasons: dict[str, int] = {}
        for m in p["messages"]:
            reasons[m["reason"]] = reasons.get(m["reason"], 0) + 1
        lines = [f"{p['parking']}: {p['count']} parked"]
        lines += [f"  {n} x {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
        return lines

    async def replay_parked(self, queue: str, limit: int | None = None) -> int:
        """Move parked messages back into their main queue (after the cause is fixed)."""
        if self._channel is None:
            raise RuntimeError("bus is not connected")
        names = self.queue_names(queue)
        # The main queue must exist, or the default exchange would drop what is moved back.
        await self._channel.declare_queue(names["main"], durable=True, arguments=quorum_args())
        parking = await self._channel.declare_queue(names["parking"], durable=True, arguments=quorum_args())
        moved = 0
        while limit is None or moved < limit:
            msg = await parking.get(no_ack=False, fail=False)
            if msg is None:
                break
            headers = {k: v for k, v in (msg.headers or {}).items()
                       if not k.startswith("x-") or k == "x-producer-user"}
            await self.publish_raw(msg.body, routing_key=names["main"], message_id=msg.message_id or "",
                                   correlation_id=msg.correlation_id, event_type=msg.type, headers=headers,
                                   exchange="")
            await msg.ack()
            moved += 1
        return moved
