"""Two `storybot run` workers behind a balancer, sharing one Redis: the bot still acts as one.

Each worker is a real `storybot run` process in webhook mode on its own loopback port, with the
same secret, Redis and prefix, over one prebuilt index in tmp. The fake Bot API (tests/fakebot.py)
stands in for Telegram and for a per-request balancer in front of the workers: it POSTs each
update to the next worker on a new connection, passes a dead worker over, redelivers updates on
request, and records which worker (`via`) sent each reply. Redis is STORYBOT_TEST_REDIS_URL
(default redis://127.0.0.1:6379/15); the Redis-outage test starts a private redis-server it can
stop. The workers of the module start once; the test that kills one comes last.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from click.testing import CliRunner

from bot.asked import RedisAsked
from bot.cli import cli
from bot.engine import build
from bot.followup import recall
from bot.settings import BotSettings
from bot.shared import SKIP_SECONDS, RedisCounters, RedisState
from bot.telegram.guard import RateLimit
from fakebot import BOT_USERNAME, JSON, TOKEN, Call, FakeBotAPI
from index.embedder import Embedder
from support import REDIS_URL as URL
from support import ROOT, SEED_STORIES, free_port, redis_at, redis_server

SECRET = "one-secret_for-every-worker"
RATE_LIMIT = 10
ADMIN = 4242
WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"
EDITED = "His envoy, Steve Witkoff, will meet Vladimir Putin in St. Petersburg on Friday"
QUESTIONS = (
    "Who is Steve Witkoff?",
    "Where were the talks held?",
    "Why did Rubio cancel?",
    "What did Trump threaten?",
    "Who is Keir Starmer?",
)
CHANNEL = -1002233445566
FERRY = (
    "Ferry strike ends after three days\n"
    "Harbour ferry crews ended their strike on Tuesday after the city agreed to hire twelve "
    "more sailors. Ferries will run on the normal timetable from Wednesday morning."
)
RUNS = "Ferries will run on the normal timetable from Wednesday morning."
T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str) -> T:
    """`check()` once it is truthy, polling; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {value!r})")
        time.sleep(0.05)


@dataclass
class Worker:
    """One `storybot run` process; `label` is its `via` in the fake Bot API's records."""

    label: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Pair:
    """Two workers, the fake Bot API balancing over them, and their Redis."""

    api: FakeBotAPI
    workers: list[Worker]
    client: redis.Redis
    prefix: str

    def replies(self, update: JSON) -> list[Call]:
        """The bot's messages threaded to the message of `update`."""
        message = update["message"]
        return [
            c
            for c in list(self.api.calls)
            if c.method == "sendMessage"
            and c.ok
            and c.params["chat_id"] == message["chat"]["id"]
            and (c.params.get("reply_parameters") or {}).get("message_id") == message["message_id"]
        ]

    def in_chat(self, chat_id: int) -> list[Call]:
        return [
            c
            for c in list(self.api.calls)
            if c.method == "sendMessage" and c.ok and c.params["chat_id"] == chat_id
        ]

    def served_by(self, update: JSON) -> str:
        """The label of the worker the balancer first gave `update` to."""
        url = self.api.served[update["update_id"]][0]
        return next(w.label for w in self.workers if w.url == url)

    def answered(self, updates: list[JSON], timeout: float = 120) -> None:
        """Wait until every update has a reply."""
        wait_until(
            lambda: all(self.replies(u) for u in updates),
            timeout,
            f"a reply to each of {len(updates)} updates",
        )

    def totals(self) -> Counter[str]:
        """The guard's counters summed over the workers (the same sums as /status)."""
        return Counter(RedisCounters(self.client, worker="test", prefix=self.prefix).totals())

    def assert_clean(self) -> None:
        for worker in self.workers:
            assert "Traceback" not in worker.output(), worker.output()[-3000:]


def start_worker(api: FakeBotAPI, settings: BotSettings, label: str, env: dict[str, str]) -> Worker:
    port = free_port()
    log = settings.index.parent / f"worker-{label}-{port}.log"
    worker_env = {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        # Each worker's Bot API calls carry its label (see fakebot's `via`).
        "TELEGRAM_BASE_URL": f"{api.url}/via-{label}",
        "STORYBOT_STORIES": str(settings.stories),
        "STORYBOT_INDEX": str(settings.index),
        "STORYBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "STORYBOT_WEBHOOK_LISTEN": "127.0.0.1",
        "STORYBOT_WEBHOOK_SECRET": SECRET,
        "PORT": str(port),
        "STORYBOT_RATE_LIMIT": str(RATE_LIMIT),
        "STORYBOT_ADMINS": str(ADMIN),
        "STORYBOT_CONNECT_BACKOFF": "0.1",
        "STORYBOT_WORKERS": "2",  # each keeps to half of Telegram's flood limits
        "STORYBOT_CHANNELS": str(CHANNEL),
    }
    with log.open("wb") as out:  # a file, not a pipe: a chatty worker never blocks on it
        proc = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "run"],
            cwd=settings.index.parent,
            env=worker_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Worker(label, port, proc, log)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def worker_pair(settings: BotSettings, redis_url: str, prefix: str) -> Iterator[Pair]:
    """Two workers started side by side over `settings`' index, balanced by a fresh fake API."""
    client = redis_at(redis_url)
    env = {"STORYBOT_REDIS_URL": redis_url, "STORYBOT_REDIS_PREFIX": prefix}
    with FakeBotAPI() as api:
        workers = [start_worker(api, settings, label, env) for label in ("a", "b")]
        try:
            for worker in workers:
                wait_until(
                    lambda w=worker: w.proc.poll() is not None or listening(w.port),
                    180,
                    f"worker {worker.label} listening",
                )
                assert worker.proc.poll() is None, worker.output()
            hooks = [c.params for c in api.calls if c.method == "setWebhook" and c.ok]
            assert len(hooks) == 2 and hooks[0]["secret_token"] == hooks[1]["secret_token"]
            api.balance([w.url for w in workers])
            yield Pair(api, workers, client, prefix)
        finally:
            running = [w for w in workers if w.proc.poll() is None]
            for worker in running:
                worker.proc.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.proc.kill()
                    worker.proc.wait(timeout=10)
            client.close()
    for worker in running:  # a worker told to stop stops cleanly, its threads too
        assert worker.proc.returncode == 0, worker.output()[-3000:]
        assert "Traceback" not in worker.output(), worker.output()[-3000:]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> BotSettings:
    """A prebuilt index of a copy of the seed story, in a folder both workers share."""
    root = tmp_path_factory.mktemp("workers")
    shutil.copytree(SEED_STORIES, root / "stories")
    settings = BotSettings(stories=root / "stories", index=root / "var" / "index", token=None)
    build(settings, embedder)
    return settings


@pytest.fixture(scope="module")
def pair(folder: BotSettings) -> Iterator[Pair]:
    """The module's two workers on the test Redis, under a prefix of their own."""
    prefix = f"storybot-test-{uuid.uuid4().hex[:10]}"
    with worker_pair(folder, URL, prefix) as started:
        yield started
    client = redis_at(URL)  # once the workers have stopped writing
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_each_update_is_answered_once_by_one_of_the_workers(pair: Pair) -> None:
    api, before = pair.api, pair.totals()
    updates = [
        api.private_text(QUESTIONS[i % len(QUESTIONS)], user_id=2000 + i % 20) for i in range(200)
    ]
    # Redelivered in swapped pairs, so that each copy goes to the other worker than its first.
    again = [updates[i ^ 1] for i in range(20)]
    api.wait_idle(timeout=60)
    for update in again:
        api.redeliver(update["update_id"])
    pair.answered(updates)
    wait_until(
        lambda: pair.totals()["repeated"] - before["repeated"] == 20,
        30,
        "20 redeliveries dropped as repeated",
    )
    api.wait_idle(timeout=10)
    assert [len(pair.replies(u)) for u in updates] == [1] * 200
    crossed = [u for u in again if len(set(api.served[u["update_id"]])) == 2]
    assert len(crossed) == 20, "each redelivery reached the other worker"
    by_worker = Counter(pair.replies(u)[0].via for u in updates)
    assert min(by_worker["a"], by_worker["b"]) >= 60, by_worker
    assert WITKOFF in pair.replies(updates[0])[0].params["text"]
    pair.assert_clean()


def test_one_users_budget_is_spent_across_both_workers_as_on_one(pair: Pair) -> None:
    api, before, user = pair.api, pair.totals(), 2101
    updates = [api.private_text("Who is Steve Witkoff?", user_id=user) for _ in range(15)]
    wait_until(
        lambda: sum((pair.totals() - before)[k] for k in ("allowed", "limited")) == 15,
        60,
        "15 questions through the guard",
    )
    wait_until(lambda: len(pair.in_chat(user)) == 11, 120, "10 answers and one notice")
    counts = pair.totals() - before
    alone = RateLimit(RATE_LIMIT)
    one_worker = Counter(alone.take(user, 100.0 + i * 0.01).value for i in range(15))
    assert one_worker == Counter({"allow": 10, "notice": 1, "drop": 4})
    assert (counts["allowed"], counts["noticed"], counts["limited"] - counts["noticed"]) == (
        one_worker["allow"],
        one_worker["notice"],
        one_worker["drop"],
    )
    texts = [c.params["text"] for c in pair.in_chat(user)]
    assert sum("faster than I can keep up" in t for t in texts) == 1
    assert sum("Steve Witkoff" in t for t in texts) == 10
    assert {pair.served_by(u) for u in updates} == {"a", "b"}


def test_summary_cooldown_holds_across_workers(pair: Pair) -> None:
    api, group = pair.api, -1007000000001
    updates = [api.group_text("/summary", chat_id=group, user_id=2200 + i) for i in range(5)]
    wait_until(lambda: len(pair.in_chat(group)) >= 2, 60, "a summary and a note")
    time.sleep(1.0)  # the other three are quiet: give them time to say something if they would
    texts = [c.params["text"] for c in pair.in_chat(group)]
    assert len(texts) == 2, texts
    assert sum(t.startswith("<b>Summary of “London talks”</b>") for t in texts) == 1
    assert sum("Ask again in" in t for t in texts) == 1
    assert {pair.served_by(u) for u in updates} == {"a", "b"}


def test_a_reply_to_one_workers_answer_is_a_follow_up_on_the_other(pair: Pair) -> None:
    api, group = pair.api, -1007000000002
    question = api.group_text(f"/ask@{BOT_USERNAME} Who is the US envoy?", chat_id=group)
    pair.answered([question], 60)
    (answer,) = pair.replies(question)
    assert answer.via == pair.served_by(question)
    state = RedisState(pair.client, prefix=pair.prefix)
    message_id = answer.result["message_id"]
    # A person takes longer to reply than the worker takes to note what it answered.
    wait_until(lambda: recall(state, group, message_id), 10, "the answer's follow-up record")
    follow = api.group_text("Who is he?", chat_id=group, user_id=2301, reply_to=answer.result)
    pair.answered([follow], 60)
    assert pair.served_by(follow) != answer.via, "the reply went to the other worker"
    assert WITKOFF in pair.replies(follow)[0].params["text"]
    alone = api.group_text(f"@{BOT_USERNAME} who is he?", chat_id=group, user_id=2302)
    pair.answered([alone], 60)
    assert WITKOFF not in pair.replies(alone)[0].params["text"], "no reply, no earlier question"


def test_a_press_on_one_workers_answer_is_handled_by_the_other(pair: Pair) -> None:
    api, user = pair.api, 2350
    question = api.private_text("Who is Steve Witkoff?", user_id=user)
    pair.answered([question], 60)
    (answer,) = pair.replies(question)

    def pressed(label: str) -> tuple[JSON, Call]:
        update = api.press(answer.result, label, user_id=user)
        query = update["callback_query"]["id"]
        answered = wait_until(
            lambda: [
                c
                for c in list(api.calls)
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query
            ],
            60,
            f"the press of {label} answered",
        )
        return update, answered[0]

    context, notice = pressed("Context")
    assert pair.served_by(context) != answer.via, "the press went to the other worker"
    assert notice.via == pair.served_by(context) and notice.params.get("text") is None
    (edit,) = wait_until(lambda: api.sent("editMessageText"), 30, "the answer edited")
    assert f"<b>{WITKOFF}" in edit["text"] and edit["message_id"] == answer.result["message_id"]
    votes = [pressed(label) for label in ("👎", "👎 ✓")]
    assert {pair.served_by(update) for update, _ in votes} == {"a", "b"}
    assert [call.params.get("text") for _, call in votes] == [
        "Thanks! Counted: this sentence did not answer the question.",
        "Already counted. Thanks!",
    ], "pressed on both workers, counted once"
    marks = RedisAsked(pair.client, 30, pair.prefix).marks()
    assert [(m.vote, m.question) for m in marks] == [("bad", "Who is Steve Witkoff?")]
    pair.assert_clean()


def test_status_sums_the_workers_and_lists_each(pair: Pair) -> None:
    asks = [pair.api.private_text("/status", user_id=ADMIN) for _ in range(2)]
    pair.answered(asks, 60)
    for ask in asks:
        text = pair.replies(ask)[0].params["text"]
        assert "<b>Guard, all workers</b>" in text
        assert text.count("<b>Worker</b>") == 2 and text.count("(this one)") == 1, text
    assert {pair.served_by(a) for a in asks} == {"a", "b"}


def test_a_new_build_reaches_both_workers_and_whatsnew_lists_it_once(
    pair: Pair, folder: BotSettings
) -> None:
    story = next(folder.stories.glob("*.txt"))
    text = story.read_text(encoding="utf-8")
    assert WITKOFF in text
    story.write_text(
        text.replace(
            "is expected to visit Russia for a high-level meeting this week",
            "will meet Vladimir Putin in St. Petersburg on Friday",
        ),
        encoding="utf-8",
    )
    # `storybot index` in this process (the session has torch loaded already): it builds under
    # the Redis lock and publishes, as the Procfile's builder does.
    redis_env = {"STORYBOT_REDIS_URL": URL, "STORYBOT_REDIS_PREFIX": pair.prefix}
    args = ["index", "--stories", str(folder.stories), "--index", str(folder.index)]
    builder = CliRunner(env=redis_env).invoke(cli, args, catch_exceptions=False)
    built = time.monotonic()
    assert builder.exit_code == 0, builder.output
    assert "(published to the workers)" in builder.output
    api, user, cited = pair.api, 2400, set()
    while cited != {"a", "b"}:  # a question to each worker per round, until both cite it
        assert time.monotonic() - built < 10, f"only {cited or 'no worker'} cite the edit"
        round_ = [
            api.private_text("When will Witkoff meet Putin?", user_id=user + k) for k in (0, 1)
        ]
        user += 2
        pair.answered(round_, 30)
        cited |= {pair.served_by(u) for u in round_ if EDITED in pair.replies(u)[0].params["text"]}
    group = -1007000000003
    both = [api.group_text("/whatsnew", chat_id=group, user_id=2450 + k) for k in (0, 1)]
    pair.answered(both, 60)
    time.sleep(0.5)
    texts = sorted(c.params["text"] for c in pair.in_chat(group))
    assert len(texts) == 2 and {pair.served_by(u) for u in both} == {"a", "b"}
    assert texts[0].startswith("<b>What's new since the previous update"), texts
    assert EDITED in texts[0] and "<i>Changed:</i>" in texts[0]
    assert texts[1].startswith("Nothing new since the version you last saw"), texts


def start_builder(folder: BotSettings, prefix: str) -> tuple[subprocess.Popen[bytes], Path]:
    """The Procfile's `builder:` process, `storybot index --watch`, on the workers' Redis."""
    log = folder.index.parent / f"builder-{uuid.uuid4().hex[:6]}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "STORYBOT_STORIES": str(folder.stories),
        "STORYBOT_INDEX": str(folder.index),
        "STORYBOT_REDIS_URL": URL,
        "STORYBOT_REDIS_PREFIX": prefix,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "index", "--watch"],
            cwd=folder.index.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def test_a_channel_post_is_stored_by_one_worker_and_built_once_by_the_builder(
    pair: Pair, folder: BotSettings
) -> None:
    builder, log = start_builder(folder, pair.prefix)
    try:

        def builds() -> int:
            return log.read_text(errors="replace").count("(published to the workers)")

        wait_until(lambda: "Watching" in log.read_text(errors="replace"), 180, "the builder")
        assert builds() == 1, "its first build, at its start"
        api, before = pair.api, pair.totals()
        post = api.channel_post(FERRY, chat_id=CHANNEL)
        wait_until(lambda: builds() == 2, 60, "the builder's build of the post")
        api.redeliver(post["update_id"])  # to the other worker, as Telegram may
        wait_until(lambda: pair.totals()["repeated"] - before["repeated"] == 1, 30, "dropped")
        user, cited, built = 2700, set(), time.monotonic()
        while cited != {"a", "b"}:  # a question to each worker per round, until both cite it
            assert time.monotonic() - built < 10, f"only {cited or 'no worker'} cite the post"
            round_ = [
                api.private_text("When will the ferries run normally?", user_id=user + k)
                for k in (0, 1)
            ]
            user += 2
            pair.answered(round_, 30)
            cited |= {
                pair.served_by(u) for u in round_ if RUNS in pair.replies(u)[0].params["text"]
            }
        time.sleep(4.0)  # the builder's poll and 2 s of stillness: time to build again, if it would
        assert builds() == 2, "one build for the post, by the one builder"
    finally:
        builder.send_signal(signal.SIGTERM)
        builder.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert builder.returncode == 0 and "Stopped watching." in output, output[-3000:]
    stored = [
        line for w in pair.workers for line in w.output().splitlines() if "stored channel" in line
    ]
    assert len(stored) == 1, stored
    assert "telegram/-1002233445566/1.txt (new); the builder indexes it" in stored[0]
    for worker in pair.workers:
        assert "indexed the channel posts" not in worker.output(), "no worker builds"
    text = (folder.stories / "telegram" / str(CHANNEL) / "1.txt").read_text(encoding="utf-8")
    assert text.endswith(FERRY)
    pair.assert_clean()


def test_answering_goes_on_while_redis_is_down_or_hung_and_recovers(folder: BotSettings) -> None:
    port = free_port()
    server = redis_server(port)
    try:
        with worker_pair(folder, f"redis://127.0.0.1:{port}/0", "storybot") as pair:
            api = pair.api
            first = [api.private_text("Who is Steve Witkoff?", user_id=2500 + k) for k in range(4)]
            pair.answered(first)
            server.terminate()
            server.wait(timeout=10)
            away = [api.private_text(QUESTIONS[k % 5], user_id=2510 + k) for k in range(10)]
            pair.answered(away)
            assert {r.via for u in away for r in pair.replies(u)} == {"a", "b"}
            server = redis_server(port)  # back on the same port, and empty
            server.send_signal(signal.SIGSTOP)  # and hung: connections accepted, nothing answered
            started = time.monotonic()
            hung = [api.private_text(QUESTIONS[k % 5], user_id=2530 + k) for k in range(10)]
            pair.answered(hung)
            # Each call waits out the socket timeout (1 s) unless Redis is skipped after one:
            # these ten took 19 s before the workers skipped it.
            assert time.monotonic() - started < 8
            server.send_signal(signal.SIGCONT)
            time.sleep(SKIP_SECONDS + 0.5)  # the workers try Redis again after this
            back = [api.private_text(QUESTIONS[k % 5], user_id=2520 + k) for k in range(10)]
            pair.answered(back)
            for update in back:  # shared again: a redelivery to either worker is dropped
                api.redeliver(update["update_id"])
            wait_until(
                lambda: pair.totals()["repeated"] == 10, 30, "10 redeliveries dropped as repeated"
            )
            api.wait_idle(timeout=10)
            updates = first + away + hung + back
            assert [len(pair.replies(u)) for u in updates] == [1] * len(updates)
            for worker in pair.workers:
                assert "Redis unavailable" in worker.output()
            pair.assert_clean()
    finally:
        server.kill()  # hung or not
        server.wait(timeout=10)


def test_a_killed_worker_leaves_the_other_answering_without_duplicates(pair: Pair) -> None:
    # Last: it kills worker a of the module's pair.
    api, before = pair.api, pair.totals()
    first = [api.private_text("Where were the talks held?", user_id=2600 + k) for k in range(4)]
    pair.answered(first)
    a = pair.workers[0]
    a.proc.kill()
    a.proc.wait(timeout=10)
    for update in first:  # Telegram sends again what it thinks was lost
        api.redeliver(update["update_id"])
    rest = [api.private_text(QUESTIONS[k % 5], user_id=2610 + k) for k in range(20)]
    pair.answered(rest)
    wait_until(
        lambda: pair.totals()["repeated"] - before["repeated"] == 4,
        30,
        "4 redeliveries dropped as repeated",
    )
    api.wait_idle(timeout=10)
    assert [len(pair.replies(u)) for u in first + rest] == [1] * 24
    assert {pair.replies(u)[0].via for u in rest} == {"b"}
    assert {pair.served_by(u) for u in rest} == {"b"}
