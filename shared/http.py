"""HTTP building blocks every service uses: problem details (RFC 9457), metrics, correlation ids, health routes."""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import signal
import time
import uuid
from collections import defaultdict, deque
from typing import Awaitable, Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.logs import correlation_id
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.problems import CONTENT_TYPE, Problem

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def problem_response(problem: Problem) -> web.Response:
    resp = web.Response(body=orjson.dumps(problem.body()), status=problem.status)
    resp.content_type = CONTENT_TYPE
    if "retry_after_s" in problem.extensions:
        resp.headers["Retry-After"] = str(problem.extensions["retry_after_s"])
    return resp


def check_request_head(request: web.Request) -> None:
    """Refuse what no route should have to handle: header bytes that are not UTF-8 (aiohttp keeps
    them as surrogates, which fail later wherever they are encoded) and a query parameter given
    twice (which of `?confirm=1&confirm=0` counts is a guess)."""
    for name, value in request.headers.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Problem(400, f"the header {name} is not valid UTF-8", field=name) from None
    seen: set[str] = set()
    for key, _ in request.query.items():  # one item per value (iterating the keys gives each once)
        if key in seen:
            raise Problem(400, f"the query parameter {key!r} is given more than once; give it once", field=key)
        seen.add(key)


def query_flag(request: web.Request, name: str) -> bool:
    """A yes/no query parameter: `true` or `false` (absent is false); anything else is a 400, so that
    a typo never counts as yes."""
    raw = request.query.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise Problem(400, f"{name} must be true or false, not {raw[:40]!r}", field=name)
    return raw.lower() == "true"


def make_middlewares(service: str) -> list:
    @web.middleware
    async def correlation(request: web.Request, handler):
        try:
            check_request_head(request)
        except Problem as exc:
            return problem_response(exc)
        cid = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
        token = correlation_id.set(cid[:80])
        try:
            resp = await handler(request)
            resp.headers["X-Correlation-ID"] = cid[:80]
            return resp
        finally:
            correlation_id.reset(token)

    @web.middleware
    async def errors_and_metrics(request: web.Request, handler):
        """Every refusal leaves as problem details: ours (Problem), aiohttp's (404, 405, 413 ...), a crash."""
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        start = time.perf_counter()
        status = 500
        try:
            try:
                resp = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise  # a redirect
                raise Problem(exc.status, exc.reason or "error") from None
            status = resp.status
            return resp
        except Problem as exc:
            status = exc.status
            return problem_response(exc)
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return problem_response(Problem(500, "internal error; the request was not applied"))
        finally:
            HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
            HTTP_LATENCY.labels(service, request.method, route).observe(time.perf_counter() - start)

    return [correlation, errors_and_metrics]


def add_health_routes(app: web.Application, checks: dict[str, Check]) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        results = dict(zip(checks, await asyncio.gather(*(c() for c in checks.values()))))
        ok = all(results.values())
        return json_response({"status": "ready" if ok else "not ready", "checks": results}, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


# Longer than aiohttp clients keep an idle connection (15 s), so a client never reuses one the server
# is closing just then.
HEADER_TIMEOUT_S = 20.0


def make_runner(app: web.Application, header_timeout_s: float = HEADER_TIMEOUT_S) -> web.AppRunner:
    """aiohttp closes a connection whose request has not been read whole within its keep-alive
    timeout of the connection's start (or of the last answer): so headers sent a byte at a time
    cannot hold connections open, and an idle keep-alive connection goes after as long."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=header_timeout_s)


async def serve_until_signalled(app: web.Application, host: str, port: int,
                                on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting, finish, and call on_stop."""
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on http://%s:%d", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    if on_stop:
        await on_stop()


def learner_text(raw: str, field: str, cap: int) -> tuple[str, str | None]:
    """What a learner wrote, ready to read: whitespace folded, cut at `cap` characters (with a notice
    saying so); a Problem (400) when nothing is left."""
    text = " ".join(raw.split())
    if not text:
        raise Problem(400, f"{field} is empty: write something about yourself or what you are looking for",
                      field=field)
    if len(text) > cap:
        return text[:cap], f"the {field} was longer than {cap} characters; only the first {cap} were used"
    return text, None


BODY_TIMEOUT_S = 30.0  # a body that trickles in slower than this holds a connection for nothing


async def read_body(request: web.Request, max_bytes: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    """The whole body (it may arrive in several writes), at most `max_bytes`, within `timeout_s`."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem(413, f"the body is larger than {max_bytes} bytes")
    raw = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.read(max_bytes + 1 - len(raw)):
                raw += chunk
                if len(raw) > max_bytes:
                    break
    except TimeoutError:
        raise Problem(408, f"the body did not arrive within {timeout_s:g} seconds") from None
    except Exception:  # noqa: BLE001
        raise Problem(400, "could not read the request body") from None
    if len(raw) > max_bytes:
        raise Problem(413, f"the body is larger than {max_bytes} bytes")
    return bytes(raw)


def read_query(request: web.Request, model):  # noqa: ANN001, ANN201
    """The query string as a pydantic model; a bad parameter is a 400 that names it."""
    from pydantic import ValidationError

    try:
        return model.model_validate({k: request.query.getone(k) for k in request.query})
    except ValidationError as exc:
        e = exc.errors()[0]
        name = ".".join(str(p) for p in e["loc"]) or "query"
        raise Problem(400, f"{name}: {e['msg']}", field=name) from None


async def read_json_model(request: web.Request, model, max_bytes: int = 256 * 1024,  # noqa: ANN001, ANN201
                          timeout_s: float = BODY_TIMEOUT_S):
    """Parse a JSON body into a pydantic model; every failure is a 4xx that says what and where."""
    from pydantic import ValidationError

    if request.content_type != "application/json":
        raise Problem(415, f"send JSON with Content-Type application/json, not {request.content_type!r}")
    raw = await read_body(request, max_bytes, timeout_s)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"malformed JSON: {exc}", line=exc.lineno, column=exc.colno) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        first = errors[0]
        raise Problem(422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors[:20]) from None


async def require_role(request: web.Request, engine, table, role: str,  # noqa: ANN001, ANN201
                       staff_roles: dict[str, str] | None = None):
    """The caller behind the request's bearer token, who must have `role`: else 401 or 403. A console
    token speaks for the signed-in person named in its staff header, mapped by `staff_roles`."""
    from shared.tokens import STAFF_HEADER, authenticate

    async with engine.connect() as conn:
        caller = await authenticate(conn, table, request.headers.get("Authorization"),
                                    staff=request.headers.get(STAFF_HEADER), staff_roles=staff_roles)
    if caller is None:
        raise Problem(401, f"missing, unknown or revoked {role} token; send `Authorization: Bearer <token>`")
    if caller.role != role:
        raise Problem(403, f"this needs {'an' if role[0] in 'aeiou' else 'a'} {role} token")
    return caller


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> list:
    return [ipaddress.ip_network(p, strict=False) for p in proxies]  # parsed once, not per request


def client_address(request: web.Request, trusted_proxies: list[str]) -> str:
    """Who is calling, for rate limits: the peer's address or, when the peer is one of our trusted
    reverse proxies, the right-most address in X-Forwarded-For that is not one of them (what is left
    of it the caller wrote itself, and may be anything)."""
    peer = request.remote or "?"
    nets = _networks(tuple(trusted_proxies))

    def trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not nets or not trusted(peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where the proxy writes an address: count it against the proxy
    return peer


class RateLimit:
    """At most `per_minute` requests per client in any minute (sliding window, per replica)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque] = defaultdict(deque)

    def check(self, client: str) -> None:
        now = time.monotonic()
        q = self.seen[client]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= self.per_minute:
            raise Problem(429, "too many messages in a short time; wait a moment and try again",
                           retry_after_s=round(60 - (now - q[0]) + 0.5))
        q.append(now)
        if len(self.seen) > 50_000:  # forget idle clients
            for k in [k for k, v in self.seen.items() if not v or now - v[-1] > 60]:
                del self.seen[k]
