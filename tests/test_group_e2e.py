"""End to end in groups: /summary, inline answers and /whatsnew after an update.

The real Application long-polls the fake Bot API server on 127.0.0.1, with the real model, FAISS
index and templates. Tests that rebuild the index use their own stories and index in tmp_path.
The handlers' rules (the /summary cooldown, follow-ups, who is answered) are tested without
HTTP in test_handlers.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, build
from bot.settings import BotSettings
from bot.telegram.telegram_text import utf16_len
from botrunner import running_bot
from fakebot import BOT_USERNAME, FakeBotAPI
from index.embedder import Embedder
from support import WITKOFF_MD, developing_stories
from telegram_html import validate_telegram_html

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"
OTHER_GROUP = -1005555555555


def settings_for(seed_settings: BotSettings, **changes: object) -> BotSettings:
    """The seed settings with the rate limit off and the given changes."""
    return seed_settings.model_copy(update={"rate_limit": 0, **changes})


def in_chat(chat_id: int) -> Callable[[dict[str, Any]], bool]:
    """A sendMessage predicate: sent to `chat_id`."""
    return lambda params: bool(params["chat_id"] == chat_id)


def citations_in(text: str) -> int:
    return len(re.findall(r"London talks, ¶\d+", text))


async def test_group_summary_with_and_without_bot_name_topic_and_count(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    settings = settings_for(seed_settings, summary_cooldown=0)
    async with running_bot(server, settings, seed_engine):
        server.group_text("/summary")
        (plain,) = await server.await_for("sendMessage", 1)
        server.group_text(f"/summary@{BOT_USERNAME} ceasefire 3")
        topic = (await server.await_for("sendMessage", 2))[-1]
        server.group_text("/summary@some_other_bot")
        server.group_text("what a summary that was")
        server.group_text("/summary sourdough baking")
        declined = (await server.await_for("sendMessage", 3))[-1]
        server.group_text("/summary 50")
        longest = (await server.await_for("sendMessage", 4))[-1]
        await asyncio.sleep(0.3)
    assert (
        plain["text"].startswith("<b>Summary of “London talks”</b>")
        and citations_in(plain["text"]) == 5
    )
    assert topic["text"].startswith("<b>What “London talks” says about “ceasefire”</b>")
    assert citations_in(topic["text"]) == 3
    assert "ceasefire" in topic["text"].lower().split("</b>", 1)[1]
    assert "not in the story" in declined["text"] and citations_in(declined["text"]) == 0
    assert citations_in(longest["text"]) == 10, "N is capped at 10"
    for sent in server.sent():
        assert validate_telegram_html(sent["text"]) is None
        assert sent["reply_parameters"]["message_id"], "replies are threaded to the command"
    assert len(server.sent()) == 4, "other bots' commands and chatter get no reply"


async def test_inline_query_offers_up_to_three_cited_answers(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, settings_for(seed_settings), seed_engine):
        server.inline_query("Who is Steve Witkoff?")
        server.inline_query("   ")
        server.inline_query("How do I bake sourdough bread?")
        calls = await server.await_for("answerInlineQuery", 3)
    by_kind = {len(c["results"]) > 0: c for c in calls}
    answered = by_kind[True]
    # Offered as answers, or under a button saying the story may not say exactly.
    hedged = seed_engine.ask("Who is Steve Witkoff?").kind == "related"
    button = answered.get("button", {}).get("text")
    assert button == ("The story may not say exactly — the closest it comes:" if hedged else None)
    results = answered["results"]
    assert 1 <= len(results) <= 3
    assert len({r["id"] for r in results}) == len(results)
    first = results[0]
    assert first["type"] == "article" and first["title"].startswith(WITKOFF)
    assert first["description"].startswith("London talks, paragraph")
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"].startswith("<b>Who is Steve Witkoff?</b>")
    assert WITKOFF in content["message_text"]
    for result in results:
        assert validate_telegram_html(result["input_message_content"]["message_text"]) is None
    empty = [c for c in calls if not c["results"]]
    assert len(empty) == 2
    buttons = sorted(c["button"]["text"] for c in empty)
    assert buttons == [
        "That's not in the story — see what I can answer",
        "Type a question about the story",
    ]


LONG = (
    "Update {n} 😀: delegates from the United Kingdom, France, Germany and Ukraine said on "
    "Thursday that the technical meetings in London would continue into next week, that the "
    "working groups on energy infrastructure, prisoner exchanges and the return of deported "
    "children had each produced a written summary for their governments, and that a further "
    "round at ministerial level was still possible if the United States confirmed that its "
    "delegation would attend in person rather than by video link from Washington (item {n})."
)


@pytest.fixture
def developing(tmp_path: Path, embedder: Embedder) -> tuple[BotSettings, Engine]:
    """Seed story plus an .md story with a url, indexed in tmp_path."""
    return developing_stories(tmp_path, embedder, state=":memory:", rate_limit=0)


async def test_whatsnew_after_an_article_is_edited_and_the_index_rebuilt(
    server: FakeBotAPI, developing: tuple[BotSettings, Engine], embedder: Embedder
) -> None:
    settings, engine = developing
    story = settings.stories / "witkoff.md"
    async with running_bot(server, settings, engine):
        server.group_text("/whatsnew")
        (first,) = await server.await_for("sendMessage", 1)
        edited = WITKOFF_MD.replace("in Moscow", "in St. Petersburg")
        edited += "\n" + " ".join(LONG.format(n=n) for n in range(1, 11)) + "\n"
        story.write_text(edited, encoding="utf-8")
        await asyncio.to_thread(build, settings, embedder)
        assert await asyncio.to_thread(engine.reload_if_changed)
        server.group_text(f"/whatsnew@{BOT_USERNAME}")
        news = await server.await_for("sendMessage", 3)
        server.group_text("/whatsnew")
        again = (await server.await_for("sendMessage", 4))[-1]
        server.group_text("/whatsnew", chat_id=OTHER_GROUP)
        other = await server.await_for("sendMessage", 1, predicate=in_chat(OTHER_GROUP))
        question = server.private_text("Where will Witkoff meet Putin?")
        private = in_chat(question["message"]["chat"]["id"])
        (answer,) = await server.await_for("sendMessage", 1, predicate=private)
    assert "only one version" in first["text"]
    parts = [m["text"] for m in news[1:3]]
    assert parts[0].startswith("<b>What's new since the version you last saw")
    assert re.match(r"\d+\. <i>New:</i>", parts[1]), "the split falls between items"
    whole = "\n".join(parts)
    assert "<i>Changed:</i> Steve Witkoff will meet Vladimir Putin in St. Petersburg" in whole
    assert "Before: <s>Steve Witkoff will meet Vladimir Putin in Moscow on Friday.</s>" in whole
    assert whole.count("<i>New:</i> Update ") == 9 and "…and 1 more." in whole
    assert "https://example.com/news/witkoff-putin#:~:text=" in whole
    for part in parts:
        assert validate_telegram_html(part) is None and utf16_len(part) <= 4096
    assert again["text"].startswith("Nothing new since the version you last saw")
    assert other[0]["text"].startswith("<b>What's new since the previous update")
    assert "St. Petersburg" in answer["text"] and "changed by a later update" in answer["text"]
    before = "Before the update it read: “Steve Witkoff will meet Vladimir Putin in Moscow"
    assert before in answer["text"]
    assert 'href="https://example.com/news/witkoff-putin#:~:text=Steve%20Witkoff' in answer["text"]
