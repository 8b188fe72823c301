"""A small round-robin HTTP reverse proxy for the replica runs (what nginx does in deploy/): each request
goes to the next replica; a replica that refuses the connection (down, or restarting) is skipped for
the next one, like nginx's `proxy_next_upstream error`. A request the replica accepted and then failed
(it died mid-update) gets 502, and Telegram delivers the update again.

    async with RoundRobinProxy(["http://127.0.0.1:8001", "http://127.0.0.1:8002"]) as proxy:
        proxy.url  # http://127.0.0.1:<port>
"""
from __future__ import annotations

import itertools
from collections import Counter

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class RoundRobinProxy:
    def __init__(self, upstreams: list[str], host: str = "127.0.0.1", port: int = 0, timeout: float = 60.0):
        self.upstreams, self.host, self.port, self.timeout = list(upstreams), host, port, timeout
        self._next = itertools.cycle(range(len(self.upstreams)))
        self.sent: Counter[str] = Counter()          # requests answered, per upstream
        self.refused: Counter[str] = Counter()       # connections refused, per upstream
        self.failed: Counter[str] = Counter()        # accepted, then failed (502)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "RoundRobinProxy":
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout),
                                              connector=aiohttp.TCPConnector(limit=0))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> "RoundRobinProxy":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for _ in range(len(self.upstreams)):
            upstream = self.upstreams[next(self._next)]
            try:
                async with self._session.request(request.method, upstream + request.path_qs, data=body,
                                                 headers=headers) as resp:
                    payload = await resp.read()
                    self.sent[upstream] += 1
                    return web.Response(status=resp.status, body=payload,
                                        headers={k: v for k, v in resp.headers.items()
                                                 if k.lower() not in HOP_BY_HOP})
            except aiohttp.ClientConnectorError:
                self.refused[upstream] += 1          # not accepted: nothing happened there, try the next
                continue
            except (aiohttp.ClientError, TimeoutError):
                self.failed[upstream] += 1
                return web.Response(status=502, text="upstream failed")
        return web.Response(status=502, text="no upstream reachable")
