"""Sentence embeddings (sentence-transformers), with identical texts embedded once."""
from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from prometheus_client import Histogram

EMBED_SECONDS = Histogram("vux_embedding_seconds", "Time to embed a batch of texts", ["kind"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def _background_priority() -> None:
    """Embedding course texts is background work: at the lowest CPU priority it takes whatever the
    learners' searches leave (all of it when nobody is searching), so a feed push does not slow them.
    Linux sets a nice value per thread, and the threads torch starts from this one inherit it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass  # not Linux: no per-thread priority


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class Embedder:
    def __init__(self, model: str, max_tokens: int = 256, query_backend: str = "onnx-int8",
                 device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        from sentence_transformers import SentenceTransformer

        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = SentenceTransformer(model, device=device)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = get_dim()
        self.model.max_seq_length = max_tokens
        self._query_session = None
        onnx_path = os.path.join(model, "onnx", "query_qint8.onnx")
        if query_backend == "onnx-int8" and os.path.exists(onnx_path):
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = min(2, os.cpu_count() or 1)
            self._query_session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
            self._query_tokenizer = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
            self._query_tokenizer.enable_truncation(max_tokens)
            self._query_prefix = (self.model.prompts or {}).get("query", "query: ")
        # Vectors made with another model or cut elsewhere are not comparable: the index keeps this.
        self.signature = f"{os.path.abspath(model) if os.path.exists(model) else model}|{max_tokens}"
        self._recent: dict[str, np.ndarray] = {}  # query text -> vector, oldest first
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._lock = threading.Lock()  # one encode at a time: the model is not re-entrant across threads
        self._background = ThreadPoolExecutor(1, thread_name_prefix="embed-passages", initializer=_background_priority)

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        with self._lock, EMBED_SECONDS.labels(prompt_name).time():
            v = self.model.encode(texts, prompt_name=prompt_name, normalize_embeddings=True, batch_size=32,
                                  convert_to_numpy=True, show_progress_bar=False)
        return v.astype(np.float32)

    async def passage(self, text: str) -> np.ndarray:
        """One text, embedded together with the others that arrive at about the same time.

        Catalogue events come one per message but many at once (a feed push); a batch of 32 costs far
        less than 32 single encodes."""
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((text, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        await asyncio.sleep(0.01)  # let the rest of a burst arrive
        while self._pending:
            batch, self._pending = self._pending[:32], self._pending[32:]
            try:
                vectors = await self._in_background([t for t, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter hears of it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), v in zip(batch, vectors):
                if not fut.done():
                    fut.set_result(v)

    async def passages(self, texts: list[str]) -> np.ndarray:
        return await self._in_background(texts)

    async def _in_background(self, texts: list[str]) -> np.ndarray:
        return await asyncio.get_running_loop().run_in_executor(self._background, self._encode, texts, "passage")

    def _encode_query(self, text: str) -> np.ndarray:
        if self._query_session is None:
            return self._encode([text], "query")[0]
        enc = self._query_tokenizer.encode(self._query_prefix + text)
        with EMBED_SECONDS.labels("query").time():
            out = self._query_session.run(None, {"input_ids": np.array([enc.ids], dtype=np.int64),
                                                 "attention_mask": np.array([enc.attention_mask], dtype=np.int64)})
        return out[0][0].astype(np.float32)

    async def query(self, text: str) -> np.ndarray:
        # A chat turn that only adds a constraint ("helst på distans") asks the same query again.
        hit = self._recent.get(text)
        if hit is None:
            hit = await asyncio.to_thread(self._encode_query, text)
            self._recent[text] = hit
            if len(self._recent) > 512:
                self._recent.pop(next(iter(self._recent)))
        return hit
