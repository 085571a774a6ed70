"""The conversation end to end: the real Application long-polls the fake Bot API on 127.0.0.1.

Greetings and unknown commands, `/story` picking the story a chat follows (kept in the per-chat
state, so it survives a restart), and `/summary` of one story with several indexed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.settings import BotSettings
from botrunner import running_bot
from fakebot import BOT_USERNAME, FakeBotAPI
from telegram_html import validate_telegram_html

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"
BUDGET = "Parliament passes the 2026 budget"


async def reply_to(server: FakeBotAPI, send: Callable[[], Any]) -> str:
    """Send one message and wait for the bot's reply to it (its text)."""
    before = len(server.sent())
    send()
    sent = (await server.await_for("sendMessage", before + 1, timeout=30))[-1]
    assert validate_telegram_html(sent["text"]) is None
    return str(sent["text"])


async def test_greetings_and_thanks_get_a_friendly_reply_not_a_search(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine):
        replies = {
            text: await reply_to(server, lambda text=text: server.private_text(text))
            for text in ("Hello", "hi!", "Thanks!", "thank you")
        }
        mention = await reply_to(server, lambda: server.group_text(f"@{BOT_USERNAME} thanks!"))
    for text, reply in replies.items():
        assert "not in the story" not in reply and "/help" in reply, text
    assert replies["Hello"].startswith("Hello! I answer questions about the story “London talks”")
    assert replies["hi!"] == replies["Hello"]
    assert (
        replies["Thanks!"].startswith("You're welcome!")
        and replies["thank you"] == replies["Thanks!"]
    )
    assert mention == replies["Thanks!"]


async def test_unknown_commands_are_answered_in_private_and_in_groups_when_named(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine):
        private = await reply_to(server, lambda: server.private_text("/foo bar"))
        server.group_text("/foo")
        server.group_text("/foo@some_other_bot")
        named = await reply_to(server, lambda: server.group_text(f"/foo@{BOT_USERNAME}"))
        server.wait_idle()
        await asyncio.sleep(0.5)
    assert private.startswith("I don't know <code>/foo</code>")
    assert "/summary [topic] [N]" in private and "/story" in private
    assert named == private
    assert len(server.sent()) == 2, "a bare /foo in a group may be another bot's"


async def test_a_chat_picks_a_story_with_story_and_is_answered_from_it(
    server: FakeBotAPI, newsroom_settings: BotSettings, newsroom_engine: Engine
) -> None:
    async with running_bot(server, newsroom_settings, newsroom_engine):
        listed = await reply_to(server, lambda: server.private_text("/story"))
        before = await reply_to(server, lambda: server.private_text("Who is Steve Witkoff?"))
        picked = await reply_to(server, lambda: server.private_text("/story 4"))
        after = await reply_to(server, lambda: server.private_text("Who is Steve Witkoff?"))
        help_text = await reply_to(server, lambda: server.private_text("/help"))
        summary = await reply_to(server, lambda: server.private_text("/summary"))
        other = await reply_to(server, lambda: server.private_text("/summary", user_id=4242))
        back = await reply_to(server, lambda: server.private_text("/story all"))
        again = await reply_to(server, lambda: server.private_text("Who is Steve Witkoff?"))
    assert "The 4 stories I know" in listed
    assert f"4. {BUDGET} — 2 May 2025 · <code>2025-05-02-budget-vote</code>" in listed
    assert WITKOFF in before and WITKOFF in again
    assert picked.startswith(f"Now following “{BUDGET}”")
    assert WITKOFF not in after and "not in the story" in after
    assert f"This chat follows “{BUDGET}”" in help_text
    assert summary.startswith(f"<b>Summary of “{BUDGET}”</b>")
    assert summary.count(f"({BUDGET}, ¶") == 4 and "London talks" not in summary
    assert "A summary is of one story at a time" in other, "another chat follows no story"
    assert back.startswith("Now answering from every story (4)")


async def test_group_summary_is_of_one_story_or_asks_which(
    server: FakeBotAPI, newsroom_settings: BotSettings, newsroom_engine: Engine
) -> None:
    settings = newsroom_settings.model_copy(update={"summary_cooldown": 60, "rate_limit": 0})
    async with running_bot(server, settings, newsroom_engine):
        which = await reply_to(server, lambda: server.group_text("/summary"))
        crimea = await reply_to(server, lambda: server.group_text("/summary Crimea 2"))
        picked = await reply_to(server, lambda: server.group_text(f"/story@{BOT_USERNAME} 3"))
        cooled = await reply_to(server, lambda: server.group_text("/summary"))
    assert "A summary is of one story at a time" in which and "¶" not in which
    assert crimea.startswith("<b>What “London talks, 23 Apr 2025” says about “Crimea”</b>")
    assert 1 <= crimea.count("(London talks, 23 Apr 2025, ¶") <= 2
    assert "London talks, 24 Apr 2025" not in crimea, "never a mix of stories"
    assert picked.startswith("Now following “London talks, 24 Apr 2025”")
    assert cooled.startswith("A summary was posted here"), "asking which spent no cooldown"


async def test_the_followed_story_is_kept_across_a_restart(
    server: FakeBotAPI, newsroom_settings: BotSettings, newsroom_engine: Engine, tmp_path: Path
) -> None:
    settings = newsroom_settings.model_copy(update={"state": tmp_path / "state.db"})
    async with running_bot(server, settings, newsroom_engine):
        await reply_to(server, lambda: server.private_text("/story harbour"))
    async with running_bot(server, settings, newsroom_engine):
        help_text = await reply_to(server, lambda: server.private_text("/help"))
        summary = await reply_to(server, lambda: server.private_text("/summary 2"))
    assert "This chat follows “Harbour fire”" in help_text
    assert summary.startswith("<b>Summary of “Harbour fire”</b>")
