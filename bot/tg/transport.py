"""HTTP/1.1 to the Bot API on asyncio streams: python-telegram-bot's request interface, without httpx.

The Bot API needs one kind of exchange: a POST with a form (or a multipart form when a file is
uploaded) to one host, answered with JSON. httpx, httpcore, anyio and h11 together spent about half
of the bot's CPU per update on it (issue 16's profile: cancel scopes, per-request pool scans, socket
attribute lookups); here it is a request written in one piece and an answer read by its
Content-Length (or chunks), on keep-alive connections reused in turn.

- At most `connection_pool_size` requests at once; the others wait their turn, up to `pool_timeout`.
- A connection the server closed while idle is noticed before reuse (EOF seen by the event loop);
  if a reused connection breaks before any answer, the request is sent once more on a new one.
- Failures become python-telegram-bot's errors: TimedOut (connect, write or read took too long) and
  NetworkError, whose cause is `Unanswered` when the connection failed before any answer arrived
  (bot.tg.request retries those).
- No proxy support: with a proxy, bot.tg.request uses python-telegram-bot's httpx client instead.
  Tested over TLS and against odd servers in tests/test_tg_tls.py and tests/test_tg_transport.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections import deque
from typing import IO
from urllib.parse import urlencode, urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram._utils.defaultvalue import DefaultValue

_HEAD_END = b"\r\n\r\n"


@contextlib.asynccontextmanager
async def pool_slot(slots: asyncio.Semaphore, wait: float | None):
    """One of the pool's `slots` for the length of a request, waited for at most `wait` seconds
    (python-telegram-bot's pool_timeout; None: as long as it takes). A free slot is taken without a timer."""
    if slots.locked():
        try:
            async with asyncio.timeout(wait):
                await slots.acquire()
        except TimeoutError:
            raise TimedOut("Pool timeout: all connections to the Bot API are busy; the request was not "
                           "sent") from None
    else:
        await slots.acquire()
    try:
        yield
    finally:
        slots.release()


class Unanswered(OSError):
    """The connection failed before any answer to the request arrived."""


class _Connection:
    __slots__ = ("reader", "writer", "origin")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin: tuple[str, int, bool]):
        self.reader, self.writer, self.origin = reader, writer, origin

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class BotApiRequest(BaseRequest):
    """A python-telegram-bot request class on asyncio streams (HTTP/1.1, keep-alive, TLS for https).

    `ssl_context` checks an https server's certificate; None (production) is the system's default trust
    store, a test passes one that trusts its throwaway certificate."""

    def __init__(self, connection_pool_size: int = 1, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
                 ssl_context: ssl.SSLContext | None = None):
        self.size = max(1, connection_pool_size)
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool_wait, self._media_write = pool_timeout, media_write_timeout
        self._slots = asyncio.Semaphore(self.size)
        self._idle: deque[_Connection] = deque()
        self._origin: tuple[str, int, bool] | None = None
        self._tls: ssl.SSLContext | None = ssl_context
        self._targets: dict[str, tuple[tuple[str, int, bool], bytes]] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        while self._idle:
            self._idle.popleft().close()

    # -- one request ---------------------------------------------------------------------------------
    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        origin, head = self._target(url, method)
        body, content_type = _encode(request_data)
        files = request_data is not None and request_data.contains_files
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (self._media_write if files else self._write) if isinstance(write_timeout, DefaultValue) \
            else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        wait = self._pool_wait if isinstance(pool_timeout, DefaultValue) else pool_timeout
        message = b"%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (head, content_type, len(body), body)
        async with pool_slot(self._slots, wait):
            return await self._exchange(origin, message, read, write, connect)

    async def _exchange(self, origin: tuple[str, int, bool], message: bytes, read: float | None,
                        write: float | None, connect: float | None) -> tuple[int, bytes]:
        while True:
            conn = self._reuse(origin)
            reused = conn is not None
            if conn is None:
                conn = await self._open(origin, connect)
            answered = False
            try:
                async with asyncio.timeout(write):
                    conn.writer.write(message)
                    await conn.writer.drain()
                async with asyncio.timeout(read):
                    head = await conn.reader.readuntil(_HEAD_END)
                    answered = True
                    while head[9:10] == b"1":        # an interim answer (100 Continue...): the real one follows
                        head = await conn.reader.readuntil(_HEAD_END)
                    status, body, keep = await _answer(conn.reader, head)
            except TimeoutError:
                conn.close()
                raise TimedOut() from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                conn.close()
                if reused and not answered:      # the server had closed that idle connection: a new one
                    continue
                reason = f"{type(exc).__name__}: {exc}"
                raise NetworkError(f"connection to the Bot API failed: {reason}") from (
                    Unanswered(reason) if not answered else exc)
            except BaseException:                # cancelled (a long poll cut short at stop): the server must see it
                conn.close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn.close()
            return status, body

    def _reuse(self, origin: tuple[str, int, bool]) -> _Connection | None:
        if origin != self._origin:           # another server (tests): the idle connections are not for it
            while self._idle:
                self._idle.popleft().close()
            self._origin = origin
        while self._idle:
            conn = self._idle.pop()              # the most recently used: the least likely to be closed
            if conn.usable() and conn.origin == origin:   # (one still in flight at the switch comes back later)
                return conn
            conn.close()
        return None

    async def _open(self, origin: tuple[str, int, bool], timeout: float | None) -> _Connection:
        host, port, tls = origin
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, ssl=self._tls if tls else None)
        except TimeoutError:
            raise TimedOut("connecting to the Bot API timed out") from None
        except OSError as exc:
            raise NetworkError(f"cannot connect to the Bot API: {exc}") from Unanswered(str(exc))
        return _Connection(reader, writer, origin)

    def _target(self, url: str, method: str) -> tuple[tuple[str, int, bool], bytes]:
        """(host, port, tls) and the request's first lines, cached per URL (one per Bot API method)."""
        known = self._targets.get(url)
        if known is not None and known[1].startswith(method.encode()):
            return known
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname or ""
        host_header = f"[{host}]" if ":" in host else host        # an IPv6 address goes in brackets
        host_header = host_header if parts.port is None else f"{host_header}:{parts.port}"
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {self.USER_AGENT}\r\n"
                "Accept: */*\r\nConnection: keep-alive\r\n").encode()
        known = (host, port, tls), head
        if len(self._targets) < 256:
            self._targets[url] = known
        return known


# -- bodies ------------------------------------------------------------------------------------------
def _encode(data: RequestData | None) -> tuple[bytes, bytes]:
    """The body and its content type: a form, or a multipart form when the request uploads a file."""
    if data is None:
        return b"", b"application/x-www-form-urlencoded"
    fields = data.json_parameters
    if not data.contains_files:
        return urlencode(fields).encode(), b"application/x-www-form-urlencoded"
    boundary = secrets.token_hex(16).encode()
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks += [b"--", boundary, b'\r\nContent-Disposition: form-data; name="', _quote(name), b'"\r\n\r\n',
                   value.encode(), b"\r\n"]
    for name, (filename, content, mimetype) in data.multipart_data.items():
        chunks += [b"--", boundary, b'\r\nContent-Disposition: form-data; name="', _quote(name),
                   b'"; filename="', _quote(filename), b'"\r\nContent-Type: ', mimetype.encode(), b"\r\n\r\n",
                   _bytes(content), b"\r\n"]
    chunks += [b"--", boundary, b"--\r\n"]
    return b"".join(chunks), b"multipart/form-data; boundary=" + boundary


def _quote(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ").encode()


def _bytes(content: bytes | IO[bytes]) -> bytes:
    return content if isinstance(content, bytes) else content.read()


async def _answer(reader: asyncio.StreamReader, head: bytes) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection may be reused) from the status line and headers `head`."""
    lines = head[:-4].split(b"\r\n")
    version, status = lines[0].split(b" ", 2)[:2]
    length, chunked = None, False
    keep = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"keep-alive" in value.lower() if version != b"HTTP/1.1" else b"close" not in value.lower()
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":   # trailers
                    pass
                break
            parts.append(await reader.readexactly(size + 2))
        body = b"".join(p[:-2] for p in parts)
    elif length is not None:
        body = await reader.readexactly(length)
    elif status in (b"204", b"304"):
        body = b""                               # no body by definition (RFC 9112 6.3); not "read to the end"
    else:                                        # the body runs to the end of the connection
        body, keep = await reader.read(), False
    return int(status), body, keep
