"""Delivery under Telegram faults: the real bot against the fake Bot API injecting failures.

Every question must be answered exactly once, whatever fails in between: 5xx, 429 with
retry_after, read timeouts and reset connections, on sendMessage and on getUpdates alike, one
question at a time or in a burst from many users.
"""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

import pytest
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application

from bot.engine import Engine, build
from bot.settings import BotSettings
from bot.telegram.delivery import RetryingLimiter, flood_share
from botrunner import running_bot
from fakebot import FakeBotAPI
from support import FakeEmbedder
from telegram_html import validate_telegram_html

APOLOGY = "Sorry, something went wrong"
QUESTIONS = [
    "Who is Steve Witkoff?",
    "Why did Rubio cancel?",
    "Where were the talks held?",
]
# (sendMessage fault, getUpdates fault) injected together in each round.
ROUNDS = [
    ("500", "500"),
    ("502", "502"),
    ("timeout", "reset"),
    ("reset", "timeout"),
    ("429", "429"),
    ("500", None),
]
EXTRA_502S = 2  # added to the last round, so one reply fails three times in a row
FAULTS_INJECTED = sum(f is not None for pair in ROUNDS for f in pair) + EXTRA_502S


def fast_retries(app: Application) -> RetryingLimiter:
    """Short backoff and read timeout, so injected faults cost the test little time."""
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingLimiter)
    limiter.backoff, limiter.read_timeout = 0.02, 0.5
    return limiter


def answers_per_question(server: FakeBotAPI) -> Counter[tuple[int, int]]:
    """How many replies each incoming message got."""
    return Counter(
        (p["chat_id"], p["reply_parameters"]["message_id"])
        for p in server.sent()
        if "reply_parameters" in p
    )


async def test_every_question_is_answered_exactly_once_through_faults(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    asked: list[tuple[int, int]] = []
    async with running_bot(server, seed_settings, seed_engine) as app:
        limiter = fast_retries(app)
        for number, (send_fault, poll_fault) in enumerate(ROUNDS):
            # A "timeout" answers nothing for `delay` seconds: longer than the bot's read timeout
            # on sendMessage (a real TimedOut), then a dropped connection on the long poll.
            slow = {"timeout": 1.5}
            server.inject("sendMessage", send_fault, retry_after=1, delay=slow.get(send_fault, 0))
            if poll_fault:
                server.inject("getUpdates", poll_fault, retry_after=1, delay=0.3)
            if number == len(ROUNDS) - 1:
                server.inject("sendMessage", "502", times=EXTRA_502S)
            for user, question in enumerate(QUESTIONS):
                update = server.private_text(question, user_id=2000 + user)
                message = update["message"]
                asked.append((message["chat"]["id"], message["message_id"]))
            await server.await_for("sendMessage", len(asked), timeout=30)
        server.wait_idle()
    faulted = [c for c in server.calls if c.fault]
    assert len(faulted) == FAULTS_INJECTED
    per_question = answers_per_question(server)
    assert set(per_question) == set(asked), "no question may go unanswered"
    assert set(per_question.values()) == {1}, "no question may be answered twice"
    assert set(server.deliveries.values()) == {1}, "each update is fetched once"
    assert not any(APOLOGY in p["text"] for p in server.sent())
    assert all(validate_telegram_html(p["text"]) is None for p in server.sent())
    assert limiter.counts["retry_after"] == 1
    assert limiter.counts["timeout"] == 1
    assert limiter.counts["network"] == 6  # 500, 502, reset, 500, 502, 502


async def test_giving_up_is_bounded_and_the_user_gets_an_apology(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine) as app:
        limiter = fast_retries(app)
        server.inject("sendMessage", "500", times=limiter.attempts)
        server.private_text("Who is Steve Witkoff?")
        (apology,) = await server.await_for("sendMessage", 1, timeout=30)
        server.private_text("Why did Rubio cancel?", user_id=2001)
        second = (await server.await_for("sendMessage", 2, timeout=30))[-1]
    assert APOLOGY in apology["text"]
    assert "Rubio" in second["text"]
    attempts = [c for c in server.calls if c.method == "sendMessage"]
    assert len(attempts) == limiter.attempts + 2
    assert limiter.counts["gave_up_network"] == 1


async def test_a_4xx_is_not_retried(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    async with running_bot(server, seed_settings, seed_engine) as app:
        fast_retries(app)
        server.inject("sendMessage", "400")
        server.private_text("Who is Steve Witkoff?")
        (apology,) = await server.await_for("sendMessage", 1, timeout=30)
    assert APOLOGY in apology["text"]
    assert [c.fault for c in server.calls if c.method == "sendMessage"] == ["400", None]


async def test_unparsable_html_is_resent_as_plain_text(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    server.private_text("hello")  # makes the chat known to the fake
    async with running_bot(server, seed_settings, seed_engine) as app:
        await app.bot.send_message(
            1001, "<b>Tom & Jerry</b> <i>unclosed", parse_mode=ParseMode.HTML
        )
    (sent,) = [p for p in server.sent() if "Tom" in p["text"]]
    assert sent["text"] == "Tom & Jerry unclosed"
    assert "parse_mode" not in sent


async def test_a_deleted_question_still_gets_its_answer(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    server.private_text("hello")
    async with running_bot(server, seed_settings, seed_engine) as app:
        await app.bot.send_message(1001, "the answer", reply_to_message_id=999)
    (sent,) = [p for p in server.sent() if p["text"] == "the answer"]
    assert "reply_parameters" not in sent


BURST_USERS, BURST_EACH = 25, 4


@pytest.fixture
def quick_engine(stories_dir: Path, tmp_path: Path) -> Engine:
    """An engine over the seed story embedded by the fast fake encoder (delivery is under test)."""
    config = BotSettings(
        stories=stories_dir, index=tmp_path / "index", state=":memory:", token=None
    )
    encoder = FakeEmbedder()
    build(config, encoder)
    return Engine(config, encoder)


async def test_a_burst_from_many_users_under_faults_loses_nothing(
    server: FakeBotAPI, quick_engine: Engine
) -> None:
    async with running_bot(server, quick_engine.settings, quick_engine) as app:
        limiter = fast_retries(app)
        server.inject("getUpdates", "502")
        server.inject("sendMessage", "500", times=3)
        server.inject("sendMessage", "429", retry_after=1)
        server.inject("sendMessage", "reset", times=2)
        for round_ in range(BURST_EACH):
            for user in range(BURST_USERS):
                server.private_text(QUESTIONS[round_ % len(QUESTIONS)], user_id=8000 + user)
        total = BURST_USERS * BURST_EACH
        await server.await_for("sendMessage", total, timeout=60)
        server.wait_idle()
    per_question = answers_per_question(server)
    assert len(per_question) == total and set(per_question.values()) == {1}
    assert set(server.deliveries.values()) == {1}
    assert not any(APOLOGY in p["text"] for p in server.sent())
    assert len([c for c in server.calls if c.fault]) == 7
    # At least the five injected; a burst also overflows the fake server's listen backlog, and
    # those connection resets are retried the same way.
    assert limiter.counts["retry_after"] == 1 and limiter.counts["network"] >= 5


@pytest.mark.parametrize("workers", [1, 2, 3, 40])
def test_workers_sharing_a_token_split_telegrams_flood_limits(workers: int) -> None:
    limits = flood_share(workers)
    per_second = limits["overall_max_rate"] / limits["overall_time_period"]
    per_group_minute = 60 * limits["group_max_rate"] / limits["group_time_period"]
    assert workers * per_second == pytest.approx(30)
    assert workers * per_group_minute == pytest.approx(20)
    assert min(limits["overall_max_rate"], limits["group_max_rate"]) >= 1, "holds one message"
    assert isinstance(RetryingLimiter(**limits), AIORateLimiter)


def test_one_worker_keeps_ptbs_own_flood_limits() -> None:
    defaults = inspect.signature(AIORateLimiter.__init__).parameters
    assert flood_share(1) == {name: defaults[name].default for name in flood_share(1)}
