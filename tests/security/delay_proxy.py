"""A TCP proxy that delays every reply chunk: a slow dependency (Redis) for real-socket tests.

    with DelayProxy(redis.port, delay_s=0.04) as proxy:   # in a thread of its own
        redis_url = f"redis://127.0.0.1:{proxy.port}/0"
        proxy.delay_s = 0.0                                  # changeable while it runs

Requests pass at once; each chunk of the upstream's answer is held `delay_s` before it is
forwarded, in order, so every round trip through it takes at least that long.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from tests.redis_server import HOST, free_port


class DelayProxy:
    def __init__(self, upstream_port: int, delay_s: float, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.port = port if port is not None else free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(asyncio.start_server(self._handle, HOST, self.port))
        self._ready.set()
        loop.run_forever()
        # Stopped: close the listener and every open connection, then the loop itself.
        self._server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(self._server.wait_closed())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: bool) -> None:
            try:
                while chunk := await src.read(65536):
                    if delay and self.delay_s > 0:
                        await asyncio.sleep(self.delay_s)
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))
        except asyncio.CancelledError:
            pass  # the proxy is stopping: a normal end for a connection, not an error to log
        finally:
            writer.close()
            up_writer.close()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("delay proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
