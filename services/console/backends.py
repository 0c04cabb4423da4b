"""The services behind the console, called for the signed-in person.

Each call carries the console's token for that service and the person (X-Vux-Staff: role, scope,
name); the service decides what that person may do. A service's problem (RFC 9457) comes back as
Refused, with its words, for the page to show; a service that cannot be reached is Unavailable.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
import orjson

from shared.tokens import STAFF_HEADER


@dataclass(frozen=True)
class Staff:
    username: str
    name: str
    role: str  # regional | municipality | operator
    municipality: str | None

    def header(self) -> str:
        # The name travels for the services' records (who adopted, who started a round), encoded so
        # that any name is a valid header value.
        return f"{self.role} {self.municipality or '-'} {quote(self.name)}"


@dataclass
class Refused(Exception):
    status: int
    detail: str
    field: str | None = None
    errors: list = dataclasses.field(default_factory=list)
    problem: dict = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


class Unavailable(Exception):
    pass


class Backends:
    def __init__(self, urls: dict[str, str], tokens: dict[str, str], timeout_s: float) -> None:
        self.urls, self.tokens = urls, tokens
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=self.timeout, json_serialize=lambda o: orjson.dumps(o).decode())

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def call(self, service: str, method: str, path: str, staff: Staff, *, json=None,  # noqa: ANN001
                   data: bytes | None = None, content_type: str | None = None, params: dict | None = None,
                   raw: bool = False):  # noqa: ANN201 - the answer's JSON, or its bytes when raw
        headers = {"Authorization": f"Bearer {self.tokens.get(service, '')}", STAFF_HEADER: staff.header()}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self.http.request(method, self.urls[service] + path, json=json, data=data, headers=headers,
                                         params={k: v for k, v in (params or {}).items() if v is not None}) as r:
                body = await r.read()
                if r.status >= 400:
                    try:
                        p = orjson.loads(body)
                    except orjson.JSONDecodeError:
                        p = {"detail": body.decode(errors="replace")[:300]}
                    if r.status in (401,):
                        # The console's own token is wrong: an operations fault, not the person's.
                        raise Unavailable(f"{service} does not accept the console's token ({p.get('detail')})")
                    raise Refused(r.status, str(p.get("detail") or r.reason), p.get("field"), p.get("errors") or [], p)
                return body if raw else orjson.loads(body) if body else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"{service} cannot be reached ({type(exc).__name__})") from None
