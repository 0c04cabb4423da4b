"""Sentence embeddings (sentence-transformers), with identical texts embedded once."""
from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import numpy as np
from prometheus_client import Histogram

EMBED_SECONDS = Histogram("vux_embedding_seconds", "Time to embed a batch of texts", ["kind"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class Embedder:
    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model, device="cpu")
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = get_dim()
        self._recent: dict[str, np.ndarray] = {}  # query text -> vector, oldest first
        self._lock = threading.Lock()  # one encode at a time: the model is not re-entrant across threads

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        with self._lock, EMBED_SECONDS.labels(prompt_name).time():
            v = self.model.encode(texts, prompt_name=prompt_name, normalize_embeddings=True, batch_size=32,
                                  convert_to_numpy=True, show_progress_bar=False)
        return v.astype(np.float32)

    async def passages(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self._encode, texts, "passage")

    async def query(self, text: str) -> np.ndarray:
        # A chat turn that only adds a constraint ("helst på distans") asks the same query again.
        hit = self._recent.get(text)
        if hit is None:
            hit = (await asyncio.to_thread(self._encode, [text], "query"))[0]
            self._recent[text] = hit
            if len(self._recent) > 512:
                self._recent.pop(next(iter(self._recent)))
        return hit
