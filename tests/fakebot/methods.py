"""Bot API methods of the fake (everything except getUpdates and webhooks, see ``server``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from . import errors as E
from . import validate as V
from .errors import bad_request
from .params import Params, UploadedFile
from .state import Chat, StoredMessage, member_object, now

if TYPE_CHECKING:
    from .server import FakeTelegram

Handler = Callable[["FakeTelegram", Params], Awaitable[Any]]
METHODS: dict[str, Handler] = {}
MEDIA_KINDS = ("document", "photo", "voice", "audio", "video", "animation", "sticker")


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a Bot API method under its canonical name."""

    def register(func: Handler) -> Handler:
        METHODS[name] = func
        return func

    return register


@method("getMe")
async def get_me(fake: FakeTelegram, p: Params) -> Any:
    return {**fake.bot_user.to_api(), "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": True, "can_connect_to_business": False,
            "has_main_web_app": False}


def _reply_target(chat: Chat, p: Params) -> dict[str, Any]:
    """Validate reply_parameters / reply_to_message_id; returns the ``reply_to_message`` extra."""
    params = p.get("reply_parameters") or {}
    target = params.get("message_id") if isinstance(params, dict) else None
    target = target if target is not None else p.int("reply_to_message_id")
    allow = p.bool("allow_sending_without_reply") or bool(
        isinstance(params, dict) and params.get("allow_sending_without_reply"))
    if target is None:
        return {}
    replied = chat.messages.get(int(target))
    if replied is None or replied.deleted:
        if allow:
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": replied.to_api(chat.to_api())}


def _store(fake: FakeTelegram, chat: Chat, via: str, p: Params, **fields: Any) -> dict[str, Any]:
    """Store a bot message in ``chat`` and return its API form."""
    extra = _reply_target(chat, p)
    msg = StoredMessage(chat_id=chat.id, message_id=chat.new_message_id(), from_bot=True,
                        date=now(), sender=None if chat.type == "channel" else fake.bot_user.to_api(),
                        via=via, extra=extra, **fields)
    if chat.type == "channel":
        msg.extra["sender_chat"] = chat.to_api()
    chat.messages[msg.message_id] = msg
    fake.bot_output(chat, msg, via)
    return msg.to_api(chat.to_api())


def _target_chat(fake: FakeTelegram, p: Params) -> Chat:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    fake.world.check_can_send(chat)
    return chat


@method("sendMessage")
async def send_message(fake: FakeTelegram, p: Params) -> Any:
    chat = _target_chat(fake, p)
    text, entities = V.parse_text(p.get("text"), p.get("parse_mode"), p.get("entities"),
                                  markdown=fake.markdown)
    markup = V.check_reply_markup(p.get("reply_markup"))
    return _store(fake, chat, "sendMessage", p, text=text, entities=entities, reply_markup=markup,
                  source=p.get("text"), parse_mode=p.get("parse_mode"))


def _photo_sizes(fake: FakeTelegram, value: UploadedFile | str | None) -> list[dict[str, Any]]:
    """The PhotoSizes of a photo given as an upload, a known file_id (reused) or a URL."""
    if value is None or value == "":
        raise bad_request(E.PHOTO_MISSING)
    if isinstance(value, UploadedFile):
        width, height = V.check_photo(value.data)
        return fake.world.new_photo(value.data, width, height)
    stored = fake.world.files.get(value)
    if stored is not None:
        sizes = fake.world.photo_sizes(value)
        if stored.kind != "photo" or sizes is None:
            raise bad_request(E.WRONG_FILE_TYPE.format(actual=stored.type_name, expected="Photo"))
        return sizes
    if value.startswith(("http://", "https://")):
        return fake.world.new_photo(b"", 640, 480)   # Telegram would download it; the fake cannot
    raise bad_request(E.WRONG_FILE_ID)


def _media_fields(fake: FakeTelegram, kind: str, value: UploadedFile | str | None) -> dict[str, Any]:
    if kind == "photo":
        return {"photo": _photo_sizes(fake, value)}
    if value is None or value == "":
        raise bad_request(f"there is no {kind} in the request")
    if isinstance(value, UploadedFile):
        if not value.data:
            raise bad_request("file must be non-empty")
        stored = fake.world.new_file(value.data, value.filename, value.content_type, kind=kind)
    elif value in fake.world.files:
        stored = fake.world.files[value]
    elif value.startswith(("http://", "https://")):
        stored = fake.world.new_file(b"", value.rsplit("/", 1)[-1], None, kind=kind)
    else:
        raise bad_request(E.WRONG_FILE_ID)
    base = stored.to_api()
    if kind in ("voice", "audio", "video", "animation"):
        base["duration"] = 1
    if kind in ("video", "animation", "sticker"):
        base.update(width=512, height=512)
    if kind == "sticker":
        base.update(is_animated=False, is_video=False, type="regular")
    return {kind: base}


async def _send_media(fake: FakeTelegram, p: Params, kind: str) -> Any:
    chat = _target_chat(fake, p)
    caption, caption_entities = V.parse_text(
        p.get("caption"), p.get("parse_mode"), p.get("caption_entities"),
        limit=V.CAPTION_LIMIT, caption=True, markdown=fake.markdown)
    markup = V.check_reply_markup(p.get("reply_markup"))
    media = _media_fields(fake, kind, p.file(kind))
    return _store(fake, chat, f"send{kind.capitalize()}", p, kind=kind, media=media,
                  caption=caption or None, caption_entities=caption_entities,
                  reply_markup=markup, source=p.get("caption"), parse_mode=p.get("parse_mode"))


for _kind in MEDIA_KINDS:
    METHODS[f"send{_kind.capitalize()}"] = (lambda k: lambda f, p: _send_media(f, p, k))(_kind)


@method("sendChatAction")
async def send_chat_action(fake: FakeTelegram, p: Params) -> Any:
    _target_chat(fake, p)
    V.check_chat_action(p.get("action"))
    return True


def _edit_target(fake: FakeTelegram, p: Params) -> tuple[Chat | None, StoredMessage]:
    inline_id = p.get("inline_message_id")
    if inline_id:
        msg = fake.inline_messages.get(str(inline_id))
        if msg is None:
            raise bad_request("MESSAGE_ID_INVALID")
        return None, msg
    chat = fake.world.resolve_chat(p.get("chat_id"))
    message_id = p.int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    msg = chat.messages.get(message_id)
    if msg is None or msg.deleted:
        raise bad_request(E.EDIT_NOT_FOUND)
    if not msg.from_bot:
        raise bad_request("message can't be edited")
    return chat, msg


def _inline_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and markup.get("inline_keyboard") else None


def _unchanged(msg: StoredMessage, changes: dict[str, Any]) -> bool:
    current = {k: getattr(msg, k) for k in changes}
    current["reply_markup"] = _inline_markup(msg.reply_markup)
    return current == {**changes, "reply_markup": _inline_markup(changes.get("reply_markup"))}


def _finish_edit(fake: FakeTelegram, chat: Chat | None, msg: StoredMessage, via: str,
                 changes: dict[str, Any]) -> Any:
    if _unchanged(msg, changes):
        raise bad_request(E.NOT_MODIFIED)
    changes["reply_markup"] = _inline_markup(changes.get("reply_markup"))
    for key, value in changes.items():
        setattr(msg, key, value)
    msg.edit_date = now()
    if chat is None:
        fake.bot_output(None, msg, via)
        return True
    fake.bot_output(chat, msg, via)
    return msg.to_api(chat.to_api())


@method("editMessageText")
async def edit_message_text(fake: FakeTelegram, p: Params) -> Any:
    chat, msg = _edit_target(fake, p)
    if msg.text is None:
        raise bad_request(E.NO_TEXT_TO_EDIT)
    text, entities = V.parse_text(p.get("text"), p.get("parse_mode"), p.get("entities"),
                                  markdown=fake.markdown)
    markup = V.check_reply_markup(p.get("reply_markup"), inline_only=True)
    changes = {"text": text, "entities": entities, "reply_markup": markup}
    if _unchanged(msg, changes):
        raise bad_request(E.NOT_MODIFIED)
    msg.source, msg.parse_mode = p.get("text"), p.get("parse_mode")
    return _finish_edit(fake, chat, msg, "editMessageText", changes)


@method("editMessageCaption")
async def edit_message_caption(fake: FakeTelegram, p: Params) -> Any:
    chat, msg = _edit_target(fake, p)
    if msg.media is None:
        raise bad_request(E.NO_CAPTION_TO_EDIT)
    caption, entities = V.parse_text(p.get("caption"), p.get("parse_mode"), p.get("caption_entities"),
                                     limit=V.CAPTION_LIMIT, caption=True, markdown=fake.markdown)
    markup = V.check_reply_markup(p.get("reply_markup"), inline_only=True)
    return _finish_edit(fake, chat, msg, "editMessageCaption",
                        {"caption": caption or None, "caption_entities": entities,
                         "reply_markup": markup})


@method("editMessageMedia")
async def edit_message_media(fake: FakeTelegram, p: Params) -> Any:
    """Replace the photo (and caption) of a media message; the fake supports InputMediaPhoto."""
    chat, msg = _edit_target(fake, p)
    media = p.get("media")
    if not isinstance(media, dict):
        raise bad_request("can't parse input media JSON object")
    if media.get("type") != "photo":
        raise bad_request(f"can't parse InputMedia: fakebot: only type \"photo\" is supported, got {media.get('type')!r}")
    if msg.media is None or msg.kind not in ("photo", "video", "animation", "document", "audio"):
        raise bad_request(E.NO_MEDIA_TO_EDIT)
    caption, entities = V.parse_text(media.get("caption"), media.get("parse_mode"), media.get("caption_entities"),
                                     limit=V.CAPTION_LIMIT, caption=True, markdown=fake.markdown)
    markup = V.check_reply_markup(p.get("reply_markup"), inline_only=True)
    sizes = _photo_sizes(fake, p.attached(media.get("media")))
    changes = {"kind": "photo", "media": {"photo": sizes}, "caption": caption or None,
               "caption_entities": entities, "reply_markup": markup}
    if _unchanged(msg, changes):
        raise bad_request(E.NOT_MODIFIED)
    msg.source, msg.parse_mode = media.get("caption"), media.get("parse_mode")
    return _finish_edit(fake, chat, msg, "editMessageMedia", changes)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(fake: FakeTelegram, p: Params) -> Any:
    chat, msg = _edit_target(fake, p)
    markup = V.check_reply_markup(p.get("reply_markup"), inline_only=True)
    return _finish_edit(fake, chat, msg, "editMessageReplyMarkup", {"reply_markup": markup})


@method("deleteMessage")
async def delete_message(fake: FakeTelegram, p: Params) -> Any:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    msg = chat.messages.get(p.int("message_id") or 0)
    if msg is None or msg.deleted:
        raise bad_request(E.DELETE_NOT_FOUND)
    if not msg.from_bot and chat.type != "private" and chat.bot_status not in ("administrator", "creator"):
        raise bad_request("message can't be deleted")
    msg.deleted = True
    fake.notifier.notify()
    return True


@method("answerCallbackQuery")
async def answer_callback_query(fake: FakeTelegram, p: Params) -> Any:
    query = fake.callback_queries.get(str(p.get("callback_query_id", "")))
    ttl = fake.callback_query_ttl
    if query is None or query.answered or (ttl is not None and time.monotonic() - query.at > ttl):
        raise bad_request(E.QUERY_INVALID)
    V.check_callback_answer_text(p.get("text"))
    query.answered = True
    query.answer = {k: p.get(k) for k in ("text", "show_alert", "url", "cache_time") if p.get(k) is not None}
    fake.mark_replied(update_id=query.update_id)
    return True


@method("answerInlineQuery")
async def answer_inline_query(fake: FakeTelegram, p: Params) -> Any:
    query = fake.inline_queries.get(str(p.get("inline_query_id", "")))
    if query is None or query.answered:
        raise bad_request(E.QUERY_INVALID)
    results = V.check_inline_results(p.get("results"), fake.markdown)
    _check_cached_photos(fake, results)
    if len(str(p.get("next_offset", "")).encode()) > 64:
        raise bad_request("NEXT_OFFSET_INVALID")
    button = p.get("button")
    if button is not None:
        start = button.get("start_parameter") if isinstance(button, dict) else None
        if start is not None and not (1 <= len(start) <= 64 and start.replace("_", "a").replace("-", "a").isalnum()):
            raise bad_request("unallowed characters in start_parameter are used")
    query.answered = True
    query.answer = {"results": results, "next_offset": p.get("next_offset", ""),
                    "cache_time": p.int("cache_time", 300), "is_personal": p.bool("is_personal")}
    fake.mark_replied(update_id=query.update_id)
    return True


def _check_cached_photos(fake: FakeTelegram, results: list[dict[str, Any]]) -> None:
    """Photo results: a photo_url, or the photo_file_id of a photo the fake knows.

    Telegram resolves the file_id while answering; the texts for an unknown or non-photo file_id
    follow sendPhoto's and are not confirmed for answerInlineQuery.
    """
    for result in results:
        if result.get("type") != "photo" or result.get("photo_url"):
            continue
        file_id = result.get("photo_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise bad_request("can't parse inline query result: Can't find field \"photo_file_id\"")
        stored = fake.world.files.get(file_id)
        if stored is None:
            raise bad_request(E.WRONG_FILE_ID)
        if stored.kind != "photo":
            raise bad_request(E.WRONG_FILE_TYPE.format(actual=stored.type_name, expected="Photo"))


@method("setMyCommands")
async def set_my_commands(fake: FakeTelegram, p: Params) -> Any:
    commands = V.check_commands(p.get("commands", []))
    key = (V.scope_key(p.get("scope")), V.check_language_code(p.get("language_code")))
    if commands:
        fake.commands[key] = commands
    else:
        fake.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(fake: FakeTelegram, p: Params) -> Any:
    key = (V.scope_key(p.get("scope")), V.check_language_code(p.get("language_code")))
    return fake.commands.get(key, [])


@method("deleteMyCommands")
async def delete_my_commands(fake: FakeTelegram, p: Params) -> Any:
    key = (V.scope_key(p.get("scope")), V.check_language_code(p.get("language_code")))
    fake.commands.pop(key, None)
    return True


def _profile_text(field: str, limit: int) -> tuple[Handler, Handler]:
    async def setter(fake: FakeTelegram, p: Params) -> Any:
        lang = V.check_language_code(p.get("language_code"))
        fake.profile.setdefault(field, {})[lang] = V.check_description(p.get(field), limit)
        return True

    async def getter(fake: FakeTelegram, p: Params) -> Any:
        lang = V.check_language_code(p.get("language_code"))
        texts = fake.profile.get(field, {})
        default = fake.bot_user.first_name if field == "name" else ""
        return {field: texts.get(lang) or texts.get("") or default}

    return setter, getter


for _name, _field, _limit in (("Description", "description", 512),
                              ("ShortDescription", "short_description", 120),
                              ("Name", "name", 64)):
    METHODS[f"setMy{_name}"], METHODS[f"getMy{_name}"] = _profile_text(_field, _limit)


@method("getChat")
async def get_chat(fake: FakeTelegram, p: Params) -> Any:
    return fake.world.resolve_chat(p.get("chat_id")).full_info()


@method("getChatMember")
async def get_chat_member(fake: FakeTelegram, p: Params) -> Any:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    user_id = p.int("user_id")
    if user_id is None:
        raise bad_request("invalid user_id specified")
    return fake.world.member_json(chat, user_id)


@method("getChatAdministrators")
async def get_chat_administrators(fake: FakeTelegram, p: Params) -> Any:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = [member_object(fake.world.users[uid], status) for uid, status in chat.members.items()
              if status in ("administrator", "creator") and uid in fake.world.users]
    if chat.bot_status == "administrator":
        admins.append(member_object(fake.bot_user, "administrator"))
    return admins


@method("getChatMemberCount")
async def get_chat_member_count(fake: FakeTelegram, p: Params) -> Any:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    if chat.type == "private":
        return 2
    return sum(s not in ("left", "kicked") for s in chat.members.values()) + (
        chat.bot_status not in ("left", "kicked"))


@method("leaveChat")
async def leave_chat(fake: FakeTelegram, p: Params) -> Any:
    chat = fake.world.resolve_chat(p.get("chat_id"))
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    chat.bot_status = "left"
    return True


@method("getFile")
async def get_file(fake: FakeTelegram, p: Params) -> Any:
    stored = fake.world.files.get(str(p.get("file_id", "")))
    if stored is None:
        raise bad_request("invalid file_id")
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data), "file_path": stored.file_path}


@method("setChatMenuButton")
async def set_chat_menu_button(fake: FakeTelegram, p: Params) -> Any:
    fake.profile["menu_button"] = {"": p.get("menu_button") or {"type": "default"}}
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(fake: FakeTelegram, p: Params) -> Any:
    return fake.profile.get("menu_button", {}).get("", {"type": "default"})


@method("close")
async def close(fake: FakeTelegram, p: Params) -> Any:
    return True


@method("logOut")
async def log_out(fake: FakeTelegram, p: Params) -> Any:
    return True


CANONICAL = {name.lower(): name for name in METHODS}
SERVER_METHODS = ("getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo")
CANONICAL.update({name.lower(): name for name in SERVER_METHODS})
