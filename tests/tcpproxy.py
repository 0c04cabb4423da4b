"""A TCP proxy the tests can cut, to drop every connection to the broker mid-flow."""
from __future__ import annotations

import asyncio


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port or self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(*self.target)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._connect_upstream()
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        for t in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def cut(self, down_for: float = 0.0) -> None:
        """Drop every open connection; refuse new ones for `down_for` seconds."""
        if down_for and self.server:
            self.server.close()
            await self.server.wait_closed()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        if down_for:
            await asyncio.sleep(down_for)
            await self.start(self.port)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        for t in list(self.tasks):
            t.cancel()
