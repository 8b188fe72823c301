"""Bot API error type and Telegram's error descriptions used by the fake.

Descriptions marked ``# verified`` were checked against public records of the live Bot API or
its server source; the others follow Telegram's style but could not be confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ApiError(Exception):
    """A Bot API failure: rendered as ``{"ok": false, "error_code", "description"}``."""

    code: int
    description: str
    retry_after: int | None = None
    #: "rule" (a strictness violation), "fault" (injected), "flood" (flood-limit mode)
    origin: str = "rule"

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(message: str) -> ApiError:
    """A 400 error; ``message`` is the text after ``"Bad Request: "``."""
    return ApiError(400, f"Bad Request: {message}")


def forbidden(message: str) -> ApiError:
    """A 403 error; ``message`` is the text after ``"Forbidden: "``."""
    return ApiError(403, f"Forbidden: {message}")


def too_many_requests(retry_after: int, origin: str) -> ApiError:
    """A 429 flood-wait error."""  # verified shape
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after, origin)


UNAUTHORIZED = "Unauthorized"  # verified (401)
NOT_FOUND = "Not Found"  # verified (404)
CHAT_NOT_FOUND = "chat not found"  # verified
CHAT_ID_EMPTY = "chat_id is empty"  # verified
TEXT_EMPTY = "message text is empty"  # verified (missing or "" text)
TEXT_BLANK = "text must be non-empty"  # verified (text empty after trimming/parsing)
TEXT_TOO_LONG = "message is too long"  # verified
CAPTION_TOO_LONG = "message caption is too long"  # verified
PARSE_MODE_UNSUPPORTED = "unsupported parse_mode"  # verified
CANT_PARSE = "can't parse entities: "  # verified prefix
BUTTON_DATA_INVALID = "BUTTON_DATA_INVALID"  # verified
TEXT_BUTTONS_UNALLOWED = (
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)  # verified
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)  # verified
EDIT_NOT_FOUND = "message to edit not found"  # verified
DELETE_NOT_FOUND = "message to delete not found"
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"  # verified
BLOCKED = "bot was blocked by the user"  # verified
CANT_INITIATE = "bot can't initiate conversation with a user"  # verified
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)  # verified
OTHER_GETUPDATES = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)  # verified
LANGUAGE_CODE_INVALID = "invalid language code specified"  # verified
PHOTO_MISSING = "there is no photo in the request"  # verified (telegram-bot-api's sendPhoto)
PHOTO_INVALID_DIMENSIONS = "PHOTO_INVALID_DIMENSIONS"  # verified
IMAGE_PROCESS_FAILED = "IMAGE_PROCESS_FAILED"  # verified (bytes that are not an image)
# Telegram's MTProto error for a photo over its size limit; the Bot API's exact text is not confirmed.
PHOTO_TOO_BIG = "PHOTO_SAVE_FILE_INVALID"
WRONG_FILE_ID = "wrong file identifier/HTTP URL specified"  # verified
WRONG_FILE_TYPE = "can't use file of type {actual} as {expected}"  # verified (e.g. Document as Photo)
NO_MEDIA_TO_EDIT = "there is no media in the message to edit"  # verified (tdlib's text)
NO_CAPTION_TO_EDIT = "there is no caption in the message to edit"  # verified
NO_TEXT_TO_EDIT = "there is no text in the message to edit"  # verified
