"""The one way guidance reaches the search service: its HTTP API at SEARCH_URL, with a timeout.

Every failure (search down, slow, still loading, answering 5xx) is one exception, `SearchUnavailable`,
so a chat turn can answer in a degraded way instead of failing.
"""
from __future__ import annotations

import asyncio
import logging

import aiohttp

from shared.logs import correlation_id

log = logging.getLogger(__name__)


class SearchUnavailable(Exception):
    """The search service could not answer in time."""


class SearchClient:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _post(self, path: str, body: dict) -> dict:
        headers = {"X-Correlation-ID": correlation_id.get() or ""}
        try:
            async with self._session().post(f"{self.base}{path}", json=body, headers=headers) as r:
                if r.status >= 500 or r.status == 429:
                    raise SearchUnavailable(f"search answered {r.status}")
                data = await r.json(content_type=None)
                if r.status >= 400:
                    # Our own request was wrong: a bug here, not search being away.
                    raise RuntimeError(f"search refused {path}: {r.status} {data}")
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.warning("search at %s unreachable: %s", self.base, type(exc).__name__)
            raise SearchUnavailable(str(exc) or type(exc).__name__) from None

    async def understand(self, text: str, lang: str | None = None) -> dict:
        """Search's reading of a learner's message: language, occupations, years, skills."""
        return (await self._post("/v1/understand", {"text": text, **({"lang": lang} if lang else {})}))["understood"]

    async def suggest(self, text: str, filters: dict, limit: int, worked: list[str] = (), wanted: list[str] = (),
                      kinds: tuple[str, ...] = ("course", "validation")) -> list[dict]:
        """Courses and validation offers for a query and filter dict, best first; the validation offers that
        credit work in the SSYK-4 groups `worked` (towards those `wanted`) first, whatever the filters."""
        out = await self._post("/v1/search", {"text": text, "limit": limit, "filters": filters, "kinds": list(kinds),
                                              "worked": sorted(worked), "wanted": sorted(wanted),
                                              "path": True, "understand": False})
        return out["results"]

    async def known_occurrences(self, ids: list[str]) -> set[str]:
        """Which of these course occurrences the catalogue offers (as search's index holds it)."""
        return set((await self._post("/v1/occurrences/known", {"ids": ids}))["known"])
