"""Embed each distinct text once per cluster.

A replica that meets a text whose vector is not stored asks for it with `search.embed_requested` on
one shared queue; whichever embed worker takes the message (competing consumers) claims the text in
the shared table, embeds it, stores the vector and announces it with `search.text_embedded`, which
every replica receives on its own queue. A worker runs inside each search process by default, or on
its own (`python -m services.search embed-worker`, e.g. on a GPU node).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from datetime import timedelta

import numpy as np
from prometheus_client import Counter

from services.search import storage
from services.search.embedder import Embedder, text_key
from shared.bus import Bus, PermanentError
from shared.db import Writer
from shared.events import EmbeddedPayload, SearchEmbedRequested, SearchTextEmbedded
from shared.logs import correlation_id

log = logging.getLogger(__name__)
TEXTS_EMBEDDED = Counter("vux_search_texts_embedded", "Distinct passages this process embedded")
EMBED_QUEUE = "search.embed"
PRODUCER = "search"


def signature_of(embedder: Embedder) -> str:
    """Short and stable: vectors from another model or another token cap are never mixed."""
    return hashlib.sha256(embedder.signature.encode()).hexdigest()[:16]


def encode_vector(v: np.ndarray) -> str:
    return base64.b64encode(v.astype("<f4").tobytes()).decode()


def decode_vector(s: str, dim: int) -> np.ndarray:
    raw = base64.b64decode(s, validate=True)
    if len(raw) != dim * 4:
        raise ValueError(f"a vector of {len(raw) // 4} numbers, not {dim}")
    v = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(v).all() or abs(float(v @ v) - 1.0) > 1e-3:
        raise ValueError("not a unit vector")
    return v


def request(signature: str, key: str, text: str) -> SearchEmbedRequested:
    return SearchEmbedRequested(producer=PRODUCER, correlation_id=correlation_id.get(),
                                payload={"signature": signature, "key": key, "text": text})


class EmbedWorker:
    def __init__(self, engine, writer: Writer, bus: Bus, embedder: Embedder,  # noqa: ANN001 - AsyncEngine
                 stale_after_s: float = 60.0) -> None:
        self.engine, self.writer, self.bus, self.embedder = engine, writer, bus, embedder
        self.signature = signature_of(embedder)
        self.stale_after = timedelta(seconds=stale_after_s)

    async def handle(self, event: SearchEmbedRequested) -> None:
        p = event.payload
        if p.signature != self.signature:
            raise PermanentError(f"asked for model {p.signature}; this worker has {self.signature}")
        if text_key(p.text) != p.key:
            raise PermanentError(f"key {p.key} is not the key of the text sent")
        async with self.engine.connect() as conn:
            have = await storage.stored(conn, self.signature, [p.key])
        if have:  # made meanwhile (or asked twice): say so again for whoever asked
            await self.announce(p.key, have[p.key])
            return
        async with self.writer.begin() as conn:
            mine = await storage.claim(conn, self.signature, p.key, self.stale_after)
        if not mine:
            return  # another worker is on it; a replica still waiting asks again later
        # Shielded: when the broker connection drops, the consumer's task is cancelled, but a text
        # claimed is embedded and stored all the same (else its claim would block it until stale).
        vector = await asyncio.shield(self._embed_and_store(p.key, p.text))
        await self.announce(p.key, vector)

    async def _embed_and_store(self, key: str, text: str) -> np.ndarray:
        vector = await self.embedder.passage(text)  # batched with the other requests arriving now
        async with self.writer.begin() as conn:
            await storage.store(conn, self.signature, key, vector)
        TEXTS_EMBEDDED.inc()
        return vector

    async def announce(self, key: str, vector: np.ndarray) -> None:
        await self.bus.publish(SearchTextEmbedded(
            producer=PRODUCER, correlation_id=correlation_id.get(),
            payload=EmbeddedPayload(signature=self.signature, key=key, vector=encode_vector(vector))))
