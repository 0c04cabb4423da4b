"""Does this search index hold exactly what the catalogue publishes? Compared document by document
(a digest of each), so a lost, repeated or reordered event shows up as missing, extra or different.

`python -m services.search check-index` runs it against the running services; the end-to-end tests
run it after every fault they cause.
"""
from __future__ import annotations

import hashlib
import json

import aiohttp

from shared.events import CourseDoc, LearningCentreDoc, ValidationOfferDoc

CATALOGUE_LISTS = (("course", "/v1/courses", CourseDoc), ("validation", "/v1/validation-offers", ValidationOfferDoc),
                   ("learning_centre", "/v1/learning-centres", LearningCentreDoc))


def digest(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def compare(index: dict[str, str], catalogue: dict[str, str]) -> dict:
    """Both maps: "kind:id" -> digest. Empty lists mean equal."""
    return {
        "equal": index == catalogue,
        "documents": len(catalogue),
        "missing": sorted(k for k in catalogue if k not in index),
        "extra": sorted(k for k in index if k not in catalogue),
        "different": sorted(k for k in catalogue if k in index and index[k] != catalogue[k]),
    }


async def catalogue_digests(http: aiohttp.ClientSession, base: str, page_size: int = 500) -> dict[str, str]:
    """Every active document of the catalogue's read API, as the search service would store it."""
    out: dict[str, str] = {}
    for kind, path, model in CATALOGUE_LISTS:
        params = {"limit": str(page_size)} if kind == "course" else {}
        while True:
            async with http.get(f"{base.rstrip('/')}{path}", params=params) as r:
                r.raise_for_status()
                page = await r.json()
            for item in page["items"]:
                # The read API adds its bookkeeping to the document the events carry.
                item = {k: v for k, v in item.items() if k not in ("status", "updated_at")}
                doc = model.model_validate(item).model_dump(mode="json")
                out[f"{kind}:{doc['id']}"] = digest(doc)
            if not page.get("next"):
                break
            params["cursor"] = page["next"]
    return out


async def check(search_url: str, catalogue_url: str) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        async with http.get(f"{search_url.rstrip('/')}/v1/index/digests") as r:
            r.raise_for_status()
            index = await r.json()
        catalogue = await catalogue_digests(http, catalogue_url)
    report = compare(index["documents"], catalogue)
    report["unembedded"] = index["unembedded"]
    report["equal"] = report["equal"] and not index["unembedded"]
    return report
