"""python-telegram-bot's ExtBot with two additions the dispatcher needs.

* Each callback query is answered at most once: the first answer wins (the handler's, or the
  dispatcher's early "busy" answer when the handler is late), later ones are dropped as done. Each
  answer Telegram takes is recorded in the store (who gave it: early or the handler), so a press
  redelivered after a crash is not answered again (Telegram would refuse it): bot/tg/app.py reads the
  record before handling a press. The handler's answer is recorded before its edit is sent; a crash in
  the instant between Telegram taking an answer and the record leaves the one case answered twice, and
  Telegram's refusal of that second answer is taken as "answered": the press is still handled.
* Updates can be fetched as raw JSON, so the polling loop parses only updates it has not seen: while
  the oldest update is still in flight, getUpdates keeps returning the newer ones it already has.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.store import BY_HANDLER, EARLY
from bot.tg.dispatch import CallbackAnswers

log = logging.getLogger(__name__)
# Telegram's refusal of an answer to a query answered already or older than its answer window
_ANSWERED_BEFORE = re.compile(r"query is too old|query id is invalid", re.I)


class AdvisorBot(ExtBot):
    __slots__ = ("callback_answers",)

    def __init__(self, *args: Any, answers_store: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self.callback_answers = CallbackAnswers(store=answers_store)

    async def answer_callback_query(self, callback_query_id: str, *args: Any, early: bool = False,
                                    **kwargs: Any) -> bool:
        """Answer once. `early`: the dispatcher's "busy" note for a press whose handler is late; it is not
        sent for a press answered before a restart either."""
        answers = self.callback_answers
        if early and not answers.answered(callback_query_id) and await answers.recorded(callback_query_id):
            answers.claim(callback_query_id)
        if not answers.claim(callback_query_id):
            if not early:                    # answered already (early, or before a restart)
                await answers.record(callback_query_id, BY_HANDLER)     # the handler got as far as its answer
            return True
        try:
            answered = await super().answer_callback_query(callback_query_id, *args, **kwargs)
        except BadRequest as exc:
            if not _ANSWERED_BEFORE.search(str(exc)):
                answers.release(callback_query_id)
                raise
            # answered before a crash, in the instant before the record was written (or too late to answer):
            # there is nothing left to answer, and the press itself still has to be handled
            log.info("callback query %s was answered already or is too old; handling the press", callback_query_id)
            answered = False
        except BaseException:
            answers.release(callback_query_id)
            raise
        await answers.record(callback_query_id, EARLY if early else BY_HANDLER)
        return answered

    async def get_raw_updates(self, offset: int | None, timeout: int, allowed_updates: list[str],
                              read_timeout: float, limit: int = 100) -> list[dict]:
        """getUpdates without turning the result into Update objects."""
        data: dict[str, Any] = {"timeout": timeout, "limit": limit, "allowed_updates": allowed_updates}
        if offset is not None:
            data["offset"] = offset
        return await self._post("getUpdates", data, read_timeout=read_timeout)
