"""The tolerant request: emulator shortcuts repaired, Telegram's own answers left untouched."""

from __future__ import annotations

import copy
import json

from telegram import Message, User

from bot.telegram.request import TolerantRequest, repair

# What the npm emulator telegram-test-api answers (recorded shapes).
EMULATOR_GET_ME = {"ok": True, "result": {"username": "TestNameBot", "first_name": "T", "id": 666}}
EMULATOR_SENT = {
    "chat_id": "1",
    "text": "<b>hi</b>",
    "parse_mode": "HTML",
    "link_preview_options": '{"is_disabled": true}',
    "reply_parameters": '{"message_id": 2}',
    "reply_markup": None,
    "message_id": 3,
    "date": 1795661341322,
    "chat": {"id": 1, "first_name": "Bot", "type": "private"},
}
TELEGRAM_UPDATE = {
    "update_id": 9,
    "message": {
        "message_id": 5,
        "date": 1795661341,
        "chat": {"id": -100, "type": "supergroup", "title": "G"},
        "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
        "text": "/ask hi",
        "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
    },
}


def parse(payload: dict[str, object]) -> dict[str, object]:
    return TolerantRequest.parse_json_payload(json.dumps(payload).encode())


def test_get_me_without_is_bot_parses_as_the_bot() -> None:
    result = parse(EMULATOR_GET_ME)["result"]
    user = User.de_json(result, None)  # type: ignore[arg-type]
    assert user.is_bot is True
    assert user.username == "TestNameBot"


def test_echoed_message_parses_with_objects_and_seconds() -> None:
    result = parse({"ok": True, "result": copy.deepcopy(EMULATOR_SENT)})["result"]
    message = Message.de_json(result, None)  # type: ignore[arg-type]
    assert message.link_preview_options is not None
    assert message.link_preview_options.is_disabled is True
    assert message.date.year == 2026


def test_telegram_answers_are_unchanged() -> None:
    assert repair([copy.deepcopy(TELEGRAM_UPDATE)]) == [TELEGRAM_UPDATE]
    error = {"ok": False, "error_code": 400, "description": "Bad Request: x"}
    assert parse(error) == error


def test_update_from_an_emulator_without_chat_type_gets_one() -> None:
    update = copy.deepcopy(TELEGRAM_UPDATE)
    del update["message"]["chat"]["type"]  # type: ignore[attr-defined]
    del update["message"]["from"]["is_bot"]  # type: ignore[attr-defined]
    (fixed,) = repair([update])
    assert fixed["message"]["chat"]["type"] == "group"
    assert fixed["message"]["from"]["is_bot"] is False
