"""The search service: keeps its own complete index of the catalogue, reads learners' texts and answers
searches. It keeps no conversations (the guidance service does) and no database of its own.

Each replica has its own queue bound to the catalogue's events and its own index on disk, so a
restart does not re-embed; an empty or stale index catches up by paging the catalogue's read API.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import date, datetime

import aiohttp
import numpy as np
from prometheus_client import Gauge

from services.search import ranking, understanding
from services.search.embedder import Embedder, text_key
from services.search.index import SearchIndex, doc_text
from services.search.index_check import digest
from services.search.settings import SearchSettings
from shared.events import CourseDoc, Envelope, LearningCentreDoc, ValidationOfferDoc
from shared.service import BusService

log = logging.getLogger(__name__)
INDEX_SIZE = Gauge("vux_search_index_documents", "Documents in this replica's index", ["kind"])
INDEX_TEXTS = Gauge("vux_search_index_texts", "Distinct texts (vectors) in this replica's index")
EVENT_KINDS = {"course": "course", "validation_offer": "validation", "learning_centre": "learning_centre"}
DOC_MODELS = {"course": CourseDoc, "validation": ValidationOfferDoc, "learning_centre": LearningCentreDoc}


def _newer(a: str, b: str | None) -> bool:
    return b is None or datetime.fromisoformat(a) > datetime.fromisoformat(b)


class SearchService(BusService):
    name = "search"
    migrations = None  # the index is per replica, on disk

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__(settings)
        self.embedder: Embedder | None = None
        self.index: SearchIndex | None = None
        self.caught_up = asyncio.Event()
        self._save_task: asyncio.Task | None = None
        self._last_change = 0.0
        self._lock = asyncio.Lock()  # index changes one at a time

    def register_handlers(self) -> None:
        from services.search.handlers import register

        register(self.bus, self, self.settings.instance_name)

    async def on_start(self) -> None:
        self.embedder = await asyncio.to_thread(Embedder, self.settings.embedding_model,
                                                self.settings.max_passage_tokens, self.settings.query_backend)
        self.index = await asyncio.to_thread(SearchIndex.load, self.settings.index_path(), self.embedder.dim,
                                             self.embedder.signature)
        log.info("index loaded: %d documents", len(self.index))
        self._count()
        gc.freeze()
        self.spawn(self._catch_up_forever(), "search-catch-up")

    async def on_stop(self) -> None:
        if self.index is not None:
            await asyncio.to_thread(self.index.save, self.settings.index_path())

    async def db_ready(self) -> bool:
        return self.index is not None and self.caught_up.is_set()

    # --- keeping the index ----------------------------------------------------------------------

    async def apply(self, kind: str, doc: dict, version: str) -> bool:
        text = doc_text(kind, doc)
        key = text_key(text)
        if not _newer(version, self.index.version(kind, doc["id"])):
            return False  # an older or repeated version: what we have is newer
        # Embedded outside the lock, so the events of a feed push are embedded in batches.
        vec = None if self.index.has_vector(key) else await self.embedder.passage(text)
        async with self._lock:
            if not _newer(version, self.index.version(kind, doc["id"])):
                return False
            if vec is None and not self.index.has_vector(key):  # its twin text left meanwhile
                vec = (await self.embedder.passages([text]))[0]
            self.index.put(kind, doc["id"], doc, key, text, vec, version)
        self._schedule_save()
        return True

    async def withdraw(self, kind: str, rid: str, version: str) -> bool:
        async with self._lock:
            if not _newer(version, self.index.version(kind, rid)):
                return False
            removed = self.index.remove(kind, rid)
        if removed:
            self._schedule_save()
        return removed

    async def apply_many(self, items: list[tuple[str, dict, str]]) -> int:
        """Catch-up: many documents, their new texts embedded in batches."""
        async with self._lock:
            todo = [(k, d, v) for k, d, v in items if _newer(v, self.index.version(k, d["id"]))]
            texts = {}
            for k, d, _ in todo:
                t = doc_text(k, d)
                key = text_key(t)
                if not self.index.has_vector(key):
                    texts[key] = t
            keys = list(texts)
            vectors: dict[str, np.ndarray] = {}
            for i in range(0, len(keys), 64):
                batch = keys[i:i + 64]
                for key, v in zip(batch, await self.embedder.passages([texts[k] for k in batch])):
                    vectors[key] = v
            for k, d, v in todo:
                t = doc_text(k, d)
                key = text_key(t)
                self.index.put(k, d["id"], d, key, t, vectors.get(key), v)
        if todo:
            self._schedule_save()
        return len(todo)

    def _count(self) -> None:
        for kind, n in self.index.counts.items():
            INDEX_SIZE.labels(kind).set(n)
        INDEX_TEXTS.set(len(self.index.vectors))

    def _schedule_save(self) -> None:
        self._count()  # kept by the index as documents come and go: cheap
        self._last_change = time.monotonic()
        if self._save_task is None or self._save_task.done():
            self._save_task = self.spawn(self._save_soon(), "search-save")

    async def _save_soon(self, quiet_s: float = 2.0, at_most_s: float = 30.0) -> None:
        # A feed push is a stream of changes: save once it has been quiet for a moment (or every
        # at_most_s while it goes on), not every few seconds: each save holds the GIL for a while
        # and learners' searches wait. A crash in between only means catching up from the catalogue.
        while True:
            first = time.monotonic()
            while (quiet := time.monotonic() - self._last_change) < quiet_s and time.monotonic() - first < at_most_s:
                await asyncio.sleep(quiet_s - quiet)
            started = time.monotonic()
            async with self._lock:
                await asyncio.to_thread(self.index.save, self.settings.index_path())
            # The index is hundreds of thousands of long-lived objects; leaving them out of the cyclic
            # garbage collector's full passes removes 30-50 ms pauses from the query path.
            gc.freeze()
            if self._last_change < started:
                return  # nothing changed while saving

    async def _catch_up_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                n = await self.catch_up()
                log.info("caught up with the catalogue: %d documents changed; %d in the index", n, len(self.index))
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
            # Every course, not only those changed since the newest one we hold: events arrive out of
            # order, so a save can hold a newer course while an older change is still on its way, and
            # "since the newest" would then skip that one for good. Unchanged courses cost no embedding.
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
                for (k, rid) in [key for key in list(self.index.entries) if key[0] == kind and key[1] not in seen]:
                    async with self._lock:
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
                "unembedded": self.index.unembedded(text_key)}

    # --- searching ----------------------------------------------------------------------------

    def known_occurrences(self, ids: list[str]) -> list[str]:
        return [i for i in ids if self.index is not None and self.index.has_occurrence(i)]

    async def search(self, text: str, limit: int, filters: ranking.Filters, kinds: set[str],
                     understand: bool = True, lang: str | None = None) -> dict:
        """Ranked results; with `understand`, also what the text says (understanding.read)."""
        t0 = time.perf_counter()
        qvec = await self.embedder.query(text)
        depth = max(100, limit * 10)
        ranked = ranking.fuse(self.index, qvec, text, depth=depth, lexical_weight=self.settings.lexical_weight,
                              title_weight=self.settings.title_weight, subject_weight=self.settings.subject_weight)
        results = ranking.results(self.index, ranked, text, filters, limit, kinds, date.today())
        reading = understanding.read(text, lang)
        if "validation" in kinds and reading["experience"]:
            worked = {o["ssyk4"] for o in reading["experience"]}
            results = ranking.validation_first(self.index, results, worked, text, filters, limit)
        results = ranking.with_nearest_centre(self.index, results, filters.home_municipality)
        out = {"results": results, "took_ms": round((time.perf_counter() - t0) * 1000, 1)}
        if understand:
            out["understood"] = reading
        return out
