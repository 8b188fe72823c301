"""Logs an operator can read (plain or JSON, secrets never shown, libraries quiet) and the metrics."""
from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import setup_logging
from bot.metrics import MeteredStore, value
from bot.store import Event, SQLiteStore, Turn

TOKEN = "7000000001:AAFakeBotTokenForModeAdvisorTests_000"
SECRET = "webhook-secret-abcdefgh"


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "transitions", "telegram", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


def _capture(fmt: str) -> io.StringIO:
    setup_logging("DEBUG", fmt, (TOKEN, SECRET))
    out = io.StringIO()
    logging.getLogger().handlers[0].setStream(out)
    return out


def test_json_lines_with_fields_and_no_secrets_even_in_tracebacks():
    out = _capture("json")
    log = logging.getLogger("bot.test")
    log.debug("update %s handled", 5, extra={"update_id": 5, "outcome": "processed"})
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage with secret {SECRET}")
    except RuntimeError:
        log.error("error handling update %s (user %s)", 6, 42, exc_info=True)
    logging.getLogger("httpx").info(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getMe")
    logging.getLogger("transitions.core").info("Finished processing state factory exit callbacks.")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["msg"] for x in lines] == ["update 5 handled", "error handling update 6 (user 42)"]
    assert lines[0]["update_id"] == 5 and lines[0]["outcome"] == "processed" and lines[0]["level"] == "DEBUG"
    assert "RuntimeError" in lines[1]["exc"] and "<redacted>" in lines[1]["exc"]
    text = out.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text and SECRET not in text


def test_plain_lines_redact_too():
    out = _capture("plain")
    logging.getLogger("bot").warning("token %s secret %s", TOKEN, SECRET)
    text = out.getvalue()
    assert "WARNING bot: token <redacted> secret <redacted>" in text


async def test_metered_store_times_calls_and_counts_questionnaires():
    store = MeteredStore(SQLiteStore(":memory:"))
    started, completed = value("advisor_questionnaires_started_total"), \
        value("advisor_questionnaires_completed_total", mode="semi")
    timed = value("advisor_store_seconds_count", op="commit_turn")
    await store.commit_turn(Turn("1:1", {"s": "result"}, [Event("quiz_started", "1"), Event("quiz_completed", "1", "semi")]))
    assert value("advisor_questionnaires_started_total") == started + 1
    assert value("advisor_questionnaires_completed_total", mode="semi") == completed + 1
    assert value("advisor_store_seconds_count", op="commit_turn") == timed + 1
    assert (await store.touch_user("1", "en")).lang == "en"
    await store.close()
