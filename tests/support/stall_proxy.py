"""A TCP proxy in front of a broker that can stop forwarding: a broker that hangs.

While stalled, it keeps every socket open and forwards nothing, either way,
on old connections and new ones: what a client sees of a frozen broker or of
a network that silently drops packets. ``resume()`` forwards what was held.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit, urlunsplit


class StallProxy:
    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.flowing = self.call(self._make_event())
        self.server = self.call(asyncio.start_server(self.relay, "127.0.0.1", port))

    def url(self, url: str) -> str:
        """``url`` (a broker URL) through this proxy: same user, vhost or db."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        address = f"127.0.0.1:{self.port}"
        netloc = f"{userinfo}@{address}" if userinfo else address
        return urlunsplit(parts._replace(netloc=netloc))

    def stall(self) -> None:
        self.loop.call_soon_threadsafe(self.flowing.clear)

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self.flowing.set)

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    @staticmethod
    async def _make_event() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    async def relay(
        self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter
    ) -> None:
        try:
            broker, to_broker = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                self.pipe(client, to_broker),
                self.pipe(broker, to_client),
                return_exceptions=True,
            )
        except (OSError, asyncio.CancelledError):
            pass  # No broker to relay to, or close() ended the relay.
        finally:
            to_client.close()

    async def pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                # Bytes read just before a stall wait for the resume too.
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
