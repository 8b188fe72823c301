"""Webhook mode (bot.tg.webhook) with its secret token, and Telegram's 429 handled by the flood limiter."""
from __future__ import annotations

import aiohttp

from tests.tg_harness import replies, running_bot, running_webhook_bot


async def test_webhook_mode_delivers_updates_and_checks_the_secret(fake, tmp_path):
    async with running_webhook_bot(fake, tmp_path / "bot.sqlite3", "s3cret-token") as (app, store, url):
        user = fake.user(4001, "Hook", language_code="en")
        await user.send("/start")
        shown = await replies(user)
        assert "Question 1/4" in shown[-1].text
        await user.press(text="Own factory, cost under control")
        assert "Question 2/4" in (await user.next_reply()).text
        update = {"update_id": 999999, "message": {"message_id": 1, "date": 0, "text": "/start",
                                                   "chat": {"id": 4001, "type": "private"},
                                                   "from": {"id": 4001, "is_bot": False, "first_name": "X"}}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
        assert (await store.load_session("4001:4001"))["a"] == {"factory": "own_factory"}


async def test_429_is_retried_after_retry_after_without_duplicates(fake, tmp_path):
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True):
        user = fake.user(4002, "Slow", language_code="en")
        await user.send("/start")
        await replies(user)
        fake.faults.add("429", "sendMessage", count=1, retry_after=1)
        await user.send("2")
        shown = await replies(user, first=10)
        assert [m.text.splitlines()[0] for m in shown] == ["Question 2/4"]
        assert fake.faults.injected["429"] == 1
        sends = [c for c in fake.calls("sendMessage") if c.params.get("chat_id") == 4002]
        assert [c.status for c in sends[-2:]] == [429, 200]


# -- bot.tg.transport against a raw HTTP server with odd behaviours ----------------------------------------------
# Each test scripts a tiny asyncio server: `answer(reader, writer, n)` serves connection n (0, 1, ...) and
# returns when it is done with it. The client is the production one (RetryingRequest: the fast transport with
# the retry rule), called the way python-telegram-bot calls it.
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
from telegram.error import NetworkError, RetryAfter, TimedOut  # noqa: E402
from telegram.request import RequestData  # noqa: E402
from telegram.request._requestparameter import RequestParameter  # noqa: E402

from bot.tg.request import RetryingRequest  # noqa: E402
from bot.tg.transport import Unanswered  # noqa: E402

OK = json.dumps({"ok": True, "result": {"message_id": 7}}).encode()


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is served by `answer(reader, writer, n)`; it counts
    connections and the requests read with `read_request`."""

    def __init__(self, answer):
        self.answer, self.connections, self.requests = answer, 0, []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "RawServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/botTOKEN/sendMessage"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        n, self.connections = self.connections, self.connections + 1
        try:
            await self.answer(self, reader, writer, n)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass                                     # the client went away, or the test ended
        finally:
            writer.close()

    async def read_request(self, reader) -> bytes:
        """One request (head and its Content-Length body); the body is kept in `requests`."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        body = await reader.readexactly(length)
        self.requests.append(body)
        return body


def response(status: int = 200, body: bytes = OK, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


def form(text: str = "hi") -> RequestData:
    return RequestData([RequestParameter.from_input("chat_id", 1), RequestParameter.from_input("text", text)])


async def dribble(writer, data: bytes, size: int = 1) -> None:
    """Write `data` a few bytes at a time, each piece its own TCP segment (the reader sees many small reads)."""
    for i in range(0, len(data), size):
        writer.write(data[i:i + size])
        await writer.drain()
        await asyncio.sleep(0.001)


async def test_a_chunked_answer_with_extensions_and_trailers_arriving_byte_by_byte():
    pieces = [OK[:5], OK[5:6], OK[6:]]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: 1\r\n\r\n"

    async def answer(server, reader, writer, n):
        for _ in range(2):                                   # the connection is kept and reused
            await server.read_request(reader)
            await dribble(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)

    async with RawServer(answer) as server:
        request = RetryingRequest()
        assert await request.do_request(server.url, "POST", form()) == (200, OK)
        assert await request.do_request(server.url, "POST", form("again")) == (200, OK)
        await request.shutdown()
    assert server.connections == 1 and len(server.requests) == 2


async def test_an_answer_split_into_many_small_reads_and_one_in_a_single_write_with_the_next_head():
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        await dribble(writer, response(200, OK * 3)[:-1], size=3)     # the head's \r\n\r\n split across reads
        await asyncio.sleep(0.02)
        writer.write(response(200, OK * 3)[-1:])
        await writer.drain()
        await server.read_request(reader)
        writer.write(response(200, b'{"ok":true,"result":true}'))
        await writer.drain()
        await reader.read()

    async with RawServer(answer) as server:
        request = RetryingRequest()
        assert await request.do_request(server.url, "POST", form()) == (200, OK * 3)
        assert await request.do_request(server.url, "POST", form()) == (200, b'{"ok":true,"result":true}')
        await request.shutdown()


async def test_a_keep_alive_connection_the_server_closed_while_idle_is_replaced():
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        writer.write(response())            # no "Connection: close": then the server closes anyway
        await writer.drain()

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=())
        assert await request.do_request(server.url, "POST", form()) == (200, OK)
        await asyncio.sleep(0.05)           # the close arrives while the connection is idle
        assert await request.do_request(server.url, "POST", form()) == (200, OK)
        await request.shutdown()
    assert server.connections == 2 and len(server.requests) == 2


async def test_a_reused_connection_closed_as_the_request_arrives_is_sent_once_more_on_a_new_one():
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        if n == 0:
            writer.write(response())
            await writer.drain()
            await server.read_request(reader)      # the second request on the kept connection: closed unanswered
            return
        writer.write(response(200, b'{"ok":true,"result":2}'))
        await writer.drain()

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=())       # the resend is the transport's own, not a retry
        assert await request.do_request(server.url, "POST", form()) == (200, OK)
        assert await request.do_request(server.url, "POST", form()) == (200, b'{"ok":true,"result":2}')
        await request.shutdown()
    assert server.connections == 2 and len(server.requests) == 3


async def test_a_new_connection_closed_before_any_answer_is_retried():
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        if n % 2 == 1:
            writer.write(response())
            await writer.drain()
                                                     # even connections: closed with no answer
    async with RawServer(answer) as server:
        retrying, once = RetryingRequest(pauses=(0.0,)), RetryingRequest(pauses=())
        assert await retrying.do_request(server.url, "POST", form()) == (200, OK)
        assert (server.connections, len(server.requests)) == (2, 2)
        with pytest.raises(NetworkError) as raised:
            await once.do_request(server.url, "POST", form())
        assert isinstance(raised.value.__cause__, Unanswered)
        await retrying.shutdown()
        await once.shutdown()


async def test_a_connection_closed_in_the_middle_of_an_answer_is_not_retried():
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        writer.write(response()[:-5])                # the head and part of the body, then closed
        await writer.drain()

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=(0.0, 0.0))
        with pytest.raises(NetworkError) as raised:
            await request.do_request(server.url, "POST", form())
        assert not isinstance(raised.value.__cause__, Unanswered)
        assert len(server.requests) == 1              # answered in part: it may have been carried out
        await request.shutdown()


async def test_a_429_goes_to_python_telegram_bot_as_retry_after_unretried():
    body = json.dumps({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                       "parameters": {"retry_after": 7}}).encode()

    async def answer(server, reader, writer, n):
        while True:
            await server.read_request(reader)
            writer.write(response(429, body))
            await writer.drain()

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=(0.0, 0.0))
        with pytest.raises(RetryAfter) as raised:
            await request.post(server.url, form())
        assert raised.value.retry_after in (7, __import__("datetime").timedelta(seconds=7))
        assert len(server.requests) == 1               # waiting it out is the flood limiter's job
        await request.shutdown()


NGINX_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


async def test_a_502_from_a_proxy_in_front_is_retried_then_reported():
    failing = {"until": 3}                          # answers before this many requests are 502s

    async def answer(server, reader, writer, n):
        while True:
            await server.read_request(reader)
            ok = len(server.requests) >= failing["until"]
            writer.write(response(200) if ok else response(502, NGINX_502, "Connection: close"))
            await writer.drain()
            if not ok:
                return

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=(0.0, 0.0))
        assert await request.do_request(server.url, "POST", form()) == (200, OK)
        assert len(server.requests) == 3 and server.connections == 3      # "Connection: close" was honoured
        failing["until"] = 100                         # from now on every answer is a 502
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await RetryingRequest(pauses=(0.0,)).post(server.url, form())
        await request.shutdown()


async def test_a_server_that_never_answers_times_out_once_and_the_connection_is_closed():
    closed = asyncio.Event()

    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        await reader.read()                           # waits until the client gives up and closes
        closed.set()

    async with RawServer(answer) as server:
        request = RetryingRequest(pauses=(0.0, 0.0), read_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await request.do_request(server.url, "POST", form())
        assert 0.25 < time.monotonic() - started < 2
        await asyncio.wait_for(closed.wait(), 2)
        assert len(server.requests) == 1               # a read timeout is not repeated: it may have been done
        await request.shutdown()


@pytest.mark.parametrize("head,body,status,close", [
    (b"HTTP/1.0 200 OK\r\n\r\n", OK, 200, True),                       # HTTP/1.0: the body runs to the close
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", OK, 200, True),  # no length: the body runs to the close
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(OK), OK, 200, False),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b"", 204, False),                # no body: not read until a close
], ids=["http1.0", "until-close", "100-continue", "204"])
async def test_answers_without_a_content_length(head, body, status, close):
    async def answer(server, reader, writer, n):
        await server.read_request(reader)
        writer.write(head + body)
        await writer.drain()
        if not close:
            await reader.read()                       # the connection stays open until the client closes it

    async with RawServer(answer) as server:
        request = RetryingRequest(read_timeout=2)
        assert await request.do_request(server.url, "POST", form()) == (status, body)
        await request.shutdown()


async def test_a_connection_to_one_server_is_never_reused_for_another():
    """A request to server A still in flight when the client turns to server B (tests do) comes back to the
    idle connections after the switch: it must not carry B's next request to A."""
    async def keep_answering(server, reader, writer, n):
        while True:
            await server.read_request(reader)
            await asyncio.sleep(0.3 if server is a else 0)
            writer.write(response())
            await writer.drain()

    async with RawServer(keep_answering) as a, RawServer(keep_answering) as b:
        request = RetryingRequest(connection_pool_size=2)
        slow = asyncio.ensure_future(request.do_request(a.url, "POST", form()))
        await asyncio.sleep(0.05)
        assert await request.do_request(b.url, "POST", form()) == (200, OK)
        assert await slow == (200, OK)                # A's connection is idle again, after the switch to B
        assert await request.do_request(b.url, "POST", form()) == (200, OK)
        await request.shutdown()
    assert (len(a.requests), len(b.requests)) == (1, 2)

def test_the_host_header_of_an_ipv6_address_is_bracketed():
    from bot.tg.transport import BotApiRequest
    (host, port, tls), head = BotApiRequest()._target("https://[::1]:8443/botT/getMe", "POST")
    assert (host, port, tls) == ("::1", 8443, True) and b"\r\nHost: [::1]:8443\r\n" in head


# -- choosing the client: TELEGRAM_HTTP, TELEGRAM_PROXY and the environment's proxy ---------------------------------
from bot.config import Settings  # noqa: E402
from bot.tg.request import client_for  # noqa: E402

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
              "no_proxy")


@pytest.fixture
def no_env_proxy(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_telegram_http_is_fast_unless_httpx_is_asked_for_or_a_proxy_applies(no_env_proxy):
    load = lambda **env: Settings.load(env=env, env_file=None)     # noqa: E731
    assert client_for(load()) == "fast" and client_for(load(TELEGRAM_HTTP="httpx")) == "httpx"
    with pytest.raises(ValueError, match="TELEGRAM_HTTP"):
        load(TELEGRAM_HTTP="curl")
    assert client_for(load(TELEGRAM_PROXY="socks5://127.0.0.1:1080")) == "httpx"
    no_env_proxy.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")      # httpx would use it; the fast client cannot
    assert client_for(load()) == "httpx"
    assert client_for(load(TELEGRAM_API_BASE_URL="http://127.0.0.1:8081")) == "fast"   # no http:// proxy set
    no_env_proxy.setenv("NO_PROXY", "api.telegram.org")
    assert client_for(load()) == "fast"
