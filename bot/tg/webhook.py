"""Webhook server that answers Telegram only after the update has been handled.

PTB's built-in webhook server answers 200 as soon as an update is queued; Telegram then forgets it,
so a `kill -9` before it is handled loses it. Here each update goes through the ChatDispatcher
(concurrently across chats, in arrival order within one) and the 200 comes only once it has been
handled, so Telegram delivers an unhandled update again after a crash (the store skips the ones
already handled). Requests without the right `X-Telegram-Bot-Api-Secret-Token` get 403. An update
that could not be handled (its store unreachable, or another replica still holding it) gets 503, and
so does every update once the process drains on SIGTERM: Telegram sends them again, to a replica
that is up. The same server answers GET /healthz, /readyz and /metrics (bot/health.py).
"""
from __future__ import annotations

import hmac
import json
import logging

import tornado.web
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from bot.health import health_routes

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _UpdateHandler(tornado.web.RequestHandler):
    def initialize(self, app: Application, secret: str) -> None:
        self.app, self.secret = app, secret

    def log_exception(self, *args) -> None:      # tornado would log request details; ours says enough
        log.warning("webhook request failed")

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.set_status(403)
            return
        if self.app.bot_data["health"].draining:
            self.set_status(503)              # stopping: Telegram delivers it again, to a replica that is up
            return
        try:
            update = Update.de_json(json.loads(self.request.body), self.app.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        handled = await self.app.bot_data["dispatcher"].submit(update)   # handler errors go to the error handler
        self.set_status(200 if handled else 503)


def start_server(app: Application, listen: str, port: int, path: str, secret: str) -> HTTPServer:
    """Serve POST /<path> (and the health routes) on listen:port; `.stop()` on the result stops listening."""
    routes = [(rf"/{path.strip('/')}/?", _UpdateHandler, {"app": app, "secret": secret}),
              *health_routes(app.bot_data["health"])]
    server = HTTPServer(tornado.web.Application(routes, log_function=lambda handler: None))
    server.listen(port, address=listen)
    return server
