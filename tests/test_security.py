"""Security: admin commands exist only for admins, webhook requests need the secret, credentials never
reach the logs, and every SQL statement in bot/ is parameterised."""
from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.process_harness import BotProcess, wait_view
from tests.fakebot import free_port
from tests.tg_harness import ADMIN_ID, replies, running_webhook_bot

ROOT = Path(__file__).resolve().parent.parent
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHANNEL_ID = -1001234567890


# -- admin commands -----------------------------------------------------------------------------------
ADMIN_COMMANDS = ["/stats", "/export", "/post", "/post @sellers_news", f"/post {CHANNEL_ID}", "/stats all",
                  "/export users", "/STATS", "/stats@ModeAdvisorBot"]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_commands_answer_everyone_else_like_an_unknown_command(fake, bot, command):
    channel = fake.channel(CHANNEL_ID, "Sellers news", username="sellers_news")
    user = fake.user(4242, "Mallory", language_code="en")
    await user.send("/nosuchcommand")
    unknown = [m.text for m in await replies(user)]
    await user.send(command)
    reply = [m.text for m in await replies(user)]
    assert reply == unknown
    assert not fake.calls("sendDocument")
    assert fake.transcript(channel.id) == []


async def test_admin_commands_in_a_group_answer_like_an_unknown_command(fake, bot):
    group = fake.group(-100555, "Sellers")
    user = fake.user(4243, "Trudy", language_code="en")
    group.add_member(user)
    await user.send("/nosuchcommand@ModeAdvisorBot", chat=group)
    unknown = (await group.next_reply()).text
    for command in ("/stats@ModeAdvisorBot", "/export@ModeAdvisorBot", "/post@ModeAdvisorBot @sellers_news"):
        await user.send(command, chat=group)
        assert (await group.next_reply()).text == unknown, command
    assert not fake.calls("sendDocument")


async def test_admins_do_get_them_and_they_are_not_advertised(fake, bot):
    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    await admin.send("/stats")
    assert "Users:" in (await replies(admin))[0].text
    advertised = {c["command"] for call in fake.calls("setMyCommands") for c in call.params["commands"]}
    assert advertised and not advertised & {"stats", "export", "post"}


# -- webhook secret -----------------------------------------------------------------------------------
async def test_webhook_requests_without_the_right_secret_are_rejected_and_not_handled(fake, tmp_path):
    async with running_webhook_bot(fake, tmp_path / "bot.sqlite3", "the-Right-secret_1") as (app, store, url):
        def update(update_id: int, user_id: int) -> dict:
            return {"update_id": update_id, "message": {
                "message_id": 1, "date": 0, "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                "chat": {"id": user_id, "type": "private", "first_name": "X"},
                "from": {"id": user_id, "is_bot": False, "first_name": "X"}}}
        wrong = [{}, {SECRET_HEADER: ""}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "the-right-secret_1"},
                 {SECRET_HEADER: "the-Right-secret_"}, {SECRET_HEADER: "the-Right-secret_12"},
                 {"X-Telegram-Bot-Api-Secret": "the-Right-secret_1"}]
        async with aiohttp.ClientSession() as http:
            for i, headers in enumerate(wrong):
                user_id = 4300 + i
                fake.user(user_id, "X", started=True)
                async with http.post(url, json=update(900_000 + i, user_id), headers=headers) as resp:
                    assert resp.status == 403, headers
            await asyncio.sleep(0.3)
            for i in range(len(wrong)):
                assert await store.load_session(f"{4300 + i}:{4300 + i}") is None
                assert fake.transcript(4300 + i) == []
            fake.user(4399, "Y", started=True)
            right = {SECRET_HEADER: "the-Right-secret_1"}
            async with http.post(url, json=update(900_100, 4399), headers=right) as resp:
                assert resp.status == 200
        await fake.notifier.wait_until(lambda: fake.transcript(4399), 5)


def secrets_in(text: str, *secrets: str) -> list[str]:
    """Which of the secrets (or their telling parts) occur in `text`."""
    found = []
    for secret in secrets:
        parts = {secret, secret.replace(":", "%3A")} | ({secret.split(":", 1)[1]} if ":" in secret else set())
        if any(p and p in text for p in parts):
            found.append(secret)
    return found


@pytest.mark.crash                                   # the bot as its own process
async def test_webhook_process_uses_a_random_secret_and_logs_no_credentials(fake, tmp_path):
    """`python -m bot run` in webhook mode without WEBHOOK_SECRET, logging at DEBUG."""
    port = free_port()
    bot = BotProcess(fake, tmp_path, log_level="DEBUG", extra_env={
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/hook", "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)})
    bot.start()
    try:
        call = await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok, timeout=30)
        secret = call.params.get("secret_token") or ""
        assert len(secret) >= 32, "the webhook must always have a long random secret"
        user = fake.user(4401, "Hook", language_code="en")
        await user.send("/start")
        assert "Question 1/4" in (await wait_view(user, 15)).text
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/tg/hook", json={"update_id": 5, "message": {}}) as resp:
                assert resp.status == 403
    finally:
        await bot.stop()
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert "webhook" in log.lower()
    assert secrets_in(log, fake.token, secret) == []


@pytest.mark.crash                                   # the bot as its own process
async def test_polling_process_never_logs_the_token_even_on_errors(fake, tmp_path):
    """DEBUG logging, and failures that make the bot log tracebacks: 5xx, dropped connections, a failing poll."""
    bot = BotProcess(fake, tmp_path, log_level="DEBUG", extra_env={"ADMIN_USER_IDS": "4501"})
    await bot.start_and_wait()
    try:
        user = fake.user(4501, "Admin", language_code="en")
        await user.send("/start")
        await wait_view(user, 15)
        fake.faults.add("500", "sendMessage")
        fake.faults.add("drop", "editMessageText")
        fake.faults.add("502", "getUpdates")
        await user.send("/help")
        await user.press(text="Own factory, cost under control")
        await fake.notifier.wait_until(lambda: sum(fake.faults.injected.values()) == 3, 20)
        await user.send("/stats")
        await fake.wait_for(lambda c: c.method == "sendMessage" and "Users:" in str(c.params.get("text")), timeout=15)
    finally:
        await bot.stop()
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" in log or "Exception" in log or "retry" in log.lower()   # the failures were logged
    assert secrets_in(log, fake.token) == []


# -- SQL -------------------------------------------------------------------------------------------------
EXECUTE = {"execute", "executemany", "executescript"}
SQL_WORDS = ("select ", "insert ", "update ", "delete ", "create ", "drop ", "pragma ", " where ", " values")


def _is_formatted(node: ast.AST) -> bool:
    """An f-string, concatenation, % formatting or .format()/.join() call building a string."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join", "replace"))


def _constant_strings(node: ast.AST) -> str:
    return " ".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def sql_problems(source: str, filename: str) -> list[str]:
    """`execute(` calls (also through an alias such as `q = self.db.execute`) whose SQL is built by
    formatting, directly or through a variable assigned in the same file; and any formatted string
    that reads as SQL."""
    tree = ast.parse(source, filename)
    aliases = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Attribute)
               and n.value.attr in EXECUTE for t in n.targets if isinstance(t, ast.Name)}
    formatted_names = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and _is_formatted(n.value)
                       for t in n.targets if isinstance(t, ast.Name)}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in EXECUTE or name in aliases:
                sql = node.args[0]
                if _is_formatted(sql) or (isinstance(sql, ast.Name) and sql.id in formatted_names):
                    problems.append(f"{filename}:{node.lineno}: {name}() with SQL built by formatting: "
                                    f"{ast.unparse(sql)[:80]}")
        if _is_formatted(node) and any(w in _constant_strings(node).lower() for w in SQL_WORDS):
            text = _constant_strings(node).lower()
            if text.lstrip().startswith(("select", "insert", "update", "delete", "create", "drop", "pragma")):
                problems.append(f"{filename}:{node.lineno}: SQL built by formatting: {ast.unparse(node)[:80]}")
    return sorted(set(problems))


def test_the_sql_checker_catches_formatting():
    bad = '''
def f(db, table, x):
    db.execute(f"SELECT * FROM {table} WHERE id={x}")
    db.execute("SELECT * FROM t WHERE id=" + x)
    db.executemany("DELETE FROM t WHERE id=%s" % x, [])
    q = db.execute
    q("UPDATE t SET a={}".format(x))
    sql = f"INSERT INTO t VALUES({x})"
    db.execute(sql)
    db.execute("SELECT * FROM t WHERE id=?", (x,))
'''
    found = sql_problems(bad, "bad.py")
    assert {int(p.split(":")[1]) for p in found} == {3, 4, 5, 7, 8, 9}, found


def test_all_sql_in_bot_is_parameterised():
    problems = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        problems += sql_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == [], "\n".join(problems)
