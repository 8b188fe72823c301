"""GET /healthz (the process is up), GET /readyz (it can serve: store and Telegram reachable, its locks
held, not draining) and GET /metrics (Prometheus), as tornado routes: on the webhook server, or on a
small server of their own in polling mode (HEALTH_PORT).

Telegram counts as reachable when a Bot API call succeeded within the last minute; otherwise /readyz
asks getMe, at most once every 30 s, so probes never load Telegram.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

import tornado.web
from tornado.httpserver import HTTPServer

from bot.metrics import exposition

log = logging.getLogger(__name__)
RECENT = 60.0
GETME_EVERY = 30.0


class Health:
    def __init__(self, store: Any, coordination: Any, bot: Any, last_ok: Callable[[], float]):
        self.store, self.coordination, self.bot, self.last_ok = store, coordination, bot, last_ok
        self.draining = False
        self._asked_at = -GETME_EVERY
        self._asked_ok = False

    async def _telegram(self) -> bool:
        now = time.monotonic()
        if now - self.last_ok() < RECENT:
            return True
        if now - self._asked_at >= GETME_EVERY:
            self._asked_at = now
            try:
                await asyncio.wait_for(self.bot.get_me(), 5)
                self._asked_ok = True
            except Exception as exc:  # noqa: BLE001 - any failure means not reachable
                log.warning("readiness: Telegram not reachable (%s)", type(exc).__name__)
                self._asked_ok = False
        return self._asked_ok

    async def _store(self) -> bool:
        try:
            await asyncio.wait_for(self.store.ping(), 2)
            return True
        except Exception as exc:  # noqa: BLE001
            log.warning("readiness: store not reachable (%s)", type(exc).__name__)
            return False

    async def ready(self) -> dict[str, bool]:
        return {"not_draining": not self.draining, "store": await self._store(),
                "locks": self.coordination.healthy(), "telegram": await self._telegram()}


class _Healthz(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(b'{"status":"ok"}')


class _Readyz(tornado.web.RequestHandler):
    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        checks = await self.health.ready()
        self.set_status(200 if all(checks.values()) else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ready": all(checks.values()), "checks": checks}))


class _Metrics(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(exposition())


def health_routes(health: Health) -> list:
    return [(r"/healthz", _Healthz), (r"/readyz", _Readyz, {"health": health}), (r"/metrics", _Metrics)]


def start_health_server(health: Health, listen: str, port: int) -> HTTPServer:
    """Polling mode: /healthz, /readyz and /metrics on listen:port."""
    server = HTTPServer(tornado.web.Application(health_routes(health), log_function=lambda handler: None))
    server.listen(port, address=listen)
    return server
