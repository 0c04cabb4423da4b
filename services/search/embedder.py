"""Sentence embeddings (sentence-transformers), with identical texts embedded once."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from prometheus_client import Histogram

from services.search.model_build import PASSAGE_ONNX, QUERY_ONNX

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


def _onnx_session(path: str):  # noqa: ANN202
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _prompts(model: str) -> dict[str, str]:
    """The model's query and passage prefixes (sentence-transformers' own config file), without loading it."""
    try:
        with open(os.path.join(model, "config_sentence_transformers.json"), encoding="utf-8") as f:
            return json.load(f).get("prompts") or {}
    except (OSError, ValueError):
        return {}


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class Embedder:
    def __init__(self, model: str, max_tokens: int = 256, query_backend: str = "onnx-int8",
                 device: str = "cpu", passage_backend: str = "torch") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.name, self.device, self.max_tokens = model, device, max_tokens
        self._model = None
        self._model_lock = threading.Lock()
        self._query_session = self._passage_session = None
        query_onnx, passage_onnx = os.path.join(model, QUERY_ONNX), os.path.join(model, PASSAGE_ONNX)
        self._recent: dict[str, np.ndarray] = {}  # query text -> vector, oldest first
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._lock = threading.Lock()  # one encode at a time: the model is not re-entrant across threads
        self._background = ThreadPoolExecutor(1, thread_name_prefix="embed-passages", initializer=_background_priority)
        if "onnx-int8" in (query_backend, passage_backend) and os.path.exists(query_onnx):
            from tokenizers import Tokenizer

            prompts = _prompts(model)
            self._tokenizer = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
            self._tokenizer.enable_truncation(max_tokens)
            self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id("<pad>") or 1, pad_token="<pad>")
            self._query_prefix = prompts.get("query", "query: ")
            self._passage_prefix = prompts.get("passage", "passage: ")
            if query_backend == "onnx-int8":
                self._query_session = _onnx_session(query_onnx)
            if passage_backend == "onnx-int8" and device == "cpu" and os.path.exists(passage_onnx):
                # Made on the low-priority thread, so the session's own threads inherit its priority.
                self._passage_session = self._background.submit(_onnx_session, passage_onnx).result()
        session = self._query_session or self._passage_session
        # With the ONNX encoder for queries, the sentence-transformers model is loaded only when a passage
        # is first embedded (seconds): a replica that embeds nothing is ready without it.
        if session is not None:
            self.dim = int(session.get_outputs()[0].shape[-1])
        else:
            m = self.model
            self.dim = (getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension)()
        # Vectors made with another model, cut elsewhere or by another encoder are not comparable.
        self.signature = (f"{os.path.abspath(model) if os.path.exists(model) else model}|{max_tokens}"
                          + ("|int8-per-channel" if self._passage_session is not None else ""))

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer
        with self._model_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.name, device=self.device)
                self._model.max_seq_length = self.max_tokens
        return self._model

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        if prompt_name == "passage" and self._passage_session is not None:
            return self._encode_onnx(self._passage_session, [self._passage_prefix + t for t in texts], "passage")
        with self._lock, EMBED_SECONDS.labels(prompt_name).time():
            # Batches of 8 texts (sorted by length inside): on two CPU cores ~24 passages of ~220 tokens
            # a second, against ~17 in batches of 32 (less padding, the activations stay in cache).
            v = self.model.encode(texts, prompt_name=prompt_name, normalize_embeddings=True, batch_size=8,
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

    def _encode_onnx(self, session, texts: list[str], kind: str, batch: int = 8) -> np.ndarray:  # noqa: ANN001
        """Through the int8 encoder (pooling and normalisation inside), in batches of like length."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        with EMBED_SECONDS.labels(kind).time():
            for i in range(0, len(order), batch):
                part = order[i:i + batch]
                encs = self._tokenizer.encode_batch([texts[j] for j in part])
                vec = session.run(None, {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                                         "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64)})
                out[part] = vec[0]
        return out

    def _encode_query(self, text: str) -> np.ndarray:
        if self._query_session is None:
            return self._encode([text], "query")[0]
        return self._encode_onnx(self._query_session, [self._query_prefix + text], "query")[0]

    async def query(self, text: str) -> np.ndarray:
        # A chat turn that only adds a constraint ("helst på distans") asks the same query again.
        hit = self._recent.get(text)
        if hit is None:
            hit = await asyncio.to_thread(self._encode_query, text)
            self._recent[text] = hit
            if len(self._recent) > 512:
                self._recent.pop(next(iter(self._recent)))
        return hit
