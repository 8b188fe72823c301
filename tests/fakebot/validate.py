"""Strictness rules of the fake Bot API: pure functions that raise ``ApiError`` like Telegram."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlsplit

from . import errors as E
from .errors import ApiError, bad_request
from .htmlparse import HtmlError, parse_html, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024   # uploaded photos (sendPhoto docs)
PHOTO_MAX_SIDES = 10_000             # width + height
PHOTO_MAX_RATIO = 20                 # the longer side over the shorter one
# What Telegram turns into a photo; others fail to process (the exact list is not documented).
PHOTO_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})
CALLBACK_DATA_LIMIT = 64  # bytes
CALLBACK_ANSWER_LIMIT = 200
MAX_BUTTONS = 100
MAX_INLINE_RESULTS = 50
ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
        "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
        "code", "pre", "text_link", "text_mention", "custom_emoji", "date_time",
    }
)
INLINE_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
INLINE_RESULT_TYPES = frozenset(
    {
        "article", "audio", "contact", "document", "game", "gif", "location", "mpeg4_gif",
        "photo", "sticker", "venue", "video", "voice",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note", "cancel",
    }
)
SCOPE_TYPES = {
    "default": (), "all_private_chats": (), "all_group_chats": (),
    "all_chat_administrators": (), "chat": ("chat_id",), "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim leading/trailing whitespace like Telegram, moving and clipping entities."""
    stripped_left = text.lstrip()
    head = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    fixed = []
    for entity in entities:
        start = max(entity["offset"] - head, 0)
        end = min(entity["offset"] + entity["length"] - head, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


def check_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Validate an explicit ``entities``/``caption_entities`` list against ``text``."""
    if not isinstance(entities, list):
        raise bad_request('field "entities" must be of type Array')
    size = utf16_len(text)
    for entity in entities:
        if not isinstance(entity, dict) or entity.get("type") not in ENTITY_TYPES:
            raise bad_request("can't parse MessageEntity: Unsupported type specified")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or offset < 0:
            raise bad_request(f"receive an entity with incorrect offset {offset}")
        if not isinstance(length, int) or length <= 0:
            raise bad_request(f"receive an entity with incorrect length {length}")
        if offset > size:
            raise bad_request(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > size:
            raise bad_request(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text at "
                f"UTF-16 offset {offset + length}"
            )
        if entity["type"] == "text_link":
            if "url" not in entity:
                raise bad_request("can't parse MessageEntity: Can't find field \"url\"")
            check_url(entity["url"], "entity URL")
        if entity["type"] == "custom_emoji" and "custom_emoji_id" not in entity:
            raise bad_request("can't parse MessageEntity: Can't find field \"custom_emoji_id\"")
    return entities


def parse_text(
    text: Any,
    parse_mode: str | None,
    entities: Any = None,
    *,
    limit: int = TEXT_LIMIT,
    caption: bool = False,
    markdown: str = "reject",
) -> tuple[str, list[dict[str, Any]]]:
    """Apply ``parse_mode``/``entities`` and Telegram's empty/length rules; returns (plain, entities)."""
    if text is None or text == "":
        if caption:
            return "", []
        raise bad_request(E.TEXT_EMPTY)
    if not isinstance(text, str):
        text = str(text)
    if entities is not None:
        plain, found = text, check_entities(text, entities)
    elif parse_mode in (None, ""):
        plain, found = text, []
    elif parse_mode.lower() == "html":
        try:
            plain, found = parse_html(text)
        except HtmlError as exc:
            raise bad_request(E.CANT_PARSE + str(exc)) from exc
        for entity in found:
            if entity["type"] == "text_link":
                try:
                    check_url(entity["url"], "link URL")
                except ApiError as exc:
                    reason = exc.description.rsplit(": ", 1)[-1]
                    raise bad_request(
                        f"{E.CANT_PARSE}fakebot: <a href=\"{entity['url']}\"> is invalid ({reason}); "
                        "Telegram would silently drop the link") from exc
    elif parse_mode.lower() in ("markdown", "markdownv2") and markdown == "accept":
        plain, found = text, []
    elif parse_mode.lower() in ("markdown", "markdownv2"):
        raise bad_request(
            f"{E.PARSE_MODE_UNSUPPORTED} (fakebot: {parse_mode} is not validated by the fake; "
            "use HTML or construct FakeTelegram(markdown='accept'))"
        )
    else:
        raise bad_request(E.PARSE_MODE_UNSUPPORTED)
    plain, found = _strip(plain, found)
    if not plain and not caption:
        raise bad_request(E.TEXT_BLANK)
    if utf16_len(plain) > limit:
        raise bad_request(E.CAPTION_TOO_LONG if caption else E.TEXT_TOO_LONG)
    return plain, found


def check_url(url: Any, what: str) -> None:
    """Telegram's URL check for buttons and links: http(s) with a real host, or tg://."""
    if not isinstance(url, str):
        raise bad_request(f"{what} '{url}' is invalid: Wrong HTTP URL")
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return
    if scheme not in ("http", "https"):
        raise bad_request(f"{what} '{url}' is invalid: Unsupported URL protocol")
    host = (parts.hostname or "").lower()
    if not host:
        raise bad_request(f"{what} '{url}' is invalid: URL host is empty")
    if host == "localhost" or "." not in host or host.endswith("."):
        raise bad_request(f"{what} '{url}' is invalid: Wrong HTTP URL")


def _must_bool(obj: dict[str, Any], field: str, prefix: str = "") -> None:
    if field in obj and not isinstance(obj[field], bool):
        raise bad_request(f'{prefix}field "{field}" must be of type Boolean' if not prefix
                          else f'{prefix}Field "{field}" must be of type Boolean')


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [a for a in INLINE_BUTTON_ACTIONS if button.get(a) not in (None, "", False)
               or (a.startswith("switch_inline_query") and a in button and button[a] is not None)]
    if not actions:
        raise bad_request(E.TEXT_BUTTONS_UNALLOWED)
    if len(actions) > 1:
        raise bad_request(prefix + f"fakebot: exactly one action field allowed, got {actions}")
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str) or len(value.encode("utf-8")) > CALLBACK_DATA_LIMIT:
            raise bad_request(E.BUTTON_DATA_INVALID)
    elif action == "url":
        check_url(value, "inline keyboard button URL")
    elif action == "web_app":
        url = value.get("url", "") if isinstance(value, dict) else ""
        if not url.startswith("https://"):
            raise bad_request(
                f"inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
            )
    elif action == "login_url":
        check_url(value.get("url") if isinstance(value, dict) else None, "login URL")
    elif action == "copy_text":
        text = value.get("text") if isinstance(value, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= 256:
            raise bad_request("BUTTON_COPY_TEXT_INVALID")
    elif action in ("switch_inline_query", "switch_inline_query_current_chat"):
        if not isinstance(value, str):
            raise bad_request(prefix + f'Field "{action}" must be of type String')
    elif action == "switch_inline_query_chosen_chat":
        if not isinstance(value, dict):
            raise bad_request(prefix + f'Field "{action}" must be of type Object')
        for flag in ("allow_user_chats", "allow_bot_chats", "allow_group_chats", "allow_channel_chats"):
            _must_bool(value, flag, prefix)
    elif action in ("pay", "callback_game"):
        raise bad_request("BUTTON_TYPE_INVALID")


def _check_keyboard_button(button: Any) -> None:
    if isinstance(button, str):
        button = {"text": button}
    prefix = "can't parse keyboard button: "
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(prefix + 'Can\'t find field "text"')
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    for flag in ("request_contact", "request_location"):
        _must_bool(button, flag, prefix)
    web_app = button.get("web_app")
    if isinstance(web_app, dict) and not str(web_app.get("url", "")).startswith("https://"):
        raise bad_request(
            f"keyboard button Web App URL '{web_app.get('url')}' is invalid: "
            "Only HTTPS links are allowed"
        )


def _check_rows(rows: Any, field: str, check_button: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{field}" must be of type Array')
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            check_button(button)


def check_reply_markup(markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate any reply_markup object; ``inline_only`` for edit methods."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_rows(markup["inline_keyboard"], "inline_keyboard", _check_inline_button)
        return markup
    if inline_only:
        raise bad_request("can't parse inline keyboard markup JSON object")
    if "keyboard" in markup:
        _check_rows(markup["keyboard"], "keyboard", _check_keyboard_button)
        for flag in ("resize_keyboard", "one_time_keyboard", "is_persistent", "selective"):
            _must_bool(markup, flag)
    elif "remove_keyboard" in markup:
        if markup["remove_keyboard"] is not True:
            raise bad_request('field "remove_keyboard" must be of type Boolean')
    elif "force_reply" in markup:
        if markup["force_reply"] is not True:
            raise bad_request('field "force_reply" must be of type Boolean')
    else:
        raise bad_request("can't parse reply keyboard markup JSON object")
    placeholder = markup.get("input_field_placeholder")
    if placeholder is not None and not (isinstance(placeholder, str) and len(placeholder) <= 64):
        raise bad_request("input field placeholder is too long")
    return markup


def check_callback_answer_text(text: Any) -> None:
    """answerCallbackQuery text: at most 200 characters."""
    if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
        raise bad_request("MESSAGE_TOO_LONG")


def check_inline_results(results: Any, markdown: str = "reject") -> list[dict[str, Any]]:
    """answerInlineQuery results: count, ids, types, message contents and keyboards."""
    if not isinstance(results, list):
        raise bad_request('field "results" must be of type Array')
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    prefix = "can't parse inline query result: "
    for result in results:
        if not isinstance(result, dict):
            raise bad_request(prefix + "InlineQueryResult must be an Object")
        kind = result.get("type")
        if kind not in INLINE_RESULT_TYPES:
            raise bad_request(prefix + f'type "{kind or ""}" is unsupported for the inline query result')
        result_id = result.get("id")
        if not isinstance(result_id, str) or not result_id:
            raise bad_request("RESULT_ID_EMPTY")
        if len(result_id.encode("utf-8")) > 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if kind == "article" and not str(result.get("title", "")).strip():
            raise bad_request("ARTICLE_TITLE_EMPTY")
        content = result.get("input_message_content")
        if kind == "article" and content is None:
            raise bad_request(prefix + 'Can\'t find field "input_message_content"')
        if isinstance(content, dict) and "message_text" in content:
            try:
                parse_text(content["message_text"], content.get("parse_mode"),
                           content.get("entities"), markdown=markdown)
            except ApiError as exc:
                inner = exc.description.removeprefix("Bad Request: ")
                raise bad_request(prefix + inner[:1].upper() + inner[1:]) from exc
        if result.get("caption") is not None:
            parse_text(result["caption"], result.get("parse_mode"), result.get("caption_entities"),
                       limit=CAPTION_LIMIT, caption=True, markdown=markdown)
        markup = result.get("reply_markup")
        if markup is not None:
            check_reply_markup(markup, inline_only=True)
    return results


def check_language_code(code: Any) -> str:
    """setMyCommands & co: empty, or a two-letter ISO 639-1 code (``zh-hans`` is rejected)."""
    code = code or ""
    if code and not (isinstance(code, str) and re.fullmatch(r"[a-z]{2}", code)):
        raise bad_request(E.LANGUAGE_CODE_INVALID)
    return code


def check_commands(commands: Any) -> list[dict[str, str]]:
    """setMyCommands command list: at most 100, names ``[a-z0-9_]{1,32}``, descriptions 1-256."""
    if not isinstance(commands, list):
        raise bad_request('field "commands" must be of type Array')
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("BotCommand must be an Object")
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not command:
            raise bad_request("command must be non-empty")
        if len(command) > 32:
            raise bad_request("command length must not exceed 32")
        if not _COMMAND_RE.fullmatch(command.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not description.strip():
            raise bad_request("command description must be non-empty")
        if len(description) > 256:
            raise bad_request("command description length must not exceed 256")
    return [{"command": c["command"].removeprefix("/"), "description": c["description"]}
            for c in commands]


def scope_key(scope: Any) -> str:
    """A stable key for a BotCommandScope object (validated)."""
    scope = scope or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise bad_request("unsupported bot command scope type specified")
    fields = SCOPE_TYPES[scope["type"]]
    for field in fields:
        if field not in scope:
            raise bad_request(f'can\'t parse BotCommandScope: Can\'t find field "{field}"')
    return ":".join([scope["type"], *(str(scope[f]) for f in fields)])


def check_chat_action(action: Any) -> str:
    """sendChatAction's ``action`` must be one of Telegram's names."""
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return action


def check_secret_token(secret: Any) -> str:
    """setWebhook secret_token: 1-256 characters ``A-Z a-z 0-9 _ -``."""
    if secret in (None, ""):
        return ""
    if not isinstance(secret, str):
        raise bad_request("secret token contains illegal characters")
    if len(secret) > 256:
        raise bad_request("secret token is too long")
    if not _SECRET_RE.fullmatch(secret):
        raise bad_request("secret token contains illegal characters")
    return secret


def check_webhook_url(url: Any, require_https: bool) -> str:
    """setWebhook url: https on ports 80/88/443/8443 in strict mode, http(s) otherwise."""
    if not isinstance(url, str):
        raise bad_request("invalid webhook URL specified")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if require_https:
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in (80, 88, 443, 8443):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    return url


def check_description(text: Any, limit: int) -> str:
    """setMyDescription (512) / setMyShortDescription (120)."""
    text = "" if text is None else str(text)
    if len(text) > limit:
        raise bad_request("description is too long" if limit > 120 else "short description is too long")
    return text


def check_photo(data: bytes) -> tuple[int, int]:
    """An uploaded photo as Telegram checks it: size, a decodable image, its dimensions; returns (w, h).

    The part's declared content type is not trusted (Telegram looks at the bytes too).
    """
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > PHOTO_MAX_BYTES:
        raise bad_request(E.PHOTO_TOO_BIG)
    from PIL import Image  # tests only: the fake decodes uploads like Telegram's servers do

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if kind in PHOTO_FORMATS and _dimensions_ok(width, height):
                image.load()                              # a truncated or corrupt file fails here
    except Image.DecompressionBombError:
        raise bad_request(E.PHOTO_INVALID_DIMENSIONS) from None
    except Exception:  # noqa: BLE001 - whatever Pillow cannot decode, Telegram cannot process
        raise bad_request(E.IMAGE_PROCESS_FAILED) from None
    if kind not in PHOTO_FORMATS:
        raise bad_request(E.IMAGE_PROCESS_FAILED)
    if not _dimensions_ok(width, height):
        raise bad_request(E.PHOTO_INVALID_DIMENSIONS)
    return width, height


def _dimensions_ok(width: int, height: int) -> bool:
    return (width > 0 and height > 0 and width + height <= PHOTO_MAX_SIDES
            and max(width, height) <= PHOTO_MAX_RATIO * min(width, height))
