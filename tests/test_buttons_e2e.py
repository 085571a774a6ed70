"""The buttons under an answer end to end: the real Application long-polls the fake Bot API,
which sends each press as a `callback_query` update and checks every answerCallbackQuery and
edit as Telegram does (callback data within 64 bytes, no edit that changes nothing, no edit of a
message that is not the bot's). Then `/asked` after a scripted morning of questions.

What a press does is tested without HTTP in test_actions.py; two workers sharing the buttons'
state in Redis in test_workers.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from bot.actions import ALREADY, COUNTED, EXPIRED, FOREIGN, RECORD_PREFIX, SLOTS
from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.buttons import TOO_LONG
from botrunner import running_bot
from fakebot import BOT_USERNAME, DEFAULT_GROUP_ID, FakeBotAPI
from telegram_html import validate_telegram_html

ENVOY = "His envoy, Steve Witkoff, is expected to visit Russia"
TRUMP = "Trump has said his country will abandon the peace efforts"
ADMIN = 4242


def settings_for(seed_settings: BotSettings, **changes: object) -> BotSettings:
    """The seed settings with the rate limit off and the given changes."""
    return seed_settings.model_copy(update={"rate_limit": 0, "admins": {ADMIN}, **changes})


def labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [button["text"] for row in rows for button in row]


def edits(server: FakeBotAPI) -> list[Any]:
    """Every edit the bot tried, accepted or not."""
    methods = ("editMessageText", "editMessageReplyMarkup")
    return [c for c in server.calls if c.method in methods]


async def press(server: FakeBotAPI, message: dict[str, Any], label: str, user: int) -> str | None:
    """Press a button and wait for the bot to answer the press; the notice it showed."""
    before = len(server.callback_answers())
    server.press(message, label, user_id=user)
    answers = await server.await_for("answerCallbackQuery", before + 1)  # after any edit
    return answers[-1].get("text")


async def test_private_context_another_and_a_vote_edit_the_answer(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, settings_for(seed_settings), seed_engine):
        chat = server.private_text("Who is Steve Witkoff?")["message"]["chat"]["id"]
        (sent,) = await server.await_for("sendMessage", 1)
        (answer,) = server.bot_messages(chat)
        original = sent["text"]
        assert labels(answer) == ["Context", "Another sentence", "👍", "👎"]
        assert await press(server, answer, "Context", chat) is None
        context = (await server.await_for("editMessageText", 1))[-1]
        assert await press(server, answer, "Quote", chat) is None
        back = (await server.await_for("editMessageText", 2))[-1]
        assert await press(server, answer, "Another sentence", chat) is None
        another = (await server.await_for("editMessageText", 3))[-1]
        assert await press(server, answer, "👎", chat) == COUNTED["bad"]
        voted = (await server.await_for("editMessageReplyMarkup", 1))[-1]
        assert await press(server, answer, "👎 ✓", chat) == ALREADY
        # Two taps on one button before the first edit lands: both answered, one edit.
        server.press(answer, "Context", user_id=chat)
        server.press(answer, "Context", user_id=chat)
        await server.await_for("answerCallbackQuery", 7)
    assert context["text"].startswith(f"<blockquote>{TRUMP}")
    assert f"<b>{ENVOY}" in context["text"] and validate_telegram_html(context["text"]) is None
    assert labels(context)[:2] == ["Quote", "Another sentence"]
    assert back["text"] == original and labels(back)[0] == "Context"
    assert TRUMP in another["text"] and "(2 of 3)" in another["text"]
    assert ENVOY not in another["text"]
    assert labels(voted) == ["Context", "Another sentence", "👍", "👎 ✓"]
    refused = [c.error for c in edits(server) if not c.ok]
    assert len([c for c in edits(server) if c.ok]) == 5 and len(refused) <= 1
    assert all("not modified" in (e or "") for e in refused), refused
    assert len(server.callback_answers()) == 7, "every press answered once"


async def test_in_a_group_only_the_asker_steers_and_others_are_told(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    alice, bob = 3001, 3002
    async with running_bot(server, settings_for(seed_settings), seed_engine):
        server.group_text(f"/ask@{BOT_USERNAME} Who is Steve Witkoff?", user_id=alice)
        await server.await_for("sendMessage", 1)
        (answer,) = server.bot_messages(DEFAULT_GROUP_ID)
        assert await press(server, answer, "Context", bob) == FOREIGN
        assert await press(server, answer, "👍", bob) == FOREIGN
        assert edits(server) == []
        assert await press(server, answer, "Another sentence", alice) is None
        assert await press(server, answer, "👍", alice) == COUNTED["good"]
        await server.await_for("editMessageReplyMarkup", 1)
    (another,) = server.sent("editMessageText")
    assert TRUMP in another["text"] and another["chat_id"] == DEFAULT_GROUP_ID
    assert labels(server.sent("editMessageReplyMarkup")[0])[2] == "👍 ✓"


async def test_an_expired_press_gets_a_notice_and_the_buttons_go(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = settings_for(seed_settings, button_expiry=1.0)
    async with running_bot(server, settings, seed_engine):
        server.group_text("/ask Who is Steve Witkoff?", user_id=3003)
        await server.await_for("sendMessage", 1)
        (answer,) = server.bot_messages(DEFAULT_GROUP_ID)
        await asyncio.sleep(1.5)
        assert await press(server, answer, "Context", 3003) == EXPIRED
        (dropped,) = await server.await_for("editMessageReplyMarkup", 1)
        # A press on data no answer of this chat ever had (another chat's, or forged).
        server.callback_query(answer, "ctx:0:999999", user_id=3003)
        await server.await_for("answerCallbackQuery", 2)
    assert "reply_markup" not in dropped
    assert [a.get("text") for a in server.callback_answers()] == [EXPIRED, EXPIRED]
    assert server.sent("editMessageText") == []


async def test_asked_shows_the_grouped_questions_the_story_does_not_answer(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    morning = [
        (5001, "What's the weather in London today?"),
        (5002, "what is the weather like in london"),
        (5003, "What's the weather in London today?"),
        (5001, "How do I bake sourdough bread?"),
        (5004, "sourdough bread recipe?"),
        (5005, "Is it raining in London?"),
        (5006, "Who is Steve Witkoff?"),
    ]
    async with running_bot(server, settings_for(seed_settings), seed_engine):
        for n, (user, question) in enumerate(morning, 1):
            # One at a time: a question is logged when its answer is made, and two answered at
            # once may be logged either way round (the report breaks ties by the first asked).
            server.private_text(question, user_id=user)
            await server.await_for("sendMessage", n)
        witkoff = server.bot_messages(5006)[0]
        assert await press(server, witkoff, "👎", 5006) == COUNTED["bad"]
        server.private_text("/asked", user_id=5001)
        refused = await server.await_for("sendMessage", len(morning) + 1)
        server.private_text("/asked london", user_id=ADMIN)
        reply = (await server.await_for("sendMessage", len(morning) + 2))[-1]["text"]
    assert refused[-1]["text"] == "Sorry, that command is only for the bot's admins."
    assert validate_telegram_html(reply) is None
    assert reply.startswith("<b>What readers asked about “London talks”</b>")
    assert "7 questions from 6 readers" in reply
    lines = [line for line in reply.splitlines() if re.match(r"\d+\. ", line)]
    assert lines[0].startswith("1. “What&#39;s the weather in London today?” — 3 times, 3 readers")
    assert "also as “what is the weather like in london”" in lines[0]
    assert lines[1].startswith("2. “How do I bake sourdough bread?” — 2 times, 2 readers")
    assert any("Is it raining in London?" in line for line in lines[2:])
    assert "Quotes readers marked 👎" in reply and ENVOY in reply


async def test_a_candidate_too_long_for_one_message_is_not_shown(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, settings_for(seed_settings), seed_engine) as app:
        asking = server.private_text("Who is Steve Witkoff?")["message"]
        chat = asking["chat"]["id"]
        await server.await_for("sendMessage", 1)
        (answer,) = server.bot_messages(chat)
        state = app.bot_data["state"]
        slot = f"{RECORD_PREFIX}{asking['message_id'] % SLOTS}"  # the asking message's id
        record = json.loads(state.get(chat, slot))
        record["citations"][1]["sentence"] = "Word " * 1000  # 5,000 characters
        state.put(chat, slot, json.dumps(record))
        assert await press(server, answer, "Another sentence", chat) == TOO_LONG
    assert edits(server) == []
