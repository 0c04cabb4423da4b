"""The search service: keeps a complete index of the catalogue in memory, reads learners' texts and
answers searches. It keeps no conversations (the guidance service does).

Each replica has its own queue for the catalogue's events and builds its index from the catalogue's
read API at start. A text is embedded once in the whole cluster (embedding.py): its vector is taken
from the shared table when stored, else asked for, and the document waits until the vector arrives.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import aiohttp
import numpy as np
from prometheus_client import Gauge

from services.search import handlers, ranking, storage, understanding
from services.search.embedder import Embedder, text_key
from services.search.embedding import EmbedWorker, decode_vector, request, signature_of
from services.search.index import SearchIndex, doc_text
from services.search.index_check import digest
from services.search.settings import SearchSettings
from shared.bus import PermanentError
from shared.events import CourseDoc, EmbeddedPayload, Envelope, LearningCentreDoc, ValidationOfferDoc
from shared.service import BusService

log = logging.getLogger(__name__)
INDEX_SIZE = Gauge("vux_search_index_documents", "Documents in this replica's index", ["kind"])
INDEX_TEXTS = Gauge("vux_search_index_texts", "Distinct texts (vectors) in this replica's index")
WAITING = Gauge("vux_search_waiting_documents", "Documents waiting for their text's vector")
MIGRATIONS = Path(__file__).parent / "migrations"
EVENT_KINDS = {"course": "course", "validation_offer": "validation", "learning_centre": "learning_centre"}
DOC_MODELS = {"course": CourseDoc, "validation": ValidationOfferDoc, "learning_centre": LearningCentreDoc}
ASK_AGAIN_S = 30.0  # a text asked for and not announced by then is asked for again (a worker died)


def _newer(a: str, b: str | None) -> bool:
    return b is None or datetime.fromisoformat(a) > datetime.fromisoformat(b)


@dataclass
class Waiting:
    key: str
    text: str
    doc: dict
    version: str


class SearchService(BusService):
    name = "search"
    migrations = MIGRATIONS  # the vectors shared by all replicas and workers

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__(settings)
        self.embedder: Embedder | None = None
        self.worker: EmbedWorker | None = None
        self.index: SearchIndex | None = None
        self.signature = ""
        self.caught_up = asyncio.Event()
        self._ready = False
        self.waiting: dict[tuple[str, str], Waiting] = {}  # documents whose vector is on its way
        self._waiting_by_key: dict[str, set[tuple[str, str]]] = {}
        self._asked: dict[str, float] = {}  # key -> when it was last asked for
        self._lock = asyncio.Lock()  # index changes one at a time

    def register_handlers(self) -> None:
        handlers.register(self.bus, self, self.settings.instance_name, self.settings.embed_worker)

    async def on_start(self) -> None:
        self.embedder = await asyncio.to_thread(Embedder, self.settings.embedding_model,
                                                self.settings.max_passage_tokens, self.settings.query_backend,
                                                self.settings.embed_device, self.settings.passage_backend)
        self.signature = signature_of(self.embedder)
        self.index = SearchIndex(self.embedder.dim, self.signature)
        if self.settings.embed_worker:
            self.worker = EmbedWorker(self.engine, self.writer, self.bus, self.embedder)
        self._count()
        self.spawn(self._catch_up_forever(), "search-catch-up")
        self.spawn(self._ask_again_forever(), "search-ask-again")

    async def db_ready(self) -> bool:
        # Ready once caught up with every vector in hand; after that a feed push waiting for its
        # vectors does not take the replica out of service.
        if not self._ready:
            self._ready = self.index is not None and self.caught_up.is_set() and not self.waiting
        return self._ready

    # --- keeping the index ----------------------------------------------------------------------

    def _version(self, kind: str, rid: str) -> str | None:
        w = self.waiting.get((kind, rid))
        return w.version if w else self.index.version(kind, rid)

    def _wait(self, kind: str, rid: str, w: Waiting) -> None:
        self._unwait(kind, rid)
        self.waiting[(kind, rid)] = w
        self._waiting_by_key.setdefault(w.key, set()).add((kind, rid))

    def _unwait(self, kind: str, rid: str) -> None:
        w = self.waiting.pop((kind, rid), None)
        if w is not None:
            holders = self._waiting_by_key.get(w.key, set())
            holders.discard((kind, rid))
            if not holders:
                self._waiting_by_key.pop(w.key, None)

    async def apply(self, kind: str, doc: dict, version: str) -> bool:
        return await self.apply_many([(kind, doc, version)]) == 1

    async def apply_many(self, items: list[tuple[str, dict, str]]) -> int:
        """Documents into the index: at once when their text's vector is known or stored, else once
        it is announced (asked for here)."""
        todo = []
        for kind, doc, version in items:
            if _newer(version, self._version(kind, doc["id"])):
                text = doc_text(kind, doc)
                todo.append((kind, doc, version, text, text_key(text)))
        missing = sorted({key for *_, key in todo if not self.index.has_vector(key)})
        found: dict[str, np.ndarray] = {}
        if missing:
            async with self.engine.connect() as conn:
                found = await storage.stored(conn, self.signature, missing)
        ask: dict[str, str] = {}
        done = 0
        async with self._lock:
            for kind, doc, version, text, key in todo:
                if not _newer(version, self._version(kind, doc["id"])):
                    continue  # a newer one came meanwhile
                done += 1
                if self.index.has_vector(key) or key in found:
                    self._unwait(kind, doc["id"])
                    self.index.put(kind, doc["id"], doc, key, text, found.get(key), version)
                else:
                    self._wait(kind, doc["id"], Waiting(key, text, doc, version))
                    ask[key] = text
        self._count()
        for key, text in ask.items():
            await self._ask(key, text)
        return done

    async def _ask(self, key: str, text: str) -> None:
        if time.monotonic() - self._asked.get(key, -ASK_AGAIN_S) < ASK_AGAIN_S:
            return  # asked a moment ago
        try:
            await self.bus.publish(request(self.signature, key, text))
            self._asked[key] = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - the broker may be away: asked again later
            log.warning("could not ask for a vector (%s); asking again later", type(exc).__name__)

    async def _ask_again_forever(self, every_s: float = 10.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            for key, holders in list(self._waiting_by_key.items()):
                w = self.waiting.get(next(iter(holders))) if holders else None
                if w is not None:
                    await self._ask(key, w.text)

    async def vector_arrived(self, p: EmbeddedPayload) -> None:
        """An embed worker announced a vector: the documents waiting for it go into the index."""
        if p.signature != self.signature or p.key not in self._waiting_by_key:
            return  # another model's, or not needed here (had it already)
        try:
            vector = decode_vector(p.vector, self.index.dim)
        except ValueError as exc:
            raise PermanentError(f"vector of {p.key}: {exc}") from None
        async with self._lock:
            for kind, rid in sorted(self._waiting_by_key.get(p.key, ())):
                w = self.waiting[(kind, rid)]
                self._unwait(kind, rid)
                self.index.put(kind, rid, w.doc, w.key, w.text, vector, w.version)
        self._asked.pop(p.key, None)
        self._count()
        if not self.waiting:
            # A burst of changes is in: its documents are long-lived, so keep them out of the cyclic
            # garbage collector's full passes (30-50 ms pauses on the query path otherwise).
            gc.freeze()

    async def withdraw(self, kind: str, rid: str, version: str) -> bool:
        async with self._lock:
            if not _newer(version, self._version(kind, rid)):
                return False
            waited = self.waiting.get((kind, rid)) is not None
            self._unwait(kind, rid)
            removed = self.index.remove(kind, rid)
        self._count()
        return removed or waited

    def _count(self) -> None:
        for kind, n in self.index.counts.items():
            INDEX_SIZE.labels(kind).set(n)
        INDEX_TEXTS.set(len(self.index.vectors))
        WAITING.set(len(self.waiting))

    async def _catch_up_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                while not self.bus.consuming:  # announcements of vectors must reach us from now on
                    await asyncio.sleep(0.1)
                n = await self.catch_up()
                log.info("caught up with the catalogue: %d documents; %d in the index, %d waiting for vectors",
                         n, len(self.index), len(self.waiting))
                # The index is hundreds of thousands of long-lived objects; leaving them out of the cyclic
                # garbage collector's full passes removes 30-50 ms pauses from the query path.
                gc.freeze()
                self.caught_up.set()
                return
            except Exception as exc:  # noqa: BLE001 - the catalogue may be starting too
                log.warning("catch-up from %s failed (%s); retrying in %.0fs", self.settings.catalogue_url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def catch_up(self) -> int:
        base = self.settings.catalogue_url.rstrip("/")
        changed = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            params = {"status": "all", "limit": str(self.settings.catchup_page_size)}
            while True:
                async with http.get(f"{base}/v1/courses", params=params) as r:
                    r.raise_for_status()
                    page = await r.json()
                items, gone = [], []
                for c in page["items"]:
                    version = c.pop("updated_at")
                    if c.pop("status") == "withdrawn":
                        gone.append((c["id"], version))
                    else:
                        items.append(("course", CourseDoc.model_validate(c).model_dump(mode="json"), version))
                changed += await self.apply_many(items)
                for rid, version in gone:
                    changed += await self.withdraw("course", rid, version)
                if not page["next"]:
                    break
                params["cursor"] = page["next"]
            # Validation offers and learning centres are few: take the whole list each time.
            now = datetime.now().astimezone().isoformat()
            for path, kind in (("/v1/validation-offers", "validation"), ("/v1/learning-centres", "learning_centre")):
                async with http.get(f"{base}{path}") as r:
                    r.raise_for_status()
                    docs = (await r.json())["items"]
                seen = {d["id"] for d in docs}
                for (k, rid) in [key for key in [*self.index.entries, *self.waiting]
                                 if key[0] == kind and key[1] not in seen]:
                    async with self._lock:
                        self._unwait(k, rid)
                        self.index.remove(k, rid)
                    changed += 1
                docs = [DOC_MODELS[kind].model_validate(d).model_dump(mode="json") for d in docs]
                fresh = [d for d in docs if (kind, d["id"]) not in self.index.entries
                         or self.index.entries[(kind, d["id"])].doc != d]
                changed += await self.apply_many([(kind, d, now) for d in fresh])
        return changed

    async def on_event(self, event: Envelope) -> None:
        kind_part, _, action = event.type.rpartition(".")
        kind = EVENT_KINDS.get(kind_part)
        if kind is None:
            return
        version = event.time.isoformat()
        if action == "upserted":
            await self.apply(kind, event.payload.model_dump(mode="json"), version)
        elif action == "withdrawn":
            await self.withdraw(kind, event.payload.id, version)

    def index_digests(self) -> dict:
        """What this replica holds, document by document (see index_check)."""
        return {"documents": {f"{k}:{rid}": digest(e.doc) for (k, rid), e in self.index.entries.items()},
                "unembedded": sorted(self.index.unembedded(text_key) + [f"{k}:{rid}" for k, rid in self.waiting])}

    # --- searching ----------------------------------------------------------------------------

    def known_occurrences(self, ids: list[str]) -> list[str]:
        return [i for i in ids if self.index is not None and self.index.has_occurrence(i)]

    async def search(self, text: str, limit: int, filters: ranking.Filters, kinds: set[str],
                     understand: bool = True, lang: str | None = None, worked: frozenset[str] = frozenset(),
                     wanted: frozenset[str] = frozenset(), path: bool = False) -> dict:
        """Ranked results; with `understand`, also what the text says (understanding.read). `worked` and
        `wanted`: SSYK-4 groups a conversation knows the learner worked in and wants, besides those the text names;
        `path`: each course comes with the earlier courses of its subject it builds on (with_prerequisites)."""
        t0 = time.perf_counter()
        reading = understanding.read(text, lang)
        expand = self.settings.expand_query
        wanted = understanding.search_text(text, reading, own_words=expand != "replace") if expand == "all" or (
            expand in ("other", "replace") and reading["lang"] != "sv") else text
        qvec = await self.embedder.query(wanted)
        depth = max(100, limit * 10)
        ranked = ranking.fuse(self.index, qvec, text, depth=depth, title_weight=self.settings.title_weight,
                              subject_weight=self.settings.subject_weight, areas=understanding.course_areas(reading),
                              area_weight=self.settings.area_weight,
                              subjects=understanding.course_stems(reading), entry_weight=self.settings.entry_weight,
                              specialisation_weight=self.settings.specialisation_weight)
        results = ranking.results(self.index, ranked, text, filters, limit, kinds, date.today())
        worked = set(worked) | {o["ssyk4"] for o in reading["experience"]}
        if "validation" in kinds and worked:
            wanted = set(wanted) | {o["ssyk4"] for o in reading["goals"]}
            results = ranking.validation_first(self.index, results, worked, text, filters, limit, wanted,
                                               understanding.areas_of())
        results = ranking.with_fit(results, self.settings.fit_floor, self.settings.fit_strong)
        if path:
            results = ranking.with_prerequisites(self.index, results, text, filters, date.today())
        results = ranking.with_nearest_centre(self.index, results, filters.home_municipality)
        out = {"results": results, "took_ms": round((time.perf_counter() - t0) * 1000, 1)}
        if understand:
            out["understood"] = reading
        return out
