"""End to end: the newsroom's channel as a story source, and its comments answered with native
quotes. The real Application long-polls the fake Bot API (tests/fakebot.py), which sends channel
posts, their automatic forwards into the discussion group and the comments there, and checks each
reply's quote as Telegram does; the bot, one worker without Redis, builds with the real model."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, build
from bot.settings import BotSettings
from botrunner import running_bot
from fakebot import BOT_USERNAME, DEFAULT_GROUP_ID, JSON, FakeBotAPI, utf16_len
from index.embedder import Embedder
from index.posts import post_file
from support import SEED_STORIES, reader_with_threshold
from telegram_html import validate_telegram_html

CHANNEL = -1002233445566
OTHER_CHANNEL = -1009988776655
FOLLOWING = -1004444444444  # a group that follows every story
ADMIN, READER = 2001, 2002
BRIDGE = (
    "Bridge reopens in May\n"
    "The Old Harbour bridge will reopen to traffic in May, the city said on Monday. "
    "Repairs to the deck cost 4 million euros. Tolls stay at 2 euros a crossing."
)
FERRY = (
    "🚢 Ferry strike ends after three days\n"
    "Harbour ferry crews ended their strike on Tuesday after the city agreed to hire twelve "
    "more sailors. Ferries will run on the normal timetable from Wednesday morning. The union "
    "said talks on pay will continue in June."
)
RUNS = "Ferries will run on the normal timetable from Wednesday morning."
MARKET = (
    "The quay comes alive again\n"
    "The night market returns to the quay on Friday evenings from 6 pm. "
    "Thirty food stalls have signed up."
)
FRIDAYS = "The night market returns to the quay on Friday evenings from 6 pm."
FAST = {"follow_seconds": 0.05, "post_build_seconds": 1.0}


@pytest.fixture
def newsroom(
    tmp_path: Path, embedder: Embedder, server: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> tuple[BotSettings, Engine]:
    """The seed story indexed in tmp_path; the bot reads CHANNEL (by its @username), whose
    discussion group is the fake's default group; the bot's log lines are kept."""
    caplog.set_level(logging.INFO)
    server.link_discussion(CHANNEL, DEFAULT_GROUP_ID, username="newsroom_test")
    shutil.copytree(SEED_STORIES, tmp_path / "stories")
    settings = BotSettings(
        stories=tmp_path / "stories",
        index=tmp_path / "var" / "index",
        state=tmp_path / "state.db",
        channels="@newsroom_test",
        rate_limit=0,
        follow_interval=0,
    )
    build(settings, embedder)
    return settings, Engine(settings)


async def until(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """`check()` once truthy, polling; fails naming `what` after `timeout` s."""
    for _ in range(int(timeout / 0.1)):
        if value := check():
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def to(chat_id: int, start: str = "") -> Callable[[JSON], bool]:
    return lambda p: p["chat_id"] == chat_id and str(p["text"]).startswith(start)


def replying_to(message: JSON) -> Callable[[JSON], bool]:
    """sendMessage params that reply to `message`."""
    return lambda p: (
        p["chat_id"] == message["chat"]["id"]
        and ((p.get("reply_parameters") or {}).get("message_id") == message["message_id"])
    )


def stories_of(engine: Engine) -> dict[str, str]:
    return {s.file: s.title for s in engine.catalog.stories}


async def test_posts_become_stories_an_edit_reaches_followers_and_comments_get_quotes(
    server: FakeBotAPI,
    newsroom: tuple[BotSettings, Engine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, engine = newsroom
    server.set_member(FOLLOWING, ADMIN, "administrator")
    files = [post_file(CHANNEL, n) for n in (1, 2, 3)]
    async with running_bot(server, settings, engine, FAST) as app:
        bridge = server.channel_post(BRIDGE, chat_id=CHANNEL)
        ferry = server.channel_post(FERRY, chat_id=CHANNEL)
        # The answer to when the market is on is in bold: a quote would have to be bold too.
        bold = {"offset": MARKET.index(FRIDAYS), "length": utf16_len(FRIDAYS), "type": "bold"}
        market = server.channel_post(MARKET, chat_id=CHANNEL, entities=[bold])
        await until(lambda: set(files) <= set(stories_of(engine)), "three posts indexed")
        assert stories_of(engine)[files[1]] == "🚢 Ferry strike ends after three days"
        builds = [r for r in caplog.records if r.getMessage().startswith("indexed the channel")]
        assert len(builds) == 1, "three posts at once are one build"

        # An edit of the first post reaches a following group as one cited update.
        server.group_text("/follow", chat_id=FOLLOWING, user_id=ADMIN)
        await server.await_for(predicate=to(FOLLOWING, "This chat will be told"))
        server.edit_channel_post(bridge, BRIDGE.replace("in May, the city", "in June, the city"))
        [update] = await server.await_for(predicate=to(FOLLOWING, "<b>Update: "), timeout=90)
        await asyncio.sleep(0.5)  # rounds enough to post it twice

        # A question on the second post, answered from it with a quote of it.
        forward = server.forward_of(ferry)
        asked = server.comment(
            f"@{BOT_USERNAME} when will the ferries run normally again?", ferry, user_id=READER
        )["message"]
        [quoted] = await server.await_for(predicate=replying_to(forward), timeout=60)
        # Its buttons work as under any answer (issue 22): Context, then back to the quote.
        reply = next(c.result for c in server.calls if c.params is quoted)
        server.press(reply, "Context", user_id=READER)
        [in_paragraph] = await server.await_for("editMessageText", 1)
        server.press(reply, "Quote", user_id=READER)
        back = (await server.await_for("editMessageText", 2))[-1]
        asks = app.bot_data["asked"].asks()
        # A question the second post does not answer is not answered from the first.
        elsewhere = server.comment(f"@{BOT_USERNAME} when does the bridge reopen?", ferry)
        [declined] = await server.await_for(predicate=replying_to(elsewhere["message"]))

        # The market's answer is bold in the post: quoted in the reply's own text instead.
        on_market = server.comment("/ask When is the night market on?", market)["message"]
        [plain] = await server.await_for(predicate=replying_to(on_market), timeout=60)

        # The post changed without the bot hearing of it: Telegram refuses the quote.
        server.edit_channel_post(ferry, FERRY.replace("Wednesday", "Thursday"), notify=False)
        again = server.comment(
            f"@{BOT_USERNAME} when will the ferries run normally again?", ferry, user_id=READER + 1
        )["message"]
        [fallback] = await server.await_for(predicate=replying_to(again), timeout=60)

    stored = (settings.stories / files[0]).read_text(encoding="utf-8")
    assert "will reopen to traffic in June" in stored and "in May, the city" not in stored
    assert "url: https://t.me/newsroom_test/1" in stored
    assert update["text"].startswith("<b>Update: Bridge reopens in May</b>")
    assert "<i>Changed:</i> The Old Harbour bridge will reopen to traffic in June" in update["text"]
    assert 'href="https://t.me/newsroom_test/1"' in update["text"], "cited, linked to the post"
    assert len([p for p in server.sent() if to(FOLLOWING, "<b>Update: ")(p)]) == 1

    calls = [c for c in server.calls if c.method == "sendMessage"]
    accepted = next(c for c in calls if c.params is quoted)
    assert accepted.ok and accepted.result["quote"]["text"] == RUNS
    assert quoted["reply_parameters"]["quote"] == RUNS
    assert quoted["reply_parameters"]["quote_position"] == utf16_len(FERRY[: FERRY.index(RUNS)])
    assert accepted.result["message_thread_id"] == forward["message_id"], "in the comments"
    assert "Alice</a> asked: <i>when will the ferries run normally again?</i>" in quoted["text"]
    assert (
        '— <a href="https://t.me/newsroom_test/2">🚢 Ferry strike ends after three days</a>'
        in (quoted["text"])
    )
    assert asked["message_thread_id"] == forward["message_id"]
    assert (
        f"<b>{RUNS}</b>" in in_paragraph["text"] and "twelve more sailors" in in_paragraph["text"]
    )
    assert back["text"] == quoted["text"], "Quote brings back the reply quoting the post"
    assert (asks[0].question, asks[0].story) == (
        "when will the ferries run normally again?",
        engine.catalog.of_file(files[1]).id,  # type: ignore[union-attr]
    )

    assert "quote" not in declined["reply_parameters"]
    assert "bridge" not in declined["text"].lower(), "answered from the second post only"

    assert "quote" not in plain["reply_parameters"]
    assert f"<blockquote>{FRIDAYS}</blockquote>" in plain["text"]
    assert not any(replying_to(server.forward_of(market))(c.params) for c in calls)

    refused = [c for c in calls if not c.ok]
    assert [(c.error, c.params["reply_parameters"]["quote"]) for c in refused] == [
        ("Bad Request: quote not found", RUNS)
    ]
    assert f"<blockquote>{RUNS}</blockquote>" in fallback["text"]
    assert "quote" not in fallback["reply_parameters"]
    for sent in (update, quoted, declined, plain, fallback):
        assert validate_telegram_html(sent["text"]) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_opted_in_group_gets_answers_to_the_comments_its_post_answers_only(
    server: FakeBotAPI,
    newsroom: tuple[BotSettings, Engine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, _ = newsroom
    # Unaddressed comments get a reply only when the reader is sure of it; here every on-topic
    # quote counts as sure (threshold 0), so what is tested is which comments are answered.
    sure = reader_with_threshold(settings.stories.parent / "reader", 0.0)
    settings = settings.model_copy(update={"reader": str(sure)})
    engine = Engine(settings)
    server.link_discussion(OTHER_CHANNEL, -1003333333333)
    server.set_member(DEFAULT_GROUP_ID, ADMIN, "creator")
    slow = {**FAST, "post_build_seconds": 3.0}  # time to ask before the post is indexed
    async with running_bot(server, settings, engine, slow):
        ferry = server.channel_post(FERRY, chat_id=CHANNEL)
        server.channel_post(chat_id=CHANNEL, photo=True)  # no text: nothing to store
        server.channel_post("Not ours\nA post of a channel storybot does not read.", OTHER_CHANNEL)
        await until(lambda: (settings.stories / post_file(CHANNEL, 1)).exists(), "post stored")
        early = server.comment(f"@{BOT_USERNAME} will the pay talks continue?", ferry)
        [reading] = await server.await_for(predicate=replying_to(early["message"]))
        assert post_file(CHANNEL, 1) not in stories_of(engine)
        await until(lambda: post_file(CHANNEL, 1) in stories_of(engine), "the post indexed")
        forward = server.forward_of(ferry)

        before = server.comment("Will the pay talks continue?", ferry)
        server.private_text("/comments", user_id=READER)
        await server.await_for(predicate=to(READER, "/comments is for a channel's discussion"))
        server.group_text("/comments", user_id=READER)
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "I answer comments on the channel"))
        server.comment("/comments on", ferry, user_id=READER)  # not an admin
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "Only this group's admins"))
        server.group_text("/comments on", user_id=ADMIN)
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "From now on I answer"))

        server.comment("Great reporting, thanks!", ferry, user_id=READER)
        off_topic = server.comment("Who won the football on Sunday?", ferry, user_id=READER)
        question = server.comment("Will the pay talks continue?", ferry, user_id=READER)
        [answer] = await server.await_for(predicate=replying_to(forward), timeout=60)
        # A reply to another comment is in the same thread: answered from the same post.
        deeper = server.comment(
            "And when do ferries run normally?", ferry, reply_to=question["message"]
        )
        _, second = await server.await_for(predicate=replying_to(forward), count=2, timeout=60)
        # A reply to the bot's answer (on the pay talks) follows up on the question it answered.
        bot_answer = server.bot_messages(DEFAULT_GROUP_ID)[-2]
        server.comment("When?", ferry, reply_to=bot_answer, user_id=READER)
        await server.await_for(predicate=replying_to(forward), count=3, timeout=60)
        server.group_text("/comments off", user_id=ADMIN)
        await server.await_for(predicate=to(DEFAULT_GROUP_ID, "I answer comments here only"))
        after = server.comment("Will the pay talks continue?", ferry, user_id=READER + 1)
        await asyncio.sleep(1.0)  # time to answer, if it would
        server.wait_idle()

    assert reading["text"] == "I'm still reading this post; ask me again in a moment."
    texts = {p["text"] for p in server.sent()}
    quoted = [p for p in server.sent() if "quote" in (p.get("reply_parameters") or {})]
    pay = "The union said talks on pay will continue in June."
    assert [p["reply_parameters"]["quote"] for p in quoted] == [pay, RUNS, pay]
    assert "<i>And when do ferries run normally?</i>" in second["text"]
    assert deeper["message"]["message_thread_id"] == forward["message_id"]
    assert answer["text"].startswith('<a href="tg://user?id=2002">Alice</a> asked:')
    assert "<i>When?</i>" in quoted[2]["text"], "'when' of the pay talks"
    for quiet in (before, off_topic, after):
        assert not any(replying_to(quiet["message"])(p) for p in server.sent())
    assert not any("football" in t or "Great reporting" in t for t in texts)
    assert not any(p["chat_id"] == -1003333333333 for p in server.sent())
    assert sorted(p.name for p in (settings.stories / "telegram").iterdir()) == [str(CHANNEL)]
    assert sorted(p.name for p in (settings.stories / "telegram" / str(CHANNEL)).glob("*.txt")) == [
        "1.txt"
    ]
    logged = [r.getMessage() for r in caplog.records]
    assert "channel post telegram/-1002233445566/2.txt has no text" in " ".join(logged)
    assert f"ignoring posts of channel {OTHER_CHANNEL} (not in STORYBOT_CHANNELS)" in logged
