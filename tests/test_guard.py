"""The guard: per-user rate limit with one notice, the chat allowlist, admins, repeated updates."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest
from telegram import Bot, Chat, Message, MessageEntity, Update, User

from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.admin import NOT_ADMIN
from bot.telegram.guard import SEEN_UPDATES, Guard, RateLimit, Verdict, addressed
from botrunner import running_bot
from fakebot import DEFAULT_GROUP_ID, FakeBotAPI, text_entities

QUESTION = "Who is Steve Witkoff?"
BOT_ID, BOT_NAME = 777, "storybot"


def test_rate_limit_allows_the_budget_then_notices_once_per_window() -> None:
    limit = RateLimit(3, window=60)
    verdicts = [limit.take(7, now=t) for t in (0, 1, 2, 3, 4, 5)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.NOTICE, Verdict.DROP, Verdict.DROP]
    assert limit.wait(7, now=5) == pytest.approx(55)
    assert limit.take(8, now=5) is Verdict.ALLOW, "budgets are per user"
    assert limit.take(7, now=60) is Verdict.ALLOW, "the first question left the window"
    assert limit.take(7, now=61) is Verdict.ALLOW
    assert limit.take(7, now=62) is Verdict.ALLOW
    assert limit.take(7, now=63) is Verdict.NOTICE, "a new window earns a new notice"


def test_rate_limit_zero_means_unlimited_and_memory_stays_bounded() -> None:
    assert all(RateLimit(0).take(1, now=t) is Verdict.ALLOW for t in range(100))
    limit = RateLimit(1, window=1)
    for user in range(25_000):
        limit.take(user, now=user * 0.01)
    assert len(limit._budgets) < 12_000


def test_allowlist_admins_and_chatless_updates() -> None:
    open_guard = Guard()
    assert open_guard.allows(-100, 5)
    guard = Guard(allowed_chats={1001, DEFAULT_GROUP_ID}, admins={42})
    assert guard.allows(1001, 1001)
    assert guard.allows(DEFAULT_GROUP_ID, 555), "anyone in an allowed group"
    assert not guard.allows(1002, 1002)
    assert not guard.allows(-1009, 1001), "an allowed user in a stranger's group"
    assert guard.allows(-1009, 42), "admins everywhere"
    assert guard.allows(None, 1001) and not guard.allows(None, 1002), "inline queries: by user"


def test_repeated_update_ids_are_remembered_within_a_bound() -> None:
    guard = Guard()
    assert not guard.repeated(1)
    assert guard.repeated(1)
    for update_id in range(2, SEEN_UPDATES + 2):
        guard.repeated(update_id)
    assert not guard.repeated(1), "the oldest id was forgotten, memory is bounded"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("", frozenset()), ("12", {12}), (" 12, -1001234567890 ,", {12, -1001234567890})],
)
def test_settings_read_comma_separated_ids(raw: str, parsed: set[int]) -> None:
    settings = BotSettings(allowed_chats=raw, admins=raw, token=None)
    assert settings.allowed_chats == parsed
    assert settings.admins == parsed


async def test_over_the_limit_gets_one_polite_notice_and_chatter_does_not_count(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = seed_settings.model_copy(update={"rate_limit": 3})
    async with running_bot(server, settings, seed_engine) as app:
        for _ in range(6):
            server.private_text(QUESTION, user_id=3001)
        for _ in range(5):
            server.group_text("chatting about the talks", user_id=3002)
        server.group_text(f"/ask {QUESTION}", user_id=3002)
        await server.await_for("sendMessage", 5, timeout=30)
        server.wait_idle()
    to_first = [p["text"] for p in server.sent() if p["chat_id"] == 3001]
    assert len(to_first) == 4
    assert sum("asking faster than I can keep up" in text for text in to_first) == 1
    to_group = [p["text"] for p in server.sent() if p["chat_id"] == DEFAULT_GROUP_ID]
    assert len(to_group) == 1 and "Witkoff" in to_group[0]
    counts = app.bot_data["guard"].counts
    assert (counts["limited"], counts["noticed"]) == (3, 1)


async def test_allowlist_lets_in_only_listed_chats_and_admins(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = seed_settings.model_copy(update={"allowed_chats": {1001}, "admins": {4242}})
    async with running_bot(server, settings, seed_engine):
        server.private_text(QUESTION, user_id=1002)
        server.group_text(f"/ask {QUESTION}", user_id=1001)
        server.sticker(chat_id=1002)
        server.private_text(QUESTION, user_id=4242)
        server.private_text(QUESTION, user_id=1001)
        await server.await_for("sendMessage", 2, timeout=30)
        server.wait_idle()
    assert sorted(p["chat_id"] for p in server.sent()) == [1001, 4242]


async def test_status_is_for_admins_only(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = seed_settings.model_copy(update={"admins": {4242}})
    async with running_bot(server, settings, seed_engine):
        server.private_text("/status", user_id=1001)
        (refused,) = await server.await_for("sendMessage", 1, timeout=30)
        server.private_text("/status", user_id=4242)
        status = (await server.await_for("sendMessage", 2, timeout=30))[-1]
    assert refused["text"] == NOT_ADMIN
    assert status["text"].startswith("<b>Index</b> ")
    assert "<b>Guard</b>" in status["text"] and "<b>Delivery</b>" in status["text"]


async def test_a_redelivered_update_is_answered_once(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine) as app:
        data = server.private_text(QUESTION, user_id=5001)
        await server.await_for("sendMessage", 1, timeout=30)
        for _ in range(2):  # as Telegram redelivers a webhook update it got no answer for
            await app.process_update(Update.de_json(dict(data), app.bot))
        server.wait_idle()
    assert len(server.sent()) == 1
    assert app.bot_data["guard"].counts["repeated"] == 2


def message(text: str | None, chat: str = "supergroup", reply_from: int | None = None) -> Message:
    """A message as Telegram delivers it, with the command and mention entities it computes."""
    group = Chat(id=DEFAULT_GROUP_ID if chat != "private" else 1001, type=chat)
    replied = None
    if reply_from is not None:
        author = User(id=reply_from, first_name="Someone", is_bot=reply_from == BOT_ID)
        replied = Message(1, datetime.now(UTC), group, from_user=author, text="earlier")
    entities = tuple(MessageEntity(**e) for e in text_entities(text or ""))
    return Message(
        2,
        datetime.now(UTC),
        group,
        from_user=User(id=1001, first_name="Alice", is_bot=False),
        text=text,
        entities=entities,
        reply_to_message=replied,
    )


@pytest.mark.parametrize(
    ("text", "chat", "reply_from", "expected"),
    [
        ("@storybot who is Witkoff?", "supergroup", None, True),
        ("who is Witkoff, @StoryBot?", "group", None, True),
        ("@storybot_fans who is Witkoff?", "supergroup", None, False),
        ("ask @storybot_fans, not @storybot", "supergroup", None, True),
        ("mail fans@storybot.org", "supergroup", None, False),
        ("chatting about the talks", "supergroup", None, False),
        ("/ask who is Witkoff?", "supergroup", None, True),
        ("/ask@StoryBot who is Witkoff?", "supergroup", None, True),
        ("/ask@storybot_fans who is Witkoff?", "supergroup", None, False),
        ("/ask@other_bot @storybot", "supergroup", None, False),
        ("/ not a command", "supergroup", None, False),
        ("who is he?", "supergroup", BOT_ID, True),
        ("who is he?", "supergroup", 1002, False),
        ("anything at all", "private", None, True),
        (None, "private", None, False),
    ],
)
def test_addressed_is_exact_about_the_bots_name(
    text: str | None, chat: str, reply_from: int | None, expected: bool
) -> None:
    bot = cast(Bot, SimpleNamespace(id=BOT_ID, username=BOT_NAME))
    assert addressed(message(text, chat, reply_from), bot) is expected


async def test_a_longer_username_is_neither_answered_nor_counted(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = seed_settings.model_copy(update={"rate_limit": 3})
    fans = f"@{server.username}_fans"  # another account whose name starts with the bot's
    async with running_bot(server, settings, seed_engine) as app:
        for _ in range(6):  # twice the budget, had these counted
            server.group_text(f"{fans} {QUESTION}", user_id=3003)
        server.group_text(f"@{server.username} {QUESTION}", user_id=3003)
        await server.await_for("sendMessage", 1, timeout=30)
        server.wait_idle()
    to_group = [p["text"] for p in server.sent() if p["chat_id"] == DEFAULT_GROUP_ID]
    assert len(to_group) == 1 and "Witkoff" in to_group[0], "only the real question is answered"
    assert not any("asking faster than I can keep up" in text for text in to_group)
    counts = app.bot_data["guard"].counts
    assert (counts["allowed"], counts["limited"], counts["noticed"]) == (1, 0, 0)


def test_a_redelivery_to_the_same_worker_is_caught_while_the_shared_record_is_away() -> None:
    class Away:  # the shared record failing open: every id looks new
        def repeated(self, update_id: int) -> bool:
            return False

    guard = Guard(updates=Away())
    assert guard.repeated(7) is False
    assert guard.repeated(7) is True  # this worker's own memory
    assert guard.repeated(8) is False
