"""The Telegram handlers: what they parse, and their rules, run with PTB objects directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation import summary_args
from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram import handlers
from bot.telegram.guard import addressed
from bot.telegram.handlers import strip_mention
from fakebot import BOT_USERNAME, DEFAULT_GROUP_ID
from offline_bot import Chat, context_of, offline_app

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, None)),
        (["3"], (None, 3)),
        (["ceasefire"], ("ceasefire", None)),
        (["ceasefire", "talks", "3"], ("ceasefire talks", 3)),
        (["crimea", "50"], ("crimea", 10)),
        (["crimea", "0"], ("crimea", 1)),
        (["3", "ministers"], ("3 ministers", None)),
        (["crimea", "-2"], ("crimea -2", None)),
    ],
)
def test_summary_args_take_a_trailing_number_as_the_count(
    args: list[str], expected: tuple[str | None, int | None]
) -> None:
    assert summary_args(args) == expected


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("@storybot who is Witkoff?", "who is Witkoff?"),
        ("@StoryBot who is Witkoff?", "who is Witkoff?"),  # Telegram usernames ignore case
        ("who is Witkoff, @STORYBOT?", "who is Witkoff, ?"),
        ("@storybot_fans who is Witkoff?", "@storybot_fans who is Witkoff?"),  # another user
    ],
)
def test_strip_mention_removes_only_the_bots_mention(text: str, question: str) -> None:
    assert strip_mention(text, "storybot") == question


# The handlers' rules (who is answered, the /summary cooldown, follow-ups), with PTB's own
# Update and Message objects and a real CallbackContext, the Bot API offline (offline_bot.py);
# what only the wire shows (polling, threading replies, retries) stays in the *_e2e tests.
OTHER_GROUP = -1005555555555


def no_rate_limit(settings: BotSettings, **changes: object) -> BotSettings:
    return settings.model_copy(update={"rate_limit": 0, **changes})


async def test_a_group_hears_only_what_addresses_the_bot_by_its_exact_name(
    seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with offline_app(no_rate_limit(seed_settings), seed_engine) as (app, api):
        group = Chat(app.bot)
        someone = group.text("Who is Steve Witkoff?", user_id=1002)
        for text, reply_to in [
            (f"@{BOT_USERNAME}_fans who is Steve Witkoff?", None),  # another account
            ("chatting about Steve Witkoff", None),
            ("who is he?", someone.message.to_dict()),  # a reply, but not to the bot
            (f"@{BOT_USERNAME.upper()} who is Steve Witkoff?", None),
        ]:
            update = group.text(text, reply_to=reply_to)
            assert addressed(update.message, app.bot) is text.startswith(f"@{BOT_USERNAME.upper()}")
            await handlers.group_text(update, context_of(app, update))
        (answer,) = api.texts()
        assert WITKOFF in answer
        for text in ("/summary@some_other_bot", f"/summary@{BOT_USERNAME}_fans"):
            update = group.text(text)
            await handlers.summary(update, context_of(app, update))
        assert len(api.sent) == 1, "a command for another bot is not ours to answer"


async def test_summary_cooldown_sends_one_short_note_then_stays_quiet(
    seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with offline_app(no_rate_limit(seed_settings), seed_engine) as (app, api):
        group, other, private = Chat(app.bot), Chat(app.bot, OTHER_GROUP), Chat(app.bot, 1001)
        for chat, text, user in [
            (group, "/summary", 1001),
            (group, "/summary", 1002),  # during the cooldown: one note
            (group, "/summary crimea", 1003),  # and then silence
            (other, "/summary", 1001),  # another group is not held back
            (private, "/summary", 1001),  # nor is a private chat
        ]:
            update = chat.text(text, user_id=user)
            await handlers.summary(update, context_of(app, update))
    first, note, elsewhere, in_private = api.texts()
    assert first.startswith("<b>Summary of “London talks”</b>")
    assert "Ask again in" in note and len(note) < 120
    assert elsewhere == first and in_private == first
    assert [p["chat_id"] for p in api.params] == [DEFAULT_GROUP_ID] * 2 + [OTHER_GROUP, 1001]


async def test_a_reply_to_an_answer_follows_up_on_it_even_after_a_restart(
    seed_settings: BotSettings, seed_engine: Engine, tmp_path: Path
) -> None:
    settings = no_rate_limit(seed_settings, state=tmp_path / "state.db")
    async with offline_app(settings, seed_engine) as (app, api):
        update = Chat(app.bot).text(f"/ask@{BOT_USERNAME} Who is the US envoy?")
        await handlers.ask(update, context_of(app, update))
        answer = api.sent[-1]
        app.bot_data["state"].close()
    async with offline_app(settings, seed_engine) as (app, api):  # a new process, same state
        group = Chat(app.bot)
        for update in [
            group.text("Who is he?", user_id=1002, reply_to=answer),
            group.text(f"@{BOT_USERNAME} who is he?"),  # no reply: no earlier question
        ]:
            await handlers.group_text(update, context_of(app, update))
        follow, unrelated = api.texts()
        follow_up_answer = api.sent[0]
        again = group.text("Which ministers were in the delegation?", reply_to=follow_up_answer)
        await handlers.group_text(again, context_of(app, again))
    assert WITKOFF in follow
    assert WITKOFF not in unrelated
    assert "The Ukrainian delegation, including" in api.texts()[-1], "a new question stands alone"
