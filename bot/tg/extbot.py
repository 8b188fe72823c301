"""python-telegram-bot's ExtBot with two additions the dispatcher needs.

* Each callback query is answered at most once: the first answer wins (the handler's, or the
  dispatcher's early "busy" answer when the handler is late), later ones are dropped as done.
* Updates can be fetched as raw JSON, so the polling loop parses only updates it has not seen: while
  the oldest update is still in flight, getUpdates keeps returning the newer ones it already has.
"""
from __future__ import annotations

from typing import Any

from telegram.ext import ExtBot

from bot.tg.dispatch import CallbackAnswers


class AdvisorBot(ExtBot):
    __slots__ = ("callback_answers",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self.callback_answers = CallbackAnswers()

    async def answer_callback_query(self, callback_query_id: str, *args: Any, **kwargs: Any) -> bool:
        if not self.callback_answers.claim(callback_query_id):
            return True                      # answered already (early, by the dispatcher)
        try:
            return await super().answer_callback_query(callback_query_id, *args, **kwargs)
        except BaseException:
            self.callback_answers.release(callback_query_id)
            raise

    async def get_raw_updates(self, offset: int | None, timeout: int, allowed_updates: list[str],
                              read_timeout: float, limit: int = 100) -> list[dict]:
        """getUpdates without turning the result into Update objects."""
        data: dict[str, Any] = {"timeout": timeout, "limit": limit, "allowed_updates": allowed_updates}
        if offset is not None:
            data["offset"] = offset
        return await self._post("getUpdates", data, read_timeout=read_timeout)
