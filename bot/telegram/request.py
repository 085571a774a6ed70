"""A Bot API request that tolerates the small liberties some Bot API emulators take.

Telegram itself always sends complete objects. Emulators used for testing bots (for example the
npm package telegram-test-api) omit `is_bot` from `getMe`, echo request parameters back inside
the returned Message as JSON strings, and stamp `date` in milliseconds. PTB's strict parsing turns
each of those into an exception, so a bot that works against Telegram would crash against them.
This request repairs exactly those cases and changes nothing in a well-formed answer.
"""

from __future__ import annotations

import json
from typing import Any

from telegram.request import HTTPXRequest

# Message fields that are objects in the Bot API but that an echoing emulator returns as strings.
_OBJECT_FIELDS = frozenset(
    {"reply_markup", "entities", "link_preview_options", "reply_parameters", "caption_entities"}
)
_MILLISECONDS = 10**11  # a Unix time above this is in milliseconds (year 5138 in seconds)


def _repair_user(user: dict[str, Any], is_bot: bool) -> None:
    if "id" in user and "first_name" in user and "is_bot" not in user:
        user["is_bot"] = is_bot


def _repair_message(message: dict[str, Any]) -> None:
    for key in _OBJECT_FIELDS & message.keys():
        value = message[key]
        if isinstance(value, str):
            try:
                message[key] = json.loads(value)
            except ValueError:
                del message[key]
    date = message.get("date")
    if isinstance(date, int | float) and date > _MILLISECONDS:
        message["date"] = int(date // 1000)
    if isinstance(message.get("from"), dict):
        _repair_user(message["from"], is_bot=False)
    chat = message.get("chat")
    if isinstance(chat, dict) and "type" not in chat:
        chat["type"] = "private" if isinstance(chat.get("id"), int) and chat["id"] > 0 else "group"
    for nested in ("reply_to_message", "pinned_message"):
        if isinstance(message.get(nested), dict):
            _repair_message(message[nested])


def repair(result: Any) -> Any:
    """Fill in what an emulator left out of a Bot API result; a no-op on Telegram's answers."""
    if isinstance(result, list):
        for item in result:
            if isinstance(item, dict):
                for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
                    if isinstance(item.get(key), dict):
                        _repair_message(item[key])
    elif isinstance(result, dict):
        if "message_id" in result:
            _repair_message(result)
        elif "username" in result:
            _repair_user(result, is_bot=True)  # getMe: the bot itself
    return result


class TolerantRequest(HTTPXRequest):
    """HTTPXRequest whose JSON parsing repairs emulator shortcuts (see module docstring)."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        data = HTTPXRequest.parse_json_payload(payload)
        if isinstance(data, dict) and data.get("ok") and "result" in data:
            data["result"] = repair(data["result"])
        return data
