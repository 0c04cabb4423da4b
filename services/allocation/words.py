"""The allocation service's words for people, from words.json (pure). A phrase missing in a language
falls back to Persian for Dari, else to Swedish."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

WORDS = Path(__file__).parent / "words.json"


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, str]]:
    return json.loads(WORDS.read_text(encoding="utf-8"))


def t(key: str, lang: str = "sv", **values) -> str:
    table = _table()
    # Dari reads Persian until its own words are written.
    text = table.get(lang, {}).get(key) or (table["fa"].get(key) if lang == "prs" else None) or table["sv"][key]
    return text.format(**values) if values else text
