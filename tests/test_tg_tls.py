"""The Bot API over HTTPS: the fake Bot API served with TLS on a throwaway self-signed certificate (made by the
openssl command-line tool for this test run), the bot trusting it through TELEGRAM_CA_FILE, and a short
conversation plus a photo upload (a multipart form) through each Bot API client (TELEGRAM_HTTP). Without the
CA file the system's trust store is used, and it refuses the certificate."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import ssl
import subprocess
import sys
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiohttp import web
from PIL import Image
from telegram.error import NetworkError

from bot.config import Settings
from bot import ROOT
from bot.tg.request import ProxyLoginRefused, RetryingHttpxRequest, RetryingRequest, make_request
from tests.fakebot import FakeTelegram
from tests.tg_harness import assert_clean, replies, running_bot


TELEGRAM_HOST = "api.telegram.invalid"      # resolves nowhere: only the test's proxy knows where it is


class TlsFakeTelegram(FakeTelegram):
    """The fake Bot API listening with TLS (base_url https://127.0.0.1:PORT)."""

    def __init__(self, server_tls: ssl.SSLContext, **kwargs):
        super().__init__(**kwargs)
        self.server_tls = server_tls

    async def start(self) -> "TlsFakeTelegram":
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self._port, ssl_context=self.server_tls).start()
        self._port = self._runner.addresses[0][1]
        return self

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self._port}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """(certificate, key) files: a self-signed certificate for 127.0.0.1, valid for a day."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", f"subjectAltName=IP:127.0.0.1,DNS:{TELEGRAM_HOST}"], check=True, capture_output=True)
    return cert, key


@pytest_asyncio.fixture
async def tls_fake(certificate):
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    async with TlsFakeTelegram(server_tls) as server:
        yield server
        assert_clean(server)


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("http", ["fast", "httpx"])
async def test_a_conversation_and_a_photo_upload_over_https(tls_fake, certificate, tmp_path, http):
    fake = tls_fake
    assert fake.base_url.startswith("https://")
    async with running_bot(fake, tmp_path / "bot.sqlite3", telegram_http=http,
                           telegram_ca_file=str(certificate[0])) as (app, store):
        assert isinstance(app.bot.request, RetryingRequest if http == "fast" else RetryingHttpxRequest)
        user = fake.user(7001, "Tao", language_code="zh-hans")
        await user.send("/start")
        assert "1/4" in (await replies(user))[-1].text
        await user.press(text="自有工厂，成本可控")
        assert "2/4" in (await replies(user))[-1].text
        await user.send("全托管谁来定价？")                         # a free-text question, answered, then the question again
        shown = await replies(user)
        assert "2/4" in shown[-1].text and len(shown[0].text) > 40
        picture = png()
        sent = await app.bot.send_photo(user.chat_id, photo=picture, caption="卡片 <b>card</b> \"quoted\"",
                                        parse_mode="HTML", filename="card \"1\".png")
        stored = fake.world.files[sent.photo[-1].file_id]
        assert stored.data == picture and sent.caption == "卡片 card \"quoted\""
        assert (await store.load_session(f"{user.id}:{user.chat_id}"))["a"] == {"factory": "own_factory"}
    uploads = [c for c in fake.calls("sendPhoto") if c.status == 200]
    assert len(uploads) == 1


@pytest.mark.parametrize("http", ["fast", "httpx"])
async def test_without_the_ca_file_the_system_trust_store_refuses_the_self_signed_certificate(tls_fake, http):
    settings = Settings(token=tls_fake.token, api_base_url=tls_fake.base_url, telegram_http=http)
    request = make_request(settings)
    request.pauses = ()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(f"{tls_fake.api_base_url}{tls_fake.token}/getMe", "POST")
        assert "CERTIFICATE_VERIFY_FAILED" in repr(raised.value) + repr(raised.value.__cause__) + repr(
            raised.value.__cause__.__cause__ if raised.value.__cause__ else None)
    finally:
        await request.shutdown()
    assert tls_fake.calls("getMe") == []


class TunnelProxy:
    """A proxy that only tunnels, as proxies do for https: an HTTP proxy's CONNECT host:port ("http") or a
    SOCKS5 CONNECT ("socks5"), with a user name and password when `login` is given (Proxy-Authorization:
    Basic; SOCKS5's RFC 1929). Every tunnel goes to `target` (host, port) whatever host was asked for (kept
    in `tunnels`); a side that closes closes the other. `refused` counts the logins it turned down."""

    def __init__(self, kind: str, target: tuple[str, int], login: tuple[str, str] | None = None):
        self.kind, self.target, self.login, self.tunnels = kind, target, login, []
        self.refused = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "TunnelProxy":
        self._server = await asyncio.start_server(self._tunnel, "127.0.0.1", 0)
        user = f"{quote(self.login[0], safe='')}:{quote(self.login[1], safe='')}@" if self.login else ""
        self.url = f"{self.kind}://{user}127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _tunnel(self, reader, writer) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            if await (self._http(reader, writer) if self.kind == "http" else self._socks5(reader, writer)):
                up_reader, up_writer = await asyncio.open_connection(*self.target)
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        writer.close()

    async def _http(self, reader, writer) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        verb, where = head.split(b" ")[:2]
        if verb != b"CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return False
        if self.login:
            expected = b"proxy-authorization: basic " + base64.b64encode(":".join(self.login).encode()).lower()
            if expected not in head.lower():
                self.refused += 1
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return False
        self.tunnels.append(where.decode())
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return True

    async def _socks5(self, reader, writer) -> bool:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        method = 2 if self.login else 0                # user name and password, or none
        if version != 5 or method not in methods:
            writer.write(b"\x05\xff")                 # no acceptable method
            return False
        writer.write(bytes([5, method]))
        if self.login:
            await reader.readexactly(1)
            user = await reader.readexactly((await reader.readexactly(1))[0])
            password = await reader.readexactly((await reader.readexactly(1))[0])
            if (user.decode(), password.decode()) != self.login:
                self.refused += 1
                writer.write(b"\x01\x01")
                return False
            writer.write(b"\x01\x00")
        _, command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            host = (await reader.readexactly(16)).hex()
        port = int.from_bytes(await reader.readexactly(2), "big")
        if command != 1:                                # CONNECT only
            writer.write(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return False
        self.tunnels.append(f"{host}:{port}")
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")   # succeeded
        return True

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@pytest.mark.parametrize("kind,login", [("http", None), ("socks5", None), ("http", ("seller", "p@ss:w/rd")),
                                        ("socks5", ("卖家", "p@ss:w/rd"))], ids=["http", "socks5", "http-login",
                                                                               "socks5-login"])
async def test_a_conversation_over_https_through_a_proxy(tls_fake, certificate, tmp_path, monkeypatch, kind, login):
    """TELEGRAM_PROXY: every Bot API call goes through the proxy's tunnel (python-telegram-bot's httpx client),
    TLS end to end with the Bot API's host; a long poll cut short at stop closes its tunnel, so the fake sees no
    second poller."""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    fake = tls_fake
    async with TunnelProxy(kind, (fake.host, fake.port), login) as proxy:
        async with running_bot(fake, tmp_path / "bot.sqlite3", api_base_url=f"https://{TELEGRAM_HOST}",
                               telegram_proxy=proxy.url, telegram_ca_file=str(certificate[0])) as (app, _):
            assert isinstance(app.bot.request, RetryingHttpxRequest)
            user = fake.user(7002, "Via", language_code="en")
            await user.send("/start")
            assert "Question 1/4" in (await replies(user))[-1].text
            await user.press(text="Own factory, cost under control")
            assert "Question 2/4" in (await replies(user))[-1].text
    assert proxy.tunnels and set(proxy.tunnels) == {f"{TELEGRAM_HOST}:443"}


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_a_proxy_that_refuses_its_login_fails_at_once_naming_the_setting(tls_fake, certificate, monkeypatch,
                                                                               caplog, kind):
    """A refused proxy login (407 Proxy Authentication Required; a SOCKS5 proxy turning the user name and password
    down) will not get better by retrying: one attempt, then an error that names TELEGRAM_PROXY, never its password."""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.INFO)
    async with TunnelProxy(kind, (tls_fake.host, tls_fake.port), ("seller", "right-one")) as proxy:
        wrong = proxy.url.replace("right-one", "s3cret-typo")
        request = make_request(Settings(token=tls_fake.token, api_base_url=f"https://{TELEGRAM_HOST}",
                                        telegram_proxy=wrong, telegram_ca_file=str(certificate[0])))
        request.pauses = (0.0, 0.0, 0.0)
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as raised:
                await request.do_request(f"https://{TELEGRAM_HOST}/bot{tls_fake.token}/getMe", "POST")
        finally:
            await request.shutdown()
    assert proxy.refused == 1, f"a refused login was tried {proxy.refused} times"
    assert isinstance(raised.value, ProxyLoginRefused) and "TELEGRAM_PROXY" in str(raised.value)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "TELEGRAM_PROXY" in errors[0] and "refused" in errors[0], errors
    assert "s3cret-typo" not in caplog.text + str(raised.value)
    assert tls_fake.calls("getMe") == []


@pytest.mark.crash
def test_the_bot_with_a_refused_proxy_login_exits_at_start_up_with_a_clear_message(tmp_path):
    """`python -m bot run` through a proxy that refuses its login stops at once (exit 3, as for another running
    instance), saying which setting to check, without a traceback or the password."""
    async def run():
        async with TunnelProxy("http", ("127.0.0.1", 9), ("seller", "right-one")) as proxy:
            env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TELEGRAM_BOT_TOKEN": "123:abc",
                   "DATABASE_URL": f"sqlite:///{tmp_path}/bot.sqlite3", "TELEGRAM_API_BASE_URL": f"https://{TELEGRAM_HOST}",
                   "TELEGRAM_PROXY": proxy.url.replace("right-one", "s3cret-typo"), "LOG_LEVEL": "INFO"}
            bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                                                       stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(bot.communicate(), 60)
            return bot.returncode, out.decode(), proxy.refused
    code, out, refused = asyncio.run(run())
    assert code == 3 and refused == 1, (code, refused, out[-2000:])
    assert "TELEGRAM_PROXY" in out and "Traceback" not in out and "s3cret-typo" not in out, out[-2000:]


async def test_polling_stops_on_a_refused_proxy_login_instead_of_retrying():
    """Mid-run, a refused login stops the polling loop (the bot exits 3) like a revoked token; a dropped
    connection is still waited out and retried."""
    from types import SimpleNamespace

    from bot.tg.dispatch import ChatDispatcher
    from bot.tg.polling import poll

    calls = []

    async def get_raw_updates(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise NetworkError("connection dropped")
        raise ProxyLoginRefused("the proxy for the Bot API refused its login")

    async def handle(update):
        pass
    app = SimpleNamespace(bot=SimpleNamespace(get_raw_updates=get_raw_updates))
    with pytest.raises(ProxyLoginRefused):
        await asyncio.wait_for(poll(app, asyncio.Event(), 1, [], ChatDispatcher(handle)), 10)
    assert len(calls) == 2
