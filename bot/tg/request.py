"""HTTP to the Bot API with retries for transient failures, over one of two clients.

A 5xx answer or a connection that broke before any answer arrived is tried again a few times with
a growing pause; anything else (400, 403, 429, a read timeout) is passed on unchanged: 429 is the
flood limiter's job (bot.tg.limits waits `retry_after`), and a request that timed out while
reading may already have been carried out, so repeating it could show the user a reply twice. The
read timeout is long enough that a slow Telegram is waited for rather than given up on. A proxy that
refuses its login (407 Proxy Authentication Required, or a SOCKS5 proxy turning the user name and
password down) is not tried again either: ProxyLoginRefused at once, with an error naming the setting
to fix (never its value: it may hold the password); the bot stops on it rather than polling on.

The client (`TELEGRAM_HTTP`): "fast" is bot.tg.transport (HTTP/1.1 on asyncio streams, no proxy
support); "httpx" is python-telegram-bot's own HTTPXRequest, the way back if the fast one misbehaves,
and the one used whenever a proxy is configured (`TELEGRAM_PROXY`, or HTTPS_PROXY/ALL_PROXY in the
environment, which httpx honours). Both wait for a free connection on a semaphore and follow the
same retry rule.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
import urllib.request
from urllib.parse import urlsplit

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.config import Settings
from bot.metrics import TELEGRAM_CALLS, TELEGRAM_ERRORS
from bot.tg.transport import BotApiRequest, Unanswered, pool_slot

log = logging.getLogger(__name__)
RETRY_PAUSES = (0.2, 0.5, 1.0)
READ_TIMEOUT = 30.0
TELEGRAM = "https://api.telegram.org"
# Connection failures after which no answer arrived: the fast client's Unanswered, and httpx's errors for
# a connection that could not be made (directly or through the proxy) or broke before the answer.
_UNSENT = (Unanswered, httpx.ConnectError, httpx.ProxyError, httpx.RemoteProtocolError, httpx.ReadError,
           httpx.WriteError)


class ProxyLoginRefused(NetworkError):
    """The proxy in front of the Bot API refused its login: only a changed setting helps, not a retry."""


def refused_login(cause: BaseException | None) -> bool:
    """httpx's error for a refused proxy login: an HTTP proxy's 407 to CONNECT, or a SOCKS5 proxy that turned
    the user name and password down, or wants them and got none (httpcore says so only in its message)."""
    if not isinstance(cause, httpx.ProxyError):
        return False
    text = str(cause)
    return text.startswith("407") or text == "Invalid username/password" or "USERNAME/PASSWORD" in text


class _Retrying:
    """The retry rule, above either client's `do_request` (a mixin: it comes first in the bases)."""

    pauses: tuple[float, ...] = RETRY_PAUSES
    last_ok = 0.0          # monotonic time of the last answer from the Bot API (readiness)
    proxy_setting = "TELEGRAM_PROXY"   # where the proxy comes from, for the operator (never its value)

    async def do_request(self, url: str, method: str, *args, **kwargs) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        TELEGRAM_CALLS.labels(endpoint).inc()
        for attempt, pause in enumerate((*self.pauses, None)):
            try:
                code, payload = await super().do_request(url, method, *args, **kwargs)
            except TimedOut:
                TELEGRAM_ERRORS.labels(endpoint, "timeout").inc()
                raise
            except NetworkError as exc:
                if refused_login(exc.__cause__):
                    raise self._login_refused(endpoint, str(exc.__cause__)) from exc.__cause__
                if pause is None or not isinstance(exc.__cause__, _UNSENT):
                    TELEGRAM_ERRORS.labels(endpoint, "network").inc()
                    raise
                log.warning("%s: connection failed (%s); retry %d in %.1f s", endpoint, exc, attempt + 1, pause)
            else:
                if code == 407:                 # a proxy's answer to a plain http:// request it was to forward
                    raise self._login_refused(endpoint, "407 Proxy Authentication Required")
                if code < 500:
                    self.last_ok = time.monotonic()
                if code >= 400 and (code < 500 or pause is None):
                    TELEGRAM_ERRORS.labels(endpoint, str(code)).inc()
                if code < 500 or pause is None:
                    return code, payload
                log.warning("%s: server error %s; retry %d in %.1f s", endpoint, code, attempt + 1, pause)
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def _login_refused(self, endpoint: str, why: str) -> ProxyLoginRefused:
        TELEGRAM_ERRORS.labels(endpoint, "proxy_login").inc()
        message = (f"the proxy for the Bot API refused its login ({why}): check the user name and password in "
                   f"{self.proxy_setting}; not retried")
        log.error("%s: %s", endpoint, message)
        return ProxyLoginRefused(message)


class RetryingRequest(_Retrying, BotApiRequest):
    """The fast client with the retry rule."""

    def __init__(self, pauses: tuple[float, ...] = RETRY_PAUSES, **kwargs):
        kwargs.setdefault("read_timeout", READ_TIMEOUT)
        super().__init__(**kwargs)
        self.pauses = pauses


class _QueuedHTTPXRequest(HTTPXRequest):
    """HTTPXRequest whose requests beyond the pool's connections wait on a semaphore, not in httpcore's pool,
    which looks at every connection for every queued request each time one finishes (issue 16's profile)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._slots = asyncio.Semaphore(max(1, kwargs.get("connection_pool_size") or 1))
        self._slot_wait = kwargs.get("pool_timeout")

    async def do_request(self, *args, **kwargs) -> tuple[int, bytes]:
        async with pool_slot(self._slots, self._slot_wait):
            return await super().do_request(*args, **kwargs)


class RetryingHttpxRequest(_Retrying, _QueuedHTTPXRequest):
    """python-telegram-bot's httpx client with the retry rule; `proxy` and `ssl_context` as HTTPXRequest takes
    them (socks5:// through httpx[socks], a dependency)."""

    def __init__(self, pauses: tuple[float, ...] = RETRY_PAUSES, ssl_context: ssl.SSLContext | None = None,
                 **kwargs):
        kwargs.setdefault("read_timeout", READ_TIMEOUT)
        if ssl_context is not None:
            kwargs["httpx_kwargs"] = {**kwargs.get("httpx_kwargs", {}), "verify": ssl_context}
        super().__init__(**kwargs)
        self.pauses = pauses


def client_for(settings: Settings) -> str:
    """"fast" or "httpx": httpx whenever a proxy applies to the Bot API (the fast client cannot use one)."""
    if settings.telegram_proxy or env_proxy(settings.api_base_url or TELEGRAM):
        return "httpx"
    return settings.telegram_http


def env_proxy(url: str) -> str:
    """The proxy HTTPS_PROXY/HTTP_PROXY/ALL_PROXY (any case) name for `url`, unless NO_PROXY exempts its host."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all") or ""
    if proxy and urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return ""
    return proxy


def make_request(settings: Settings, **kwargs) -> BaseRequest:
    """The Bot API client the settings ask for, with the retry rule; `kwargs` as RetryingRequest takes them."""
    ssl_context = None
    if settings.telegram_ca_file:
        ssl_context = ssl.create_default_context(cafile=settings.telegram_ca_file)
    if client_for(settings) == "httpx":
        if settings.telegram_http == "fast":          # the proxy's address is not logged: it may hold a password
            log.info("a proxy is set for the Bot API (TELEGRAM_PROXY or the environment): using the httpx client")
        request = RetryingHttpxRequest(ssl_context=ssl_context, proxy=settings.telegram_proxy or None, **kwargs)
        if not settings.telegram_proxy:
            request.proxy_setting = "the proxy in the environment (HTTPS_PROXY or ALL_PROXY)"
        return request
    return RetryingRequest(ssl_context=ssl_context, **kwargs)
