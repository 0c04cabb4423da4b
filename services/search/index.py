"""The search index: one vector per distinct text (FAISS) and the documents they point to. A pure
in-memory structure; no network, no model, no disk (vectors are stored by embedding.py)."""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from services.search.textwords import words

KINDS = ("course", "validation", "learning_centre")


def doc_text(kind: str, doc: dict) -> str:
    """What a document is about, as the embedding sees it."""
    if kind == "course":
        parts = [doc.get("title") or "", doc.get("description") or ""]
    elif kind == "validation":
        parts = [doc.get("title") or "", doc.get("description") or "", " ".join(doc.get("course_codes") or [])]
    else:
        parts = [doc.get("name") or "", " ".join(doc.get("services") or []), doc.get("town") or ""]
    return "\n".join(p for p in parts if p).strip()


def int_id(key: str) -> int:
    return int(key[:15], 16)  # 60 bits of the text hash: a stable FAISS id


@dataclass
class Entry:
    kind: str
    id: str
    doc: dict
    key: str
    version: str


class SearchIndex:
    def __init__(self, dim: int, signature: str = "") -> None:
        self.dim = dim
        self.signature = signature  # which model (and token cap) made the vectors
        self.entries: dict[tuple[str, str], Entry] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.by_key: dict[str, set[tuple[str, str]]] = {}
        self.faiss = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.key_of_int: dict[int, str] = {}
        self.by_code: dict[str, set[tuple[str, str]]] = {}
        self.occurrences: dict[str, str] = {}  # occurrence id -> course id
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)  # documents per kind, kept as they come and go

    def __len__(self) -> int:
        return len(self.entries)

    def version(self, kind: str, rid: str) -> str | None:
        e = self.entries.get((kind, rid))
        return e.version if e else None

    def unembedded(self, text_key) -> list[str]:  # noqa: ANN001 - embedder.text_key (the index knows no model)
        """Entries whose vector is not the one of their document's text (should be none)."""
        return sorted(f"{k}:{rid}" for (k, rid), e in self.entries.items()
                      if e.key != text_key(doc_text(k, e.doc)) or e.key not in self.vectors)

    def has_occurrence(self, occurrence_id: str) -> bool:
        return occurrence_id in self.occurrences

    def has_vector(self, key: str) -> bool:
        return key in self.vectors

    def put(self, kind: str, rid: str, doc: dict, key: str, text: str, vector: np.ndarray | None,
            version: str) -> None:
        if vector is None:
            vector = self.vectors.get(key)  # the same text as before: keep its vector across the remove
        self.remove(kind, rid)
        if key not in self.vectors:
            if vector is None:
                raise ValueError("a new text needs its vector")
            self.vectors[key] = vector.astype(np.float32)
            n = int_id(key)
            self.key_of_int[n] = key
            self.faiss.add_with_ids(vector.reshape(1, -1).astype(np.float32), np.array([n], dtype=np.int64))
        self.by_key.setdefault(key, set()).add((kind, rid))
        self.entries[(kind, rid)] = Entry(kind, rid, doc, key, version)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "course":
            if doc.get("code"):
                self.by_code.setdefault(doc["code"].upper(), set()).add((kind, rid))
            for o in doc.get("occurrences") or ():
                self.occurrences[o["id"]] = rid

    def remove(self, kind: str, rid: str) -> bool:
        e = self.entries.pop((kind, rid), None)
        if e is None:
            return False
        self.counts[kind] -= 1
        if kind == "course":
            if e.doc.get("code"):
                self.by_code.get(e.doc["code"].upper(), set()).discard((kind, rid))
            for o in e.doc.get("occurrences") or ():
                if self.occurrences.get(o["id"]) == rid:
                    del self.occurrences[o["id"]]
        holders = self.by_key.get(e.key, set())
        holders.discard((kind, rid))
        if not holders:
            # No document has this text any more: its vector leaves the index.
            self.by_key.pop(e.key, None)
            self.vectors.pop(e.key, None)
            n = int_id(e.key)
            self.key_of_int.pop(n, None)
            self.faiss.remove_ids(np.array([n], dtype=np.int64))
        return True

    # --- retrieval ---------------------------------------------------------------------------

    def dense(self, q: np.ndarray, k: int) -> dict[str, float]:
        if self.faiss.ntotal == 0:
            return {}
        scores, ids = self.faiss.search(q.reshape(1, -1).astype(np.float32), min(k, self.faiss.ntotal))
        return {self.key_of_int[int(i)]: float(s) for s, i in zip(scores[0], ids[0]) if i != -1}

    def cosine(self, q: np.ndarray, key: str) -> float:
        return float(self.vectors[key] @ q)

    def keys_for_code(self, code: str) -> list[str]:
        """Texts of the courses with this course code (e.g. VÅRVÅR01)."""
        return sorted({self.entries[k].key for k in self.by_code.get(code.upper(), ())})

    def keys_for_subject(self, subject: str) -> list[str]:
        """Texts of the courses whose code starts so: a subject (MAT: MATMAT01a, MATMAT02b ...) or a
        course's stem (INSELS: INSELS0)."""
        return sorted({self.entries[k].key for code, ks in self.by_code.items() if code.startswith(subject)
                       for k in ks if self.entries[k].key in self.vectors})

    def title_words(self, key: str) -> str:
        holders = self.by_key.get(key)
        if not holders:
            return ""
        doc = self.entries[next(iter(holders))].doc
        return " ".join(words(doc.get("title") or doc.get("name") or ""))

    def code_of(self, key: str) -> str | None:
        """The course code of the first course with this text (None for other kinds)."""
        for kind, rid in sorted(self.by_key.get(key, ())):
            if kind == "course":
                return self.entries[(kind, rid)].doc.get("code")
        return None

    def holders(self, key: str) -> list[Entry]:
        return [self.entries[h] for h in sorted(self.by_key.get(key, ()))]
