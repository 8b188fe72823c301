"""Test drivers: users, groups and channels that produce updates like Telegram's clients do."""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING, Any

from .htmlparse import detect_entities
from .state import Chat, StoredMessage, UserInfo, member_object, now

if TYPE_CHECKING:
    from .server import FakeTelegram, QueryState

_query_ids = itertools.count(random.randrange(10**17, 10**18) * 10)


class FakeUsageError(AssertionError):
    """A test drove the fake in a way no real user could (e.g. pressed a missing button)."""


class _Reader:
    """Per-driver cursor over the bot's outputs in each chat (for ``next_reply``)."""

    fake: FakeTelegram

    def _init_reader(self) -> None:
        self._cursors: dict[int | None, int] = {}

    async def _next(self, chat_id: int | None, timeout: float) -> StoredMessage:
        index, snap = await self.fake.wait_for_reply(chat_id, self._cursors.get(chat_id, 0), timeout)
        self._cursors[chat_id] = index
        return snap

    def skip_replies(self, chat_id: int | None) -> None:
        """Mark every output so far as read."""
        chat = self.fake.world.chats.get(chat_id) if chat_id is not None else None
        self._cursors[chat_id] = len(chat.events if chat else self.fake.inline_events)


class FakeUser(_Reader):
    """A Telegram user: ``await user.send("/start")`` then ``await user.next_reply()``."""

    def __init__(self, fake: FakeTelegram, info: UserInfo) -> None:
        self.fake, self.info = fake, info
        self.chat = fake.world.add_user(info)
        self._init_reader()

    id = property(lambda self: self.info.id)
    chat_id = property(lambda self: self.info.id)

    def _chat(self, chat: Any) -> Chat:
        if chat is None:
            return self.chat
        if isinstance(chat, (FakeGroup, FakeChannel)):
            return chat.chat
        if isinstance(chat, Chat):
            return chat
        return self.fake.world.chats[int(chat)]

    def _delivered(self, chat: Chat, msg: StoredMessage) -> bool:
        if chat.type == "private" or not self.fake.options.privacy_mode:
            return True
        if chat.bot_status in ("left", "kicked"):
            return False
        if chat.bot_status == "administrator":
            return True
        text = msg.text or msg.caption or ""
        me = f"@{self.fake.bot_user.username}".lower()
        reply = msg.extra.get("reply_to_message", {})
        command = text.split(maxsplit=1)[0].lower() if text.startswith("/") else ""
        return ((command and ("@" not in command or command.endswith(me))) or me in text.lower()
                or reply.get("from", {}).get("id") == self.fake.bot_user.id)

    async def _post(self, chat: Any = None, *, reply_to: Any = None, **content: Any) -> StoredMessage:
        target = self._chat(chat)
        if target.type == "private":
            if self.info.blocked:
                await self.unblock()
            self.info.started = True
        else:
            target.members.setdefault(self.id, "member")
        msg = StoredMessage(chat_id=target.id, message_id=target.new_message_id(), from_bot=False,
                            date=now(), sender=self.info.to_api(), **content)
        if reply_to is not None:
            replied = target.messages[reply_to if isinstance(reply_to, int) else reply_to.message_id]
            msg.extra["reply_to_message"] = replied.to_api(target.to_api())
        target.messages[msg.message_id] = msg
        if self._delivered(target, msg):
            self.fake.push_update({"message": msg.to_api(target.to_api())})
        return msg

    async def send(self, text: str, *, chat: Any = None, reply_to: Any = None,
                   entities: list[dict[str, Any]] | None = None) -> StoredMessage:
        """A text message; commands get a ``bot_command`` entity (also ``/cmd@botname``)."""
        found = detect_entities(text) if entities is None else entities
        return await self._post(chat, reply_to=reply_to, text=text, entities=found)

    async def send_sticker(self, emoji: str = "👍", *, chat: Any = None) -> StoredMessage:
        """A regular static sticker."""
        stored = self.fake.world.new_file(b"RIFF-sticker", "sticker.webp", "image/webp", kind="sticker")
        sticker = {**stored.to_api(), "width": 512, "height": 512, "is_animated": False,
                   "is_video": False, "type": "regular", "emoji": emoji}
        sticker.pop("file_name", None)
        sticker.pop("mime_type", None)
        return await self._post(chat, kind="sticker", media={"sticker": sticker})

    async def send_photo(self, data: bytes = b"\xff\xd8\xff fake jpeg", caption: str | None = None,
                         *, chat: Any = None) -> StoredMessage:
        """An 800x600 photo (in Telegram's sizes; its largest file_id can be sent on by the bot)."""
        sizes = self.fake.world.new_photo(data, 800, 600)
        return await self._post(chat, kind="photo", media={"photo": sizes},
                                caption=caption, caption_entities=detect_entities(caption or ""))

    async def send_voice(self, data: bytes = b"OggS fake voice", duration: int = 2, *,
                         chat: Any = None) -> StoredMessage:
        """A voice note."""
        stored = self.fake.world.new_file(data, None, "audio/ogg", kind="voice")
        voice = {**stored.to_api(), "duration": duration}
        return await self._post(chat, kind="voice", media={"voice": voice})

    async def send_document(self, file_name: str = "notes.txt", data: bytes = b"hello",
                            mime_type: str = "text/plain", caption: str | None = None, *,
                            chat: Any = None) -> StoredMessage:
        """A document upload."""
        stored = self.fake.world.new_file(data, file_name, mime_type)
        return await self._post(chat, kind="document", media={"document": stored.to_api()},
                                caption=caption)

    async def send_location(self, latitude: float, longitude: float, *, chat: Any = None) -> StoredMessage:
        """A location pin."""
        return await self._post(chat, kind="location",
                                media={"location": {"latitude": latitude, "longitude": longitude}})

    async def send_contact(self, phone_number: str, first_name: str, *, user_id: int | None = None,
                           chat: Any = None) -> StoredMessage:
        """A shared contact (``user_id`` set when sharing a Telegram user)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        return await self._post(chat, kind="contact", media={"contact": contact})

    async def forward(self, text: str, *, origin_user: UserInfo | FakeUser | None = None,
                      hidden_name: str | None = None, origin_chat: Any = None,
                      chat: Any = None) -> StoredMessage:
        """A forwarded text message with ``forward_origin`` (user, hidden user or channel)."""
        date = now() - 60
        if origin_chat is not None:
            source = self._chat(origin_chat)
            origin = {"type": "channel", "date": date, "chat": source.to_api(), "message_id": 1}
        elif hidden_name is not None:
            origin = {"type": "hidden_user", "date": date, "sender_user_name": hidden_name}
        else:
            who = origin_user.info if isinstance(origin_user, FakeUser) else (origin_user or self.info)
            origin = {"type": "user", "date": date, "sender_user": who.to_api()}
        return await self._post(chat, text=text, entities=detect_entities(text),
                                extra={"forward_origin": origin})

    async def edit(self, message: StoredMessage | int, text: str, *, chat: Any = None) -> StoredMessage:
        """Edit one of the user's own messages (an ``edited_message`` update)."""
        target = self._chat(chat)
        msg = target.messages[message if isinstance(message, int) else message.message_id]
        if msg.from_bot or (msg.sender or {}).get("id") != self.id:
            raise FakeUsageError("users can only edit their own messages")
        msg.text, msg.entities, msg.edit_date = text, detect_entities(text), now()
        self.fake.push_update({"edited_message": msg.to_api(target.to_api())})
        return msg

    async def press(self, message: StoredMessage | int | str | None = None,
                    callback_data: str | None = None, *, text: str | None = None,
                    chat: Any = None) -> QueryState:
        """Press an inline button of a bot message (default: its latest message with a keyboard).

        ``message`` may be a message, a message_id, or an ``inline_message_id`` string.
        """
        if isinstance(message, str):
            msg, target = self.fake.inline_messages.get(message), None
        else:
            target = self._chat(chat)
            if message is None:
                shown = [m for m in target.transcript() if m.buttons]
                msg = shown[-1] if shown else None
            else:
                msg = target.messages.get(message if isinstance(message, int) else message.message_id)
        if msg is None or msg.deleted:
            raise FakeUsageError(f"no such message to press a button on: {message!r}")
        button = msg.find_button(text=text, callback_data=callback_data)
        if button is None or "callback_data" not in button:
            raise FakeUsageError(
                f"message {msg.message_id} has no callback button text={text!r} "
                f"data={callback_data!r}; it shows {msg.buttons}")
        return self.push_callback(msg, button["callback_data"], chat=target)

    def push_callback(self, msg: StoredMessage, data: str, *, chat: Chat | None = None) -> QueryState:
        """Queue a ``callback_query`` with ``data`` on ``msg`` without checking its buttons.

        ``press`` is what a real client does; call this directly only to test stale or forged data.
        ``chat=None`` with an inline message (chat_id 0) sends ``inline_message_id`` instead.
        """
        from .server import QueryState

        inline_id = next((k for k, v in self.fake.inline_messages.items() if v is msg), None)
        target = None if inline_id else (chat or self.fake.world.chats[msg.chat_id])
        where: dict[str, Any] = ({"inline_message_id": inline_id} if target is None
                                 else {"message": msg.to_api(target.to_api())})
        query_id = str(next(_query_ids))
        record = self.fake.push_update({"callback_query": {
            "id": query_id, "from": self.info.to_api(), **where,
            "chat_instance": str(abs(hash((msg.chat_id, self.id))) % 10**18), "data": data}})
        state = QueryState(query_id, record.update_id, record.available_at, self.id, data,
                           target.id if target else None, msg.message_id)
        self.fake.callback_queries[query_id] = state
        return state

    async def inline_query(self, query: str, *, offset: str = "", chat_type: str = "sender") -> QueryState:
        """Type ``@bot query`` (an ``inline_query`` update)."""
        from .server import QueryState

        query_id = str(next(_query_ids))
        record = self.fake.push_update({"inline_query": {
            "id": query_id, "from": self.info.to_api(), "query": query, "offset": offset,
            "chat_type": chat_type}})
        state = QueryState(query_id, record.update_id, record.available_at, self.id, query)
        self.fake.inline_queries[query_id] = state
        return state

    async def choose_inline_result(self, query: QueryState, result_id: str) -> str:
        """Pick a result the bot answered (``chosen_inline_result``); returns its inline_message_id."""
        results = (query.answer or {}).get("results", [])
        result = next((r for r in results if r.get("id") == result_id), None)
        if result is None:
            raise FakeUsageError(f"inline query {query.id} has no answered result {result_id!r}")
        inline_id = f"AgAAA{next(_query_ids)}"
        content = result.get("input_message_content") or {}
        from .validate import CAPTION_LIMIT, parse_text

        sizes = (self.fake.world.photo_sizes(result.get("photo_file_id") or "")
                 if result.get("type") == "photo" and not content else None)
        if sizes is not None:                      # a cached photo result: the photo with its caption
            caption, caption_entities = parse_text(result.get("caption"), result.get("parse_mode"),
                                                   result.get("caption_entities"), limit=CAPTION_LIMIT,
                                                   caption=True, markdown="accept")
            message = StoredMessage(chat_id=0, message_id=0, from_bot=True, date=now(), sender=None,
                                    kind="photo", media={"photo": sizes}, caption=caption or None,
                                    caption_entities=caption_entities, reply_markup=result.get("reply_markup"))
        else:
            text, entities = parse_text(content.get("message_text") or result.get("title") or "-",
                                        content.get("parse_mode"), content.get("entities"),
                                        markdown="accept")
            message = StoredMessage(chat_id=0, message_id=0, from_bot=True, date=now(), sender=None, text=text,
                                    entities=entities, reply_markup=result.get("reply_markup"))
        self.fake.inline_messages[inline_id] = message
        self.fake.push_update({"chosen_inline_result": {
            "result_id": result_id, "from": self.info.to_api(), "query": query.data or "",
            "inline_message_id": inline_id}})
        return inline_id

    async def block(self) -> None:
        """Block the bot (Telegram sends ``my_chat_member`` with status ``kicked``)."""
        self.info.blocked = True
        self._member_update("member", "kicked")

    async def unblock(self) -> None:
        """Unblock/restart the bot."""
        self.info.blocked = False
        self.info.started = True
        self._member_update("kicked", "member")

    def _member_update(self, old: str, new: str) -> None:
        self.fake.push_update({"my_chat_member": {
            "chat": self.chat.to_api(), "from": self.info.to_api(), "date": now(),
            "old_chat_member": member_object(self.fake.bot_user, old),
            "new_chat_member": member_object(self.fake.bot_user, new)}})

    async def next_reply(self, timeout: float = 5.0, *, chat: Any = None) -> StoredMessage:
        """The bot's next send/edit in this user's private chat (or ``chat``), in order."""
        return await self._next(self._chat(chat).id, timeout)

    async def next_inline_reply(self, timeout: float = 5.0) -> StoredMessage:
        """The bot's next edit of an inline message (sent via inline mode)."""
        return await self._next(None, timeout)

    def transcript(self, chat: Any = None) -> list[StoredMessage]:
        """What the bot currently shows in the chat."""
        return self._chat(chat).transcript()


class FakeGroup(_Reader):
    """A group or supergroup; users talk in it with ``user.send(text, chat=group)``."""

    def __init__(self, fake: FakeTelegram, id: int, title: str, *, type: str = "supergroup",
                 username: str | None = None, bot_status: str = "member") -> None:
        self.fake = fake
        self.chat = fake.world.add_chat(Chat(id=id, type=type, title=title, username=username,
                                             bot_status=bot_status))
        self._init_reader()

    id = property(lambda self: self.chat.id)

    def add_member(self, user: FakeUser, status: str = "member") -> None:
        """Make ``user`` a member (``administrator``/``creator`` for admins)."""
        self.chat.members[user.id] = status

    async def add_bot(self, by: FakeUser, status: str = "member") -> None:
        """``by`` adds the bot: a ``my_chat_member`` update (left -> status)."""
        self._bot_status(by, status)

    async def remove_bot(self, by: FakeUser, *, kicked: bool = True) -> None:
        """``by`` removes the bot: ``my_chat_member`` (status -> kicked/left)."""
        self._bot_status(by, "kicked" if kicked else "left")

    def _bot_status(self, by: FakeUser, status: str) -> None:
        old = self.chat.bot_status if self.chat.bot_status != status else "left"
        self.chat.bot_status = status
        self.add_member(by, self.chat.members.get(by.id, "member"))
        self.fake.push_update({"my_chat_member": {
            "chat": self.chat.to_api(), "from": by.info.to_api(), "date": now(),
            "old_chat_member": member_object(self.fake.bot_user, old),
            "new_chat_member": member_object(self.fake.bot_user, status)}})

    async def next_reply(self, timeout: float = 5.0) -> StoredMessage:
        """The bot's next send/edit in this group."""
        return await self._next(self.chat.id, timeout)

    def transcript(self) -> list[StoredMessage]:
        return self.chat.transcript()


class FakeChannel(FakeGroup):
    """A channel; ``await channel.post(text)`` makes a ``channel_post`` update."""

    def __init__(self, fake: FakeTelegram, id: int, title: str, *, username: str | None = None,
                 bot_status: str = "administrator") -> None:
        super().__init__(fake, id, title, type="channel", username=username, bot_status=bot_status)

    async def post(self, text: str) -> StoredMessage:
        """A channel post (delivered when the bot is an administrator)."""
        msg = StoredMessage(chat_id=self.chat.id, message_id=self.chat.new_message_id(),
                            from_bot=False, date=now(), sender=None, text=text,
                            entities=detect_entities(text), extra={"sender_chat": self.chat.to_api()})
        self.chat.messages[msg.message_id] = msg
        if self.chat.bot_status == "administrator":
            self.fake.push_update({"channel_post": msg.to_api(self.chat.to_api())})
        return msg

    async def edit_post(self, message: StoredMessage, text: str) -> StoredMessage:
        """Edit a channel post (``edited_channel_post``)."""
        message.text, message.entities, message.edit_date = text, detect_entities(text), now()
        if self.chat.bot_status == "administrator":
            self.fake.push_update({"edited_channel_post": message.to_api(self.chat.to_api())})
        return message
