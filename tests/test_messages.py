"""Any incoming text gets a valid reply or is ignored by design; never a traceback.

Property-based tests push generated questions and topics through the answer path and the
templates (against the real seed index, and against a story written to break HTML), and check
every message part: valid Telegram HTML, at most 4096 UTF-16 units, never empty. A message zoo
then goes through the real bot and the fake Bot API, which rejects what Telegram would reject.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import Engine, build
from bot.settings import BotSettings
from bot.telegram.telegram_text import TELEGRAM_MESSAGE_LIMIT, split_message, utf16_len
from botrunner import running_bot
from fakebot import DEFAULT_GROUP_ID, FakeBotAPI
from support import FakeEmbedder
from telegram_html import validate_telegram_html

ASK_EXAMPLES = 50
TOPIC_EXAMPLES = 20
HOSTILE_EXAMPLES = 150
NASTY = [
    "<b>", "</a>", "<a href='x'>", "&", "&amp;", "&#0;", "<", ">", '"', "'", "*bold*", "_it_",
    "`code`", "```", "[link](http://x)", "\u202e", "\u200f", "\u200d", "\x00", "\x1b[31m", "\r",
    "\n\n", "\t", "https://example.com/?a=1&b=<2>", "😀", "👨‍👩‍👧", "🇺🇦", "שלום", "مرحبا", "é",
    "/ask", "@storybot_test_bot", "\ufeff", "\U0010ffff", "Witkoff", "Rubio", "ceasefire",
]  # fmt: skip
questions = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)), max_size=40).map("".join),
    st.text(min_size=4000, max_size=10_000),
)
HOSTILE_STORY = (
    "---\n"
    "title: 'Tom & Jerry <b>bold</b> </a> \"quoted\" 🚀 שלום'\n"
    "url: 'https://example.com/news?a=1&b=<2>\"x'\n"
    "---\n"
    'The <b>council</b> voted 5 > 3 & the mayor said "</a>" was fine.\n\n'
    "Residents of تل أبيب and ירושלים cheered 🎉👨‍👩‍👧 loudly at the council.\n\n"
    "Markdown *stars* and _underscores_ and `ticks` and [links](http://x.y) stayed literal.\n\n"
    "The council report said " + "very " * 1200 + "long things about the mayor.\n"
)
HOSTILE_WORDS = ["council", "mayor", "Tom", "Jerry", "<b>", "&", "residents", "report", "stars"]


def assert_sendable(html: str) -> None:
    """What the bot would send for `html` is accepted by Telegram, part by part."""
    parts = split_message(html)
    assert parts, f"nothing to send for {html!r}"
    for part in parts:
        assert validate_telegram_html(part) is None, part
        assert utf16_len(part) <= TELEGRAM_MESSAGE_LIMIT


@settings(
    max_examples=ASK_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(question=questions)
def test_any_question_gets_a_sendable_reply(seed_engine: Engine, question: str) -> None:
    assert_sendable(seed_engine.ask(question).text)


@settings(
    max_examples=TOPIC_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(topic=questions)
def test_any_summary_topic_gets_a_sendable_reply(seed_engine: Engine, topic: str) -> None:
    assert_sendable(seed_engine.summary(topic).text)


@pytest.fixture(scope="module")
def hostile_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over a story whose title, url and sentences are written to break HTML.

    Retrieval alone picks the sentences (reader off): what is under test is how any of them
    is quoted, and the reader's model call was nine tenths of each example's time."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "stories").mkdir()
    (root / "stories" / "hostile.md").write_text(HOSTILE_STORY, encoding="utf-8")
    config = BotSettings(stories=root / "stories", index=root / "index", token=None, reader="off")
    encoder = FakeEmbedder()
    build(config, encoder)
    return Engine(config, encoder)


@settings(
    max_examples=HOSTILE_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    words=st.lists(st.one_of(st.sampled_from(HOSTILE_WORDS + NASTY), st.text(max_size=8))),
    summary=st.booleans(),
)
def test_hostile_story_text_is_escaped_in_every_reply(
    hostile_engine: Engine, words: list[str], summary: bool
) -> None:
    text = " ".join(words)
    answer = hostile_engine.summary(text or None) if summary else hostile_engine.ask(text)
    assert_sendable(answer.text)


# --------------------------------------------------------------------------- the message zoo
ANSWERED_PRIVATE = [
    "   ",
    "x" * 10_000,
    "😀🔥👨‍👩‍👧‍👦🇺🇦",
    "מי זה סטיב ויטקוף?",
    "من هو ستيف ويتكوف؟",
    "Who\x00 is\x07 Witkoff\x1b[0m?\u202e",
    "<b>Who</b> is </a> Witkoff & <script>co</script>?",
    "*Who* is _Witkoff_ `x` [a](http://x) **?**",
    "https://example.com/news?id=1&x=<y>",
    "/ask",
    "/summary " + "<i>&" * 2000,
    "/ask " + "Witkoff " * 1500,
]
ANSWERED_GROUP = ["/ask", "@storybot_test_bot", "/summary </blockquote> & <b>"]
ZOO_SIZE = len(ANSWERED_PRIVATE) + len(ANSWERED_GROUP) + 6  # + the ignored and edited below


async def test_message_zoo_gets_valid_replies_or_is_ignored(
    server: FakeBotAPI,
    seed_settings: BotSettings,
    seed_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    settings_ = seed_settings.model_copy(update={"rate_limit": 0})
    answered: list[dict] = []
    ignored: list[dict] = []
    async with running_bot(server, settings_, seed_engine):
        for n, text in enumerate(ANSWERED_PRIVATE):
            answered.append(server.private_text(text, user_id=7000 + n)["message"])
        for text in ANSWERED_GROUP:
            answered.append(server.group_text(text)["message"])
        original = server.private_text("Who is Witkoff?", user_id=7100)["message"]
        edited = server.edited_message(original, "Why did Rubio cancel?")["edited_message"]
        answered.append(original)
        ignored.append(server.sticker(chat_id=7101)["message"])
        ignored.append(server.sticker(chat_id=DEFAULT_GROUP_ID)["message"])
        ignored.append(server.channel_post("/ask Who is Witkoff?")["channel_post"])
        ignored.append(server.channel_post("Who is Witkoff?")["channel_post"])
        await server.await_for("sendMessage", len(answered) + 1, timeout=60)
        server.wait_idle()
    failed = [
        (c.params.get("text", "")[:80], c.error)
        for c in server.calls
        if c.method == "sendMessage" and not c.ok
    ]
    assert failed == [], "Telegram would have rejected these"
    replies = Counter(
        (p["chat_id"], p["reply_parameters"]["message_id"])
        for p in server.sent()
        if "reply_parameters" in p
    )
    for message in answered:
        assert replies[(message["chat"]["id"], message["message_id"])] >= 1, message["text"][:40]
    for message in ignored:
        assert replies[(message["chat"]["id"], message["message_id"])] == 0
    assert replies[(edited["chat"]["id"], edited["message_id"])] == 2, "the edit is answered anew"
    assert not any("Sorry, something went wrong" in p["text"] for p in server.sent())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert len(answered) + len(ignored) + 1 == ZOO_SIZE
