"""End to end: the real Application long-polls a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.engine import Engine
from bot.settings import BotSettings
from botrunner import running_bot
from fakebot import FakeBotAPI
from telegram_html import validate_telegram_html

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


async def test_private_question_gets_the_quoted_sentence(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine):
        update = server.private_text("Who is Steve Witkoff?")
        (sent,) = await server.await_for("sendMessage", 1, timeout=30)
    assert sent["chat_id"] == update["message"]["chat"]["id"]
    assert WITKOFF in sent["text"]
    assert sent["parse_mode"] == "HTML"
    assert sent["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert validate_telegram_html(sent["text"]) is None
    commands = server.wait_for("setMyCommands", 1, timeout=5)[0]["commands"]
    assert {c["command"] for c in commands} >= {"ask", "summary", "help"}


async def test_group_ask_with_bot_name_reply_and_mention(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine):
        server.group_text("/ask@storybot_test_bot who is steve witkoff?")
        (first,) = await server.await_for("sendMessage", 1, timeout=30)
        assert WITKOFF in first["text"]
        bot_message = server.bot_messages(first["chat_id"])[-1]
        server.group_text("Which ministers were in the Ukrainian delegation?", reply_to=bot_message)
        second = (await server.await_for("sendMessage", 2, timeout=30))[-1]
        assert "The Ukrainian delegation, including" in second["text"]
        server.group_text("@storybot_test_bot what did Svyrydenko say?")
        third = (await server.await_for("sendMessage", 3, timeout=30))[-1]
        assert "Yuliia Svyrydenko said that Kyiv" in third["text"]
        server.group_text("just chatting among ourselves about Witkoff")
        server.group_text("/summary")
        fourth = (await server.await_for("sendMessage", 4, timeout=30))[-1]
    assert fourth["text"].startswith("<b>Summary of “London talks”</b>")
    assert fourth["text"].count("London talks, ¶") == 5
    assert validate_telegram_html(fourth["text"]) is None
    assert len(server.sent()) == 4, "the bot must not answer chatter it was not addressed in"


async def test_token_never_reaches_the_logs(
    server: FakeBotAPI,
    seed_settings: BotSettings,
    seed_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    async with running_bot(server, seed_settings, seed_engine):
        server.private_text("Who is Steve Witkoff?")
        await server.await_for("sendMessage", 1, timeout=30)
    secret = server.token.split(":")[1]
    assert secret not in caplog.text
    assert BotSettings(token=SecretStr(server.token)).model_dump_json().count(secret) == 0
