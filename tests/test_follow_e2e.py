"""End to end: /follow and /unfollow, and the cited update a following chat gets when a build
changes its story. The real Application long-polls the fake Bot API on 127.0.0.1; the stories
are edited and rebuilt with the real model in tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, build
from bot.following import Followers
from bot.settings import BotSettings
from botrunner import running_bot
from fakebot import DEFAULT_GROUP_ID, FakeBotAPI
from index.embedder import Embedder
from support import SEED_FILE, developing_stories
from telegram_html import validate_telegram_html

QUIET_GROUP = -1005555555555  # never follows
MEMBERS_GROUP = -1006666666666  # a member, not an admin, asks
ADMIN, MEMBER = 2001, 2002
TICK = 0.05
# Updates are posted every TICK s from the bot's start (not the 5 s of a real bot).
TICKING = {"follow_seconds": TICK}


@pytest.fixture
def developing(tmp_path: Path, embedder: Embedder) -> tuple[BotSettings, Engine]:
    """The seed story and a second one, indexed in tmp_path; updates are told at once."""
    return developing_stories(
        tmp_path, embedder, state=tmp_path / "state.db", rate_limit=0, follow_interval=0
    )


def edit(settings: BotSettings, engine: Engine, embedder: Embedder, old: str, new: str) -> None:
    """Change the seed story, rebuild, and serve the new build (as the reload loop would)."""
    path = settings.stories / SEED_FILE.name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    build(settings, embedder)
    assert engine.reload_if_changed()


def updates(server: FakeBotAPI, chat_id: int) -> list[str]:
    """The follow updates sent to a chat."""
    return [p["text"] for p in server.sent() if p["chat_id"] == chat_id and is_update(p)]


def to(chat_id: int, start: str = "") -> Callable[[dict[str, Any]], bool]:
    """A sendMessage predicate: to `chat_id`, its text starting with `start`."""
    return lambda p: p["chat_id"] == chat_id and str(p["text"]).startswith(start)


def is_update(params: dict[str, Any]) -> bool:
    return str(params.get("text", "")).startswith("<b>Update: ")


async def test_a_following_group_gets_one_cited_update_and_a_restart_repeats_nothing(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    server.set_member(DEFAULT_GROUP_ID, ADMIN, "administrator")
    async with running_bot(server, settings, engine, TICKING):
        server.group_text("/follow London talks", user_id=ADMIN, first_name="Ada")
        server.group_text("/help", chat_id=QUIET_GROUP)
        server.group_text("/follow", chat_id=MEMBERS_GROUP, user_id=MEMBER, first_name="Max")
        followed = (await server.await_for(predicate=to(DEFAULT_GROUP_ID)))[0]["text"]
        refused = (await server.await_for(predicate=to(MEMBERS_GROUP)))[0]["text"]
        await server.await_for(predicate=to(QUIET_GROUP))
        await asyncio.to_thread(
            edit, settings, engine, embedder, "is expected to visit Russia", "will visit Moscow"
        )
        [update] = await server.await_for(predicate=to(DEFAULT_GROUP_ID, "<b>Update: "))
        await asyncio.sleep(20 * TICK)  # rounds enough to post anything twice
    assert followed.startswith("This chat will be told each update of “London talks”")
    assert refused.startswith("Only this group's admins can choose which updates it is told")
    assert update["text"].startswith("<b>Update: London talks</b>\n<b>What's new since")
    assert "<i>Changed:</i> His envoy, Steve Witkoff, will visit Moscow" in update["text"]
    assert "(London talks, ¶14)" in update["text"]
    assert validate_telegram_html(update["text"]) is None
    assert "reply_parameters" not in update, "an update is a message of its own"
    assert len(updates(server, DEFAULT_GROUP_ID)) == 1
    assert updates(server, QUIET_GROUP) == [] and updates(server, MEMBERS_GROUP) == []

    async with running_bot(server, settings, engine, TICKING):  # a restart
        await asyncio.sleep(20 * TICK)
        assert len(updates(server, DEFAULT_GROUP_ID)) == 1, "nothing is posted twice"
        await asyncio.to_thread(
            edit, settings, engine, embedder, "in London today", "in London on Wednesday"
        )
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "<b>Update: "), count=2)
        await asyncio.sleep(10 * TICK)
    first, second = updates(server, DEFAULT_GROUP_ID)
    assert first == update["text"]
    assert "in London on Wednesday" in second and "will visit Moscow" not in second
    assert updates(server, QUIET_GROUP) == [] and updates(server, MEMBERS_GROUP) == []


async def test_unfollow_stops_the_updates(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    async with running_bot(server, settings, engine, TICKING):
        question = server.private_text("/follow all")
        chat = question["message"]["chat"]["id"]
        await server.await_for(predicate=to(chat, "This chat will be told each update"))
        server.private_text("/unfollow")
        await server.await_for(predicate=to(chat, "This chat will be told no more updates"))
        await asyncio.to_thread(
            edit, settings, engine, embedder, "is expected to visit Russia", "will visit Moscow"
        )
        await asyncio.sleep(20 * TICK)
    assert updates(server, chat) == []


async def test_a_chat_that_blocked_the_bot_is_unfollowed_not_retried(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    async with running_bot(server, settings, engine, TICKING) as app:
        followers: Followers = app.bot_data["followers"]
        chat = server.private_text("/follow")["message"]["chat"]["id"]
        await server.await_for(predicate=to(chat))
        server.set_member(DEFAULT_GROUP_ID, ADMIN, "creator")
        server.group_text("/follow", user_id=ADMIN)
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "This chat will be told"))
        assert followers.chats() == [chat, DEFAULT_GROUP_ID]
        server.block(chat)
        server.forget_chat(DEFAULT_GROUP_ID)  # the group was deleted
        await asyncio.to_thread(
            edit, settings, engine, embedder, "is expected to visit Russia", "will visit Moscow"
        )
        await server.await_for(ok_only=False, count=2, predicate=is_update)
        for _ in range(100):
            if not followers.chats():
                break
            await asyncio.sleep(TICK)
        assert followers.chats() == []
        await asyncio.to_thread(
            edit, settings, engine, embedder, "in London today", "in London on Wednesday"
        )
        await asyncio.sleep(20 * TICK)
    tries = [c for c in server.calls if c.method == "sendMessage" and is_update(c.params)]
    assert sorted((c.params["chat_id"], c.error) for c in tries) == [
        (DEFAULT_GROUP_ID, "Bad Request: chat not found"),
        (chat, "Forbidden: bot was blocked by the user"),
    ], "one try each, then never again"


async def test_a_group_upgraded_to_a_supergroup_follows_on_under_its_new_id(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    supergroup = -1007777777777
    async with running_bot(server, settings, engine, TICKING) as app:
        followers: Followers = app.bot_data["followers"]
        server.set_member(DEFAULT_GROUP_ID, ADMIN, "creator")
        server.group_text("/follow", user_id=ADMIN)
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "This chat will be told"))
        server.migrate(DEFAULT_GROUP_ID, supergroup)
        await asyncio.to_thread(
            edit, settings, engine, embedder, "is expected to visit Russia", "will visit Moscow"
        )
        await server.await_for(predicate=lambda p: p["chat_id"] == supergroup and is_update(p))
        for _ in range(100):
            if followers.chats() == [supergroup]:
                break
            await asyncio.sleep(TICK)
        assert followers.chats() == [supergroup]
    tries = [c for c in server.calls if c.method == "sendMessage" and is_update(c.params)]
    assert [c.params["chat_id"] for c in tries] == [DEFAULT_GROUP_ID, supergroup]
    assert "will visit Moscow" in updates(server, supergroup)[0]


async def test_a_broadcast_to_many_chats_is_paced_and_a_429_waited_out_not_dropped(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    readers = range(3001, 3046)
    async with running_bot(server, settings, engine, TICKING):
        for user in readers:
            server.private_text("/follow", user_id=user)
        await server.await_for(count=len(readers), timeout=60)
        server.inject("sendMessage", "429", retry_after=1)
        await asyncio.to_thread(
            edit, settings, engine, embedder, "is expected to visit Russia", "will visit Moscow"
        )
        sent = await server.await_for(count=len(readers), timeout=60, predicate=is_update)
        await asyncio.sleep(10 * TICK)
    assert sorted(p["chat_id"] for p in sent) == list(readers), "every chat once, none dropped"
    assert [c.fault for c in server.calls if c.fault] == ["429"]
    times = [c.time for c in server.calls if c.ok and is_update(c.params)]
    # 45 messages at 30 a second (a burst of 30, then one every 1/30 s) take at least 0.5 s.
    assert max(times) - min(times) >= 0.45
