"""The fake's world: users, chats, stored messages (per-chat transcripts), files and bot settings."""

from __future__ import annotations

import copy
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from . import errors as E
from .errors import bad_request, forbidden

ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
    "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
    "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
    "can_post_stories": True, "can_edit_stories": True, "can_delete_stories": True,
    "can_post_messages": True, "can_edit_messages": True, "can_pin_messages": True,
}


@dataclass
class UserInfo:
    """A Telegram user known to the fake."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool | None = None
    blocked: bool = False
    started: bool = False

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code", "is_premium"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class StoredMessage:
    """A message in a chat as Telegram would currently show it (``text`` is the parsed plain text)."""

    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    sender: dict[str, Any] | None
    kind: str = "text"
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    media: dict[str, Any] | None = None
    source: str | None = None
    parse_mode: str | None = None
    edit_date: int | None = None
    deleted: bool = False
    via: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (empty when there is no inline keyboard)."""
        return list((self.reply_markup or {}).get("inline_keyboard", []))

    @property
    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [b["text"] for row in self.buttons for b in row]

    @property
    def callback_datas(self) -> list[str]:
        """callback_data of all inline buttons that have one."""
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    def find_button(self, text: str | None = None, callback_data: str | None = None) -> dict | None:
        """The first inline button matching ``text`` and/or ``callback_data``."""
        for row in self.buttons:
            for button in row:
                if text is not None and button.get("text") != text:
                    continue
                if callback_data is not None and button.get("callback_data") != callback_data:
                    continue
                return button
        return None

    def snapshot(self, via: str) -> StoredMessage:
        """A frozen copy recording which call produced it."""
        snap = copy.deepcopy(self)
        snap.via = via
        return snap

    def to_api(self, chat: dict[str, Any]) -> dict[str, Any]:
        """The Bot API ``Message`` object."""
        data: dict[str, Any] = {"message_id": self.message_id, "date": self.date, "chat": chat}
        if self.sender is not None:
            data["from"] = self.sender
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.media:
            data.update(copy.deepcopy(self.media))
        if self.caption:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Chat:
    """A chat: private (with a user), group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: UserInfo | None = None
    bot_status: str = "member"
    members: dict[int, str] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    events: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            data.update(first_name=self.user.first_name)
            for key in ("last_name", "username"):
                if getattr(self.user, key):
                    data[key] = getattr(self.user, key)
        else:
            data["title"] = self.title or str(self.id)
            if self.username:
                data["username"] = self.username
        return data

    def full_info(self) -> dict[str, Any]:
        """The Bot API ``ChatFullInfo`` object (getChat)."""
        gifts = {k: False for k in ("unlimited_gifts", "limited_gifts", "unique_gifts",
                                    "premium_subscription", "gifts_from_channels")}
        return {**self.to_api(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": gifts}

    def transcript(self) -> list[StoredMessage]:
        """Messages the bot currently shows in this chat, oldest first."""
        return [m for m in self.messages.values() if m.from_bot and not m.deleted]

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


# Telegram's name of a file type in "can't use file of type X as Photo", per message kind.
FILE_TYPE_NAMES = {"document": "Document", "photo": "Photo", "voice": "VoiceNote", "audio": "Audio",
                   "video": "Video", "animation": "Animation", "sticker": "Sticker"}
# Photo sizes Telegram keeps of an uploaded photo: the longer side scaled to each of these (s, m, x, y, w),
# up to the original size.
PHOTO_SIDES = (90, 320, 800, 1280, 2560)


@dataclass
class StoredFile:
    """A file known to the fake (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    kind: str = "document"

    @property
    def file_path(self) -> str:
        if self.kind == "photo":
            return f"photos/{self.file_unique_id}.jpg"
        return f"documents/{self.file_unique_id}_{self.file_name or 'file'}"

    @property
    def type_name(self) -> str:
        return FILE_TYPE_NAMES.get(self.kind, self.kind.capitalize())

    def to_api(self) -> dict[str, Any]:
        """``Document``-shaped fields."""
        data: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                                "file_size": len(self.data)}
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data


class World:
    """All chats, users and files of one fake bot."""

    def __init__(self, bot: UserInfo) -> None:
        self.bot = bot
        self.users: dict[int, UserInfo] = {}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.photos: dict[str, list[dict[str, Any]]] = {}   # file_id of any size -> all PhotoSizes
        self._ids = itertools.count(1)

    def add_user(self, user: UserInfo) -> Chat:
        """Register a user and their private chat with the bot."""
        self.users[user.id] = user
        chat = self.chats.get(user.id) or Chat(id=user.id, type="private", user=user)
        chat.user = user
        self.chats[user.id] = chat
        return chat

    def add_chat(self, chat: Chat) -> Chat:
        """Register a group/supergroup/channel."""
        existing = self.chats.get(chat.id)
        if existing is not None:
            existing.title, existing.type, existing.username = chat.title, chat.type, chat.username
            existing.bot_status = chat.bot_status
            return existing
        self.chats[chat.id] = chat
        return chat

    def resolve_chat(self, chat_id: Any) -> Chat:
        """Find a chat by numeric id or ``@username``; ``chat not found`` otherwise."""
        if chat_id is None or chat_id == "":
            raise bad_request(E.CHAT_ID_EMPTY)
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            for chat in self.chats.values():
                if chat.type != "private" and (chat.username or "").lower() == name:
                    return chat
            raise bad_request(E.CHAT_NOT_FOUND)
        try:
            chat = self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise bad_request(E.CHAT_NOT_FOUND)
        return chat

    def check_can_send(self, chat: Chat) -> None:
        """Raise Telegram's 403/400 when the bot may not post in ``chat``."""
        if chat.type == "private":
            assert chat.user is not None
            if chat.user.blocked:
                raise forbidden(E.BLOCKED)
            if not chat.user.started:
                raise forbidden(E.CANT_INITIATE)
            return
        label = {"group": "group", "supergroup": "supergroup", "channel": "channel"}[chat.type]
        if chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {label} chat")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {label} chat")
        if chat.type == "channel" and chat.bot_status != "administrator":
            raise bad_request("need administrator rights in the channel chat")

    def new_file(self, data: bytes, file_name: str | None = None, mime_type: str | None = None,
                 kind: str = "document") -> StoredFile:
        """Store bytes under fresh Telegram-looking file ids."""
        digest = hashlib.sha1(data + str(next(self._ids)).encode()).hexdigest()
        if kind == "photo":
            stored = StoredFile(f"AgACAgI{digest[:40]}", f"AQAD{digest[:12]}", data, file_name, mime_type, kind)
        else:
            stored = StoredFile(f"BQACAgI{digest[:40]}", f"AgAD{digest[:12]}", data, file_name, mime_type, kind)
        self.files[stored.file_id] = stored
        return stored

    def new_photo(self, data: bytes, width: int, height: int) -> list[dict[str, Any]]:
        """Store a photo as Telegram does: several PhotoSizes, smallest first, each with its own file ids.

        Every size keeps the original bytes (the fake does not re-encode); ``file_size`` of the smaller
        sizes is scaled by area so that it looks like Telegram's.
        """
        longest = max(width, height, 1)
        sides = [s for s in PHOTO_SIDES if s < longest] + [longest]
        sizes = []
        for side in sides:
            scale = min(1.0, side / longest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            stored = self.new_file(data, None, "image/jpeg", kind="photo")
            file_size = len(data) if side == longest else max(1, round(len(data) * scale * scale))
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "file_size": file_size, "width": w, "height": h})
        for size in sizes:
            self.photos[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def photo_sizes(self, file_id: str) -> list[dict[str, Any]] | None:
        """All PhotoSizes of the photo that ``file_id`` (of any of its sizes) belongs to."""
        sizes = self.photos.get(file_id)
        return copy.deepcopy(sizes) if sizes is not None else None

    def member_json(self, chat: Chat, user_id: int) -> dict[str, Any]:
        """The Bot API ``ChatMember`` for ``user_id`` in ``chat``."""
        if user_id == self.bot.id:
            user, status = self.bot, chat.bot_status
        else:
            user = self.users.get(user_id)
            if user is None:
                raise bad_request("user not found")
            status = chat.members.get(user_id, "member" if chat.id == user_id else "left")
        return member_object(user, status)


def member_object(user: UserInfo, status: str) -> dict[str, Any]:
    """A ChatMember object of ``status`` with the fields PTB requires."""
    data: dict[str, Any] = {"user": user.to_api(), "status": status}
    if status == "administrator":
        data.update(ADMIN_RIGHTS)
    elif status == "creator":
        data["is_anonymous"] = False
    elif status == "kicked":
        data["until_date"] = 0
    return data


def now() -> int:
    """Telegram's ``date``: integer Unix time."""
    return int(time.time())
