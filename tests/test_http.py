"""The one error style of every service (RFC 9457 problem details from shared/http.py's middleware), and
JSON bodies read to their end."""
import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel, Field

from shared.http import make_middlewares, make_runner, read_json_model
from shared.problems import Problem
from tests.conftest import free_port


class Body(BaseModel):
    name: str = Field(min_length=2)
    n: int = 1


@pytest.fixture
async def server():
    async def echo(request: web.Request) -> web.Response:
        body = await read_json_model(request, Body)
        return web.json_response(body.model_dump())

    async def refuse(_request: web.Request) -> web.Response:
        raise Problem(409, "already answered", type="answered", offer="o-1")

    async def crash(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def moved(_request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("/echo")

    async def impatient(request: web.Request) -> web.Response:
        body = await read_json_model(request, Body, timeout_s=0.5)
        return web.json_response(body.model_dump())

    app = web.Application(middlewares=make_middlewares("test"))
    app.router.add_post("/echo", echo)
    app.router.add_post("/impatient", impatient)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/crash", crash)
    app.router.add_get("/moved", moved)
    runner = make_runner(app, header_timeout_s=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as http:
        yield f"http://127.0.0.1:{port}", port, http
    await runner.cleanup()


async def problem(http, method, url, **kw):  # noqa: ANN001, ANN201
    async with http.request(method, url, allow_redirects=False, **kw) as r:
        assert r.content_type == "application/problem+json", (r.status, r.content_type)
        body = await r.json(content_type=None)
        assert body["status"] == r.status and body["title"] and body["detail"] and body["type"], body
        return body


async def test_every_refusal_is_problem_details(server):
    base, _, http = server
    body = await problem(http, "POST", f"{base}/echo", json={"name": "x"})
    assert body["status"] == 422 and body["field"] == "name" and body["detail"].startswith("name: ")
    body = await problem(http, "POST", f"{base}/echo", data=b'{"name": "ab",\n "n": }',
                         headers={"Content-Type": "application/json"})
    assert body["status"] == 400 and body["line"] == 2 and "malformed JSON" in body["detail"]
    body = await problem(http, "GET", f"{base}/refuse")
    assert body == {"type": "https://vux.vasterbotten.example/problems/answered", "title": "Conflict",
                    "status": 409, "detail": "already answered", "offer": "o-1"}
    assert (await problem(http, "GET", f"{base}/nowhere"))["status"] == 404  # aiohttp's own
    assert (await problem(http, "DELETE", f"{base}/refuse"))["status"] == 405
    body = await problem(http, "GET", f"{base}/crash")
    assert body["status"] == 500 and "a bug" not in body["detail"]
    async with http.get(f"{base}/moved", allow_redirects=False) as r:
        assert r.status == 308  # a redirect is no problem


async def test_a_json_body_sent_in_two_writes_is_read_whole(server):
    _, port, _ = server
    body = json.dumps({"name": "Åsa", "n": 2}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:7])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.write(body[7:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"name": "Åsa", "n": 2}


async def test_a_body_that_never_finishes_is_a_408_not_a_held_connection(server):
    _, port, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /impatient HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\nConnection: close\r\n\r\n{\"name\": ")  # and then nothing
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # the answer, before the connection ends
    assert head.startswith(b"HTTP/1.1 408"), head[:200]
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    body = json.loads(await asyncio.wait_for(reader.readexactly(length), 10))
    writer.close()
    assert body["detail"] == "the body did not arrive within 0.5 seconds" and body["status"] == 408


async def test_headers_sent_a_byte_at_a_time_do_not_hold_the_connection(server):
    _, port, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = asyncio.get_running_loop().time()
    closed = None
    for byte in b"GET /refuse HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                closed = asyncio.get_running_loop().time() - start
                break
        except asyncio.TimeoutError:
            continue
        except ConnectionError:
            closed = asyncio.get_running_loop().time() - start
            break
    writer.close()
    assert closed is not None and closed < 3, closed  # the server's 1 s, not the caller's pace
