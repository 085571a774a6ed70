"""The conversation: one parser, one set of replies, for the terminal chat and Telegram."""

from __future__ import annotations

import pytest

from bot.conversation import Command, Conversation, parse, small_talk
from bot.engine import Engine
from bot.state import SqliteState, followed_story
from bot.templates import to_plain

BUDGET = "2025-05-02-budget-vote"
SEED = "2025-04-23-london-talks"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("Who is Rubio?", Command("question", "Who is Rubio?")),
        ("/ask Who is Rubio?", Command("ask", "Who is Rubio?")),
        ("/ASK@storybot   Who is Rubio?", Command("ask", "Who is Rubio?")),
        ("/ask", Command("ask", "")),
        ("/summary", Command("summary")),
        ("/summary 3", Command("summary", "", 3)),
        ("/summary Crimea 2", Command("summary", "Crimea", 2)),
        ("/summary@storybot ceasefire talks 50", Command("summary", "ceasefire talks", 10)),
        ("/summary 3 ministers", Command("summary", "3 ministers")),
        ("/whatsnew", Command("whatsnew")),
        ("/story", Command("story")),
        ("/story 2", Command("story", "2")),
        ("/stories", Command("story")),
        ("/start", Command("help")),
        ("/help", Command("help")),
        ("/foo bar", Command("unknown", "foo")),
        ("Hello", Command("greeting", "Hello")),
        ("/ask thanks!", Command("thanks", "thanks!")),
    ],
)
def test_parse_reads_commands_as_telegram_does(text: str, command: Command) -> None:
    assert parse(text, "storybot") == command


def test_a_command_for_another_bot_is_not_ours() -> None:
    assert parse("/summary@other_bot", "storybot") is None
    assert parse("/foo@other_bot", "storybot") is None
    assert parse("/ask@StoryBot hi", "storybot") == Command("greeting", "hi")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Hello", "greeting"),
        ("hi!", "greeting"),
        ("Hey there 👋", "greeting"),
        ("Good morning, everyone", "greeting"),
        ("Thanks!", "thanks"),
        ("thank you", "thanks"),
        ("Thank you so much!!", "thanks"),
        ("ok, thanks", "thanks"),
        ("Hi, who is Witkoff?", None),
        ("Thanks, but why did Rubio cancel?", None),
        ("good", None),
        ("Who is he?", None),
        ("", None),
    ],
)
def test_small_talk_is_only_a_greeting_or_thanks(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind


@pytest.fixture
def conversation(newsroom_engine: Engine) -> Conversation:
    return Conversation(newsroom_engine, SqliteState(":memory:"))


def test_summary_of_several_stories_asks_which_until_the_chat_picks(
    conversation: Conversation,
) -> None:
    asked = conversation.respond(1, Command("summary"))
    assert asked.answer is None and asked.html is not None
    assert "one story at a time" in asked.html and BUDGET in asked.html
    picked = conversation.respond(1, Command("story", "budget"))
    assert "Now following “Parliament passes the 2026 budget”" in (picked.html or "")
    assert followed_story(conversation.state, 1) == BUDGET
    summary = conversation.respond(1, Command("summary"))
    assert summary.answer is not None and summary.answer.extra["story"] == BUDGET
    assert (summary.html or "").startswith("<b>Summary of “Parliament passes the 2026 budget”</b>")
    assert {c.story for c in summary.answer.citations} == {BUDGET}
    assert conversation.respond(2, Command("summary")).answer is None, "chats pick apart"


def test_a_chat_that_follows_a_story_is_answered_from_it_and_help_says_so(
    conversation: Conversation,
) -> None:
    everywhere = conversation.respond(3, Command("question", "Who is Steve Witkoff?")).answer
    assert everywhere is not None and everywhere.quotes
    assert everywhere.citations[0].sentence.startswith("His envoy, Steve Witkoff")
    conversation.respond(3, Command("story", BUDGET))
    budget = conversation.respond(3, Command("question", "Who is Steve Witkoff?")).answer
    assert budget is not None and not budget.answered
    assert {c.story for c in budget.citations} <= {BUDGET}
    assert "This chat follows “Parliament passes the 2026 budget”" in conversation.help(3)
    conversation.respond(3, Command("story", "all"))
    again = conversation.respond(3, Command("question", "Who is Steve Witkoff?")).answer
    assert again is not None and again.quotes
    assert again.citations[0].sentence.startswith("His envoy, Steve Witkoff")
    assert "This chat follows" not in conversation.help(3)


def test_an_unknown_or_ambiguous_story_lists_the_choices(conversation: Conversation) -> None:
    unknown = to_plain(conversation.respond(4, Command("story", "sourdough")).html or "")
    assert "No story matches “sourdough”" in unknown and SEED in unknown
    ambiguous = to_plain(conversation.respond(4, Command("story", "london")).html or "")
    assert "matches 2 stories" in ambiguous and BUDGET not in ambiguous
    assert followed_story(conversation.state, 4) is None
    zero = to_plain(conversation.respond(4, Command("story", "0")).html or "")
    assert "No story matches “0”" in zero and followed_story(conversation.state, 4) is None
    # A 5,000-character reference is quoted back cut short, not echoed in three messages.
    long = to_plain(conversation.respond(4, Command("story", "sourdough " * 500)).html or "")
    assert "No story matches “sourdough sourdough" in long and "…”" in long
    assert long.count("sourdough") <= 7 and len(long) < 4096


def test_a_topic_summary_names_the_story_it_is_about(conversation: Conversation) -> None:
    reply = conversation.respond(5, Command("summary", "Crimea", 2))
    assert reply.answer is not None and reply.answer.extra["story"] == SEED
    assert (reply.html or "").startswith("<b>What “London talks, 23 Apr 2025” says about “Crimea”")
    assert "this one says most about it" in (reply.html or "")
    assert 1 <= len(reply.answer.citations) <= 2
    assert "Crimea" in reply.answer.citations[0].sentence
