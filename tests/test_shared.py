"""Shared state against a real Redis: atomic across processes, the one-worker rules kept, fail-open.

The server is STORYBOT_TEST_REDIS_URL (default redis://127.0.0.1:6379/15); when none answers the
tests fail with that said, never skip. Each test writes under its own key prefix, so runs side by
side (and a live bot on the same server) do not see each other.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from bot.shared import (
    SKIP_SECONDS,
    BuilderBusy,
    BuilderLock,
    BuildFollower,
    RedisCounters,
    RedisRateLimit,
    RedisState,
    RedisUpdates,
    connect,
    publish_build,
    published_build,
)
from bot.telegram.guard import RateLimit
from support import REDIS_URL as URL
from support import free_port, redis_at, redis_server, swap_concurrently


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    r = redis_at(URL)
    yield r
    r.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"storybot-test-{uuid.uuid4().hex[:10]}"
    yield name
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)


def _race(prefix: str, rounds: int, start: float, out: multiprocessing.Queue) -> None:
    state = RedisState(connect(URL), prefix=prefix)
    while time.time() < start:  # all processes begin together
        time.sleep(0.001)
    won = [r for r in range(rounds) if state.acquire(-100, f"summary-{r}", 60.0) == 0.0]
    out.put(won)


def test_cooldown_has_exactly_one_winner_per_round_across_processes(prefix: str) -> None:
    # The SQLite cooldown had two or more winners in every one of these rounds.
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    start = time.time() + 1.5
    procs = [ctx.Process(target=_race, args=(prefix, 300, start, out)) for _ in range(4)]
    for p in procs:
        p.start()
    wins: Counter[int] = Counter()
    for _ in procs:
        wins.update(out.get(timeout=60))
    for p in procs:
        p.join(timeout=30)
    assert sorted(wins) == list(range(300))
    assert set(wins.values()) == {1}


def test_cooldown_reports_seconds_left_and_frees_after_interval(
    client: redis.Redis, prefix: str
) -> None:
    state = RedisState(client, prefix=prefix)
    assert state.acquire(7, "summary", 0.3) == 0.0
    left = state.acquire(7, "summary", 0.3)
    assert 0.0 < left <= 0.3
    assert state.acquire(8, "summary", 0.3) == 0.0  # another chat has its own slot
    time.sleep(0.35)
    assert state.acquire(7, "summary", 0.3) == 0.0


def test_values_expire_and_swap_hands_each_old_value_to_one_caller(
    client: redis.Redis, prefix: str
) -> None:
    state = RedisState(client, ttl=1, prefix=prefix, expiring=("question:",))
    assert state.get(1, "question:3") is None
    state.put(1, "question:3", "an earlier answer")
    assert state.get(1, "question:3") == "an earlier answer"
    assert 0 < client.ttl(f"{prefix}:chat:1:question:3") <= 1  # type: ignore[operator]
    # A chat's choices do not lapse: a follow of a story quiet for a month is still a follow.
    state.put(1, "follows", "2025-04-23-london-talks")
    state.swap(1, "seen_build", "b1")
    assert client.ttl(f"{prefix}:chat:1:follows") == -1
    assert client.ttl(f"{prefix}:chat:1:seen_build") == -1

    state = RedisState(client, prefix=prefix)
    state.put(2, "seen_build", "b0")
    olds = swap_concurrently(state, 2)
    # Each value was handed back exactly once: no two requests saw the same "last seen".
    assert len(set(olds)) == 40
    final = state.get(2, "seen_build")
    assert sorted([*olds, final]) == sorted(["b0", *(f"b{i}" for i in range(1, 41))])


def test_each_expiring_prefix_may_have_a_lifetime_of_its_own(
    client: redis.Redis, prefix: str
) -> None:
    lifetimes = {"question:": 3000, "buttons:": 60, "buttons-vote:": 60}
    state = RedisState(client, prefix=prefix, expiring=lifetimes)
    state.put(1, "question:3", "an earlier answer")
    state.put(1, "buttons:3", "what the buttons act on")
    state.swap(1, "buttons-vote:3:0", "3:good")
    state.put(1, "story", "2025-04-23-london-talks")
    ttl = {key: client.ttl(f"{prefix}:chat:1:{key}") for key in ("question:3", "buttons:3")}
    assert 2990 < ttl["question:3"] <= 3000 and 50 < ttl["buttons:3"] <= 60  # type: ignore[operator]
    assert 50 < client.ttl(f"{prefix}:chat:1:buttons-vote:3:0") <= 60  # type: ignore[operator]
    assert client.ttl(f"{prefix}:chat:1:story") == -1


def test_rate_limit_across_workers_counts_as_one_worker(client: redis.Redis, prefix: str) -> None:
    # 15 questions from one user, alternating between two workers' clients, against one
    # worker's in-process limit: the same allow / notice / drop counts.
    other = connect(URL)
    workers = [RedisRateLimit(c, 5, prefix=prefix) for c in (client, other)]
    shared = Counter(workers[i % 2].take(42) for i in range(15))
    local = RateLimit(5)
    alone = Counter(local.take(42, 100.0 + i * 0.01).value for i in range(15))
    assert shared == alone == Counter({"allow": 5, "notice": 1, "drop": 9})
    assert 59.0 < workers[1].wait(42) <= 60.0
    assert workers[0].take(43) == "allow"  # a different user has a full budget
    other.close()


def test_rate_limit_window_slides(client: redis.Redis, prefix: str) -> None:
    limit = RedisRateLimit(client, 2, window=0.4, prefix=prefix)
    assert [limit.take(1), limit.take(1), limit.take(1), limit.take(1)] == [
        "allow",
        "allow",
        "notice",
        "drop",
    ]
    time.sleep(0.45)
    assert limit.take(1) == "allow"
    assert RedisRateLimit(client, 0, prefix=prefix).take(1) == "allow"  # 0: no limit


def test_an_update_is_taken_by_one_worker_only(client: redis.Redis, prefix: str) -> None:
    a, b = RedisUpdates(client, prefix=prefix), RedisUpdates(connect(URL), prefix=prefix)
    assert a.repeated(1001) is False
    assert b.repeated(1001) is True
    assert a.repeated(1001) is True
    assert b.repeated(1002) is False
    assert 3500 < client.ttl(f"{prefix}:update:1001") <= 3600  # type: ignore[operator]


def test_status_sums_counters_of_all_workers(client: redis.Redis, prefix: str) -> None:
    a = RedisCounters(client, worker="host:1", prefix=prefix)
    b = RedisCounters(client, worker="host:2", prefix=prefix)
    a.add("answered", 3)
    b.add("answered")
    b.add("limited", 2)
    a.heartbeat("build-a")
    b.heartbeat("build-b", status="cannot read build-c; serving build-b")
    assert a.totals() == {"answered": 4, "limited": 2}
    workers = b.workers()
    assert set(workers) == {"host:1", "host:2"}
    assert workers["host:1"]["build"] == "build-a"
    assert "cannot read" in workers["host:2"]["status"]


def test_redis_away_fails_open_logs_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    proc = redis_server(port)
    client = connect(f"redis://127.0.0.1:{port}/0")
    state, limit = RedisState(client), RedisRateLimit(client, 1)
    updates = RedisUpdates(client)
    try:
        assert state.acquire(1, "summary", 60) == 0.0
        assert state.acquire(1, "summary", 60) > 0
        proc.terminate()
        proc.wait(timeout=10)
        with caplog.at_level(logging.WARNING, logger="bot.shared"):
            # Down: a cooldown is granted, a budget allowed, an update is new, a value missing.
            assert state.acquire(1, "summary", 60) == 0.0
            assert state.acquire(1, "summary", 60) == 0.0
            assert limit.take(5) == limit.take(5) == "allow"
            assert updates.repeated(9) is False
            assert state.get(1, "x") is None
        warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
        # One line per kind of state within the minute, not one per call.
        assert len(warnings) == 3
        proc = redis_server(port)  # back, same client: no restart of the worker
        time.sleep(SKIP_SECONDS)  # the client skips Redis this long after its last failure
        assert state.acquire(1, "summary", 60) == 0.0
        assert state.acquire(1, "summary", 60) > 0
        assert limit.take(5) == "allow"
        assert limit.take(5) == "notice"
    finally:
        client.close()
        proc.kill()
        proc.wait(timeout=10)


def test_a_hung_redis_costs_one_timeout_not_one_per_call() -> None:
    port = free_port()
    proc = redis_server(port)
    client = connect(f"redis://127.0.0.1:{port}/0")
    state, limit, updates = RedisState(client), RedisRateLimit(client, 1), RedisUpdates(client)
    try:
        assert updates.repeated(1) is False
        proc.send_signal(signal.SIGSTOP)  # it still accepts connections, but answers nothing
        started = time.monotonic()
        for n in range(10):
            assert updates.repeated(100 + n) is False
            assert limit.take(5) == "allow"
            assert state.get(1, "x") is None
        # One socket timeout (1 s), then every call skips Redis; it was 30 timeouts.
        assert time.monotonic() - started < SKIP_SECONDS
        proc.send_signal(signal.SIGCONT)
        time.sleep(SKIP_SECONDS)
        assert updates.repeated(1) is True, "Redis is used again once it answers"
    finally:
        proc.send_signal(signal.SIGCONT)
        client.close()
        proc.kill()
        proc.wait(timeout=10)


def test_one_builder_at_a_time_and_only_the_holder_releases(
    client: redis.Redis, prefix: str
) -> None:
    first = BuilderLock(client, seconds=0.6, prefix=prefix)
    with first:
        with pytest.raises(BuilderBusy, match="another `storybot index`"):
            BuilderLock(client, prefix=prefix).__enter__()
        time.sleep(1.0)  # longer than the TTL: the holder keeps extending it
        assert client.get(first.key) == first.token
    assert client.get(first.key) is None
    # A lock that lapsed and was taken by another builder is not deleted by the first.
    stale = BuilderLock(client, seconds=0.3, prefix=prefix)
    stale.__enter__()
    stale._stop.set()  # the stale builder stops extending (as if paused)
    stale._thread.join()  # type: ignore[union-attr]
    time.sleep(0.4)
    with BuilderLock(client, prefix=prefix) as second:
        stale.__exit__(None, None, None)
        assert client.get(second.key) == second.token


def test_followers_hear_of_a_build_by_message_and_late_ones_by_the_key(
    client: redis.Redis, prefix: str
) -> None:
    heard: list[str] = []
    follower = BuildFollower(client, heard.append, poll_seconds=0.2, prefix=prefix).start()
    time.sleep(0.3)
    started = time.monotonic()
    publish_build(client, "20260101-120000-001", prefix=prefix)
    while not heard and time.monotonic() - started < 5:
        time.sleep(0.01)
    assert heard == ["20260101-120000-001"]
    assert published_build(client, prefix=prefix) == "20260101-120000-001"
    late: list[str] = []
    other = BuildFollower(client, late.append, poll_seconds=0.2, prefix=prefix).start()
    time.sleep(0.5)
    publish_build(client, "20260101-120000-001", prefix=prefix)  # the same build again
    time.sleep(0.3)
    follower.stop()
    other.stop()
    assert late == ["20260101-120000-001"]
    assert heard == ["20260101-120000-001"]  # told once, not once per message


def test_set_membership_is_one_step_per_change(client: redis.Redis, prefix: str) -> None:
    # The list of following chats: two workers enlisting at once must both count.
    states = [RedisState(connect(URL), prefix=prefix) for _ in range(8)]

    def join(i: int) -> None:
        states[i % 8].enlist("followers", 1000 + i, True)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(states[0].members("followers")) == list(range(1000, 1040))
    states[3].enlist("followers", 1005, False)
    states[4].enlist("followers", 1001, True)  # already in: keeps its place
    members = states[0].members("followers")
    assert 1005 not in members and members.count(1001) == 1 and len(members) == 39
