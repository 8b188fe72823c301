"""Run the Telegram bot: long polling, or a webhook server when WEBHOOK_URL is set.

Start-up: open the store (its migrations run now), take what this process needs from the coordination
(the SQLite lock file, or the PostgreSQL lock connection and, when polling, the poller lock), then
Telegram. SIGTERM/SIGINT: readiness turns false, no new update is taken (the webhook server stops
listening and answers 503 to requests still arriving), those in flight finish (up to DRAIN_TIMEOUT),
then every lock is released and the process exits, all within 10 s.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from urllib.parse import urlparse

from telegram.ext import Application

from bot.config import Settings
from bot.coord import AlreadyRunning
from bot.health import start_health_server
from bot.logs import setup_logging
from bot.tg.app import ALLOWED_UPDATES, build_application
from bot.tg.polling import DRAIN_TIMEOUT, AnotherPoller, poll
from bot.tg.request import ProxyLoginRefused
from bot.tg.webhook import start_server

log = logging.getLogger("bot")


def run_bot(settings: Settings) -> int:
    secret = settings.webhook_secret or secrets.token_urlsafe(32)
    setup_logging(settings.log_level, settings.log_format, (settings.token, secret))
    app = build_application(settings)
    webhook = bool(settings.webhook_url)
    receive = _webhook(app, settings, secret) if webhook else _polling(app, settings)
    try:
        asyncio.run(serve(app, settings, receive, polling=not webhook))
    except (AlreadyRunning, AnotherPoller) as exc:
        log.error("%s", exc)
        print(f"mode-advisor: {exc}", file=sys.stderr)
        return 3
    except ProxyLoginRefused as exc:        # logged where it happened (bot.tg.request)
        print(f"mode-advisor: {exc}", file=sys.stderr)
        return 3
    return 0


def _webhook(app: Application, settings: Settings, secret: str):
    async def receive(stop: asyncio.Event) -> None:
        path = urlparse(settings.webhook_url).path.lstrip("/")
        log.info("starting webhook server on %s:%s", settings.webhook_listen, settings.webhook_port)
        server = start_server(app, settings.webhook_listen, settings.webhook_port, path, secret)
        await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
                                  max_connections=settings.webhook_max_connections)
        try:
            await stop.wait()
        finally:
            app.bot_data["health"].draining = True
            server.stop()     # the webhook stays set: Telegram keeps updates until a replica takes them
            dispatcher = app.bot_data["dispatcher"]
            if not await dispatcher.join(DRAIN_TIMEOUT):
                log.warning("stopping with %d update(s) in flight; Telegram delivers them again",
                            await dispatcher.cancel())
    return receive


def _polling(app: Application, settings: Settings):
    async def receive(stop: asyncio.Event) -> None:
        log.info("starting long polling")
        health = None
        if settings.health_port:
            health = start_health_server(app.bot_data["health"], settings.health_listen, settings.health_port)
            log.info("health and metrics on %s:%s", settings.health_listen, settings.health_port)
        try:
            await app.bot.delete_webhook(drop_pending_updates=False)
            await poll(app, stop, settings.poll_timeout, ALLOWED_UPDATES)
        finally:
            if health is not None:
                health.stop()
    return receive


async def serve(app: Application, settings: Settings, receive, polling: bool) -> None:
    """Run until SIGINT/SIGTERM: open the store, coordinate, initialise, receive updates, drain, release."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if not stop.is_set():
            log.info("stopping: draining the updates in flight")
        app.bot_data["health"].draining = True
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    store, coordination = app.bot_data["store"], app.bot_data["coordination"]
    try:
        await store.open()
        if getattr(store, "migrated", None):
            log.info("store schema migrated to version %s", store.migrated[-1])
        await coordination.start(polling=polling)
        async with app:                                 # initialize ... shutdown
            if app.post_init:
                await app.post_init(app)
            await app.start()
            try:
                await receive(stop)
            finally:
                await app.stop()
                if app.post_shutdown:
                    await app.post_shutdown(app)        # the card workers stop with the bot
    finally:
        await coordination.close()                      # releases this process's locks
        await store.close()
    log.info("stopped")
