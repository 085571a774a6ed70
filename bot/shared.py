"""Shared state in Redis, for several bot workers: what they must agree on, one operation each.

With `STORYBOT_REDIS_URL` set, every worker keeps here what one worker keeps in SQLite and in
memory (bot/state.py, bot/telegram/guard.py):

- per-chat values (follow-up records, what a chat has seen) with an expiry;
- the `/summary` cooldown, one `SET NX PX` (PTTL gives the seconds left);
- `/whatsnew`'s "what did this chat last see", swapped in one `SET … GET`, so two concurrent
  requests never both list the same changes;
- the per-user rate limit, one Lua script on Redis's own clock (workers' clocks may differ);
- repeated `update_id`s, one `SET NX EX` each (see `SEEN_SECONDS` for the size);
- counters per worker and a heartbeat with its build id, summed for `/status`.

The same chat's updates can run on two workers at once, so nothing here is a read followed by
a write. When Redis does not answer, each operation fails open — a cooldown or a budget is
granted, an update counts as new, a value reads as missing — so the bot keeps answering, and it
logs that at most once a minute. After a failure, every call through that client fails open at
once for SKIP_SECONDS, then Redis is tried again (redis-py reconnects by itself): a Redis that
hangs rather than refuses costs one socket timeout per pause, not one per call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.client import PubSub

from index.errors import StorybotError

log = logging.getLogger(__name__)

PREFIX = "storybot"
# Per-chat values outlive any conversation worth following up, and then go.
CHAT_TTL_SECONDS = 30 * 24 * 3600
# Telegram redelivers a webhook update for up to about a day when it gets no 200, but in
# practice within minutes; an hour of ids at Telegram's ceiling of ~30 updates a second is
# 108,000 keys of 117 bytes each (measured, INFO memory): about 13 MB.
SEEN_SECONDS = 3600
HEARTBEAT_SECONDS = 30
COUNTS_SECONDS = 24 * 3600
LOG_EVERY_SECONDS = 60.0
# A Redis that does not answer (paused, or a host gone without a reset) blocks each call for the
# socket timeout, the guard's on the event loop: three or four a message made a worker answer
# one message per 2 s. Skipping Redis this long after a failure bounds that, and is also the
# longest a worker takes to use Redis again once it is back.
SKIP_SECONDS = 2.0

T = TypeVar("T")

# Both scripts start by reading Redis's clock (ms) and dropping a user's stamps older than
# the window. KEYS[1]: the user's stamps (a sorted set); ARGV[1], ARGV[2]: limit, window in ms.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
"""

# KEYS[2]: the user's notice flag; ARGV[3]: a unique member. Returns "allow", "notice" (over
# budget: tell the user once a window) or "drop" — the rule of guard.RateLimit, on Redis's clock.
_RATE_SCRIPT = (
    _WINDOW
    + """
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 'allow'
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then
  return 'notice'
end
return 'drop'
"""
)

# Milliseconds until one more question is allowed.
_WAIT_SCRIPT = (
    _WINDOW
    + """
if redis.call('ZCARD', KEYS[1]) < limit then
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(0, tonumber(oldest[2]) + window - now)
"""
)


def connect(url: str) -> redis.Redis:
    """A client for `url` that gives up quickly: a worker must not hang on a dead Redis."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        health_check_interval=15,
    )


# Per client (every part of one worker shares its client): until when calls skip Redis.
_away_until: weakref.WeakKeyDictionary[redis.Redis, float] = weakref.WeakKeyDictionary()
_away_lock = threading.Lock()
_SKIPPED = redis.ConnectionError(f"not tried: it failed less than {SKIP_SECONDS:g} s ago")


class _FailOpen:
    """Runs Redis calls; on a Redis error returns the fail-open value and logs, once a minute;
    for SKIP_SECONDS after an error on `client`, returns it without trying."""

    def __init__(self, what: str, client: redis.Redis) -> None:
        self.what, self.client = what, client
        self._logged = -LOG_EVERY_SECONDS
        self.failures = 0

    def __call__(self, call: Callable[[], T], default: T) -> T:
        with _away_lock:
            away = time.monotonic() < _away_until.get(self.client, 0.0)
        if away:
            self.note(_SKIPPED)
            return default
        try:
            return call()
        except redis.RedisError as exc:
            with _away_lock:
                _away_until[self.client] = time.monotonic() + SKIP_SECONDS
            self.note(exc)
            return default

    def note(self, exc: Exception) -> None:
        """Count a failure; log it unless one was logged within the minute."""
        self.failures += 1
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY_SECONDS:
            self._logged = now
            log.warning("Redis unavailable for %s (%s); carrying on without it", self.what, exc)


class _Keys:
    """Key names under one prefix (tests use their own, beside a live bot's)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])


class RedisState:
    """bot/state.py's ChatState in Redis, plus the atomic `swap` that `/whatsnew` needs.

    Values whose key starts with one of `expiring` (follow-up records, an answer's buttons)
    expire `ttl` seconds after they were written, or as many as a mapping gives that prefix; the
    rest (a chat's story, what it follows and was told) are kept, as in SQLite: a follow of a
    story that goes quiet for a month must not lapse.
    """

    def __init__(
        self,
        client: redis.Redis,
        ttl: int = CHAT_TTL_SECONDS,
        prefix: str = PREFIX,
        expiring: tuple[str, ...] | Mapping[str, int] = (),
    ) -> None:
        self.client, self.ttl, self._key = client, ttl, _Keys(prefix)
        self.expiring = (
            dict(expiring) if isinstance(expiring, Mapping) else dict.fromkeys(expiring, ttl)
        )
        self._run = _FailOpen("chat state", client)

    def _ttl(self, key: str) -> int | None:
        return next((t for p, t in self.expiring.items() if key.startswith(p)), None)

    def get(self, chat_id: int, key: str) -> str | None:
        """The stored value, or None (also when Redis is away)."""
        value: Any = self._run(lambda: self.client.get(self._key("chat", chat_id, key)), None)
        return None if value is None else str(value)

    def put(self, chat_id: int, key: str, value: str) -> None:
        """Store a value (for `ttl` seconds if its key is an expiring one)."""
        ex = self._ttl(key)
        self._run(lambda: self.client.set(self._key("chat", chat_id, key), value, ex=ex), None)

    def swap(self, chat_id: int, key: str, value: str) -> str | None:
        """Store `value` and return the one it replaced, in one operation."""
        old: Any = self._run(
            lambda: self.client.set(
                self._key("chat", chat_id, key), value, ex=self._ttl(key), get=True
            ),
            None,
        )
        return None if old is None else str(old)

    def enlist(self, group: str, member: int, present: bool) -> None:
        """Add `member` to the named set (a sorted set by time of joining, ZADD NX keeps the first)
        or take it out (ZREM): one operation, so two workers' changes never undo each other."""
        key = self._key("set", group)
        if present:
            self._run(lambda: self.client.zadd(key, {str(member): time.time()}, nx=True), None)
        else:
            self._run(lambda: self.client.zrem(key, str(member)), None)

    def members(self, group: str) -> list[int]:
        """The named set's members, in the order they joined (none while Redis is away)."""

        def read() -> list[int]:
            found: Any = self.client.zrange(self._key("set", group), 0, -1)
            return [int(m) for m in found]

        return self._run(read, [])

    def acquire(self, chat_id: int, key: str, interval: float, now: float | None = None) -> float:
        """Take the slot if `interval` seconds passed since the last one: 0.0, else seconds left.

        `now` is ignored: the interval runs on Redis's clock, the one all workers share.
        """
        del now
        slot = self._key("slot", chat_id, key)
        millis = max(1, int(interval * 1000))

        def take() -> float:
            if self.client.set(slot, "1", nx=True, px=millis):
                return 0.0
            left = int(self.client.pttl(slot))  # type: ignore[arg-type]
            # -2: it expired between the two calls; -1 cannot happen (always set with PX).
            return max(left, 1) / 1000.0 if left != -2 else 0.001

        return self._run(take, 0.0)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


class RedisRateLimit:
    """guard.RateLimit's sliding window shared by all workers; `take` gives a Verdict's value."""

    def __init__(
        self, client: redis.Redis, limit: int, window: float = 60.0, prefix: str = PREFIX
    ) -> None:
        self.client, self.limit, self.window = client, limit, window
        self._key = _Keys(prefix)
        self._take = client.register_script(_RATE_SCRIPT)
        self._wait = client.register_script(_WAIT_SCRIPT)
        self._run = _FailOpen("the rate limit", client)

    def take(self, key: int, now: float = 0.0) -> str:
        """Spend one question of `key`'s budget: "allow", "notice" or "drop" (fail open: allow)."""
        del now  # Redis's clock decides
        if self.limit <= 0:
            return "allow"
        keys = [self._key("rate", key), self._key("rate", key, "noticed")]
        args: list[int | str] = [self.limit, int(self.window * 1000), uuid.uuid4().hex]
        return str(self._run(lambda: self._take(keys=keys, args=args), "allow"))

    def wait(self, key: int, now: float = 0.0) -> float:
        """Seconds until `key` may ask again."""
        del now
        args = [self.limit, int(self.window * 1000)]
        millis: Any = self._run(lambda: self._wait(keys=[self._key("rate", key)], args=args), 0)
        return float(millis) / 1000.0


class RedisUpdates:
    """Update ids already taken by some worker (Telegram redelivers; a balancer may spread)."""

    def __init__(
        self, client: redis.Redis, seconds: int = SEEN_SECONDS, prefix: str = PREFIX
    ) -> None:
        self.client, self.seconds, self._key = client, seconds, _Keys(prefix)
        self._run = _FailOpen("repeated-update detection", client)

    def repeated(self, update_id: int) -> bool:
        """True if another (or this) worker took this update id; claims it otherwise."""
        key = self._key("update", update_id)

        def claim() -> bool:
            return bool(self.client.set(key, "1", nx=True, ex=self.seconds))

        return not self._run(claim, True)


def worker_name() -> str:
    """This worker's name in `/status`: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RedisCounters:
    """Each worker's counters and heartbeat; `/status` reads the sums over live workers."""

    def __init__(
        self, client: redis.Redis, worker: str | None = None, prefix: str = PREFIX
    ) -> None:
        self.client, self._key = client, _Keys(prefix)
        self.worker = worker or worker_name()
        self._run = _FailOpen("the /status counters", client)

    def add(self, name: str, amount: int = 1) -> None:
        """Count `amount` more of `name` for this worker."""
        self._run(lambda: self.client.hincrby(self._key("counts", self.worker), name, amount), 0)

    def heartbeat(self, build: str | None, status: str = "serving") -> None:
        """Say this worker is alive, which build it serves and how it is."""
        beat = json.dumps({"build": build, "status": status, "at": time.time()})

        def write() -> None:
            pipe = self.client.pipeline()
            pipe.set(self._key("worker", self.worker), beat, ex=HEARTBEAT_SECONDS)
            pipe.expire(self._key("counts", self.worker), COUNTS_SECONDS)
            pipe.execute()

        self._run(write, None)

    def workers(self) -> dict[str, dict[str, Any]]:
        """Live workers (a heartbeat within HEARTBEAT_SECONDS) and what each said."""

        def read() -> dict[str, dict[str, Any]]:
            keys = sorted(self.client.scan_iter(match=self._key("worker", "*"), count=100))
            values = self.client.mget(keys) if keys else []
            prefix = len(self._key("worker", ""))
            return {k[prefix:]: json.loads(v) for k, v in zip(keys, values, strict=True) if v}

        return self._run(read, {})

    def totals(self) -> dict[str, int]:
        """Every counter summed over all workers, a restarted or stopped one's included (its
        counts expire COUNTS_SECONDS after its last heartbeat)."""

        def read() -> dict[str, int]:
            out: dict[str, int] = {}
            for key in self.client.scan_iter(match=self._key("counts", "*"), count=100):
                counts: Any = self.client.hgetall(key)
                for name, value in counts.items():
                    out[name] = out.get(name, 0) + int(value)
            return out

        return self._run(read, {})


# KEYS: the lock. ARGV: the holder's token, [ms]. Only the holder may extend or release it.
_EXTEND_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
BUILDER_LOCK_SECONDS = 60
BUILDS_CHANNEL = "builds"
STOP_SECONDS = 0.5


class BuilderBusy(StorybotError):
    """Another process holds the builder lock in Redis."""


class BuilderLock:
    """At most one builder across all hosts: a Redis key holding this builder's random token,
    extended while the build runs and deleted only by its holder (a build that outlives a
    lost lock cannot delete its successor's)."""

    def __init__(
        self,
        client: redis.Redis,
        seconds: float = BUILDER_LOCK_SECONDS,
        prefix: str = PREFIX,
        token: str | None = None,
    ) -> None:
        self.client, self.seconds = client, seconds
        self.key = _Keys(prefix)("builder")
        # A builder taking the lock again with its own token finds it still its own when a
        # release was lost (Redis silent at the end of a build), not busy for 60 s.
        self.token = token or uuid.uuid4().hex
        self._extend = client.register_script(_EXTEND_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuilderLock:
        millis = int(self.seconds * 1000)
        try:
            taken = self.client.set(self.key, self.token, nx=True, px=millis) or (
                self._extend(keys=[self.key], args=[self.token, millis]) == 1
            )
        except redis.RedisError as exc:
            raise StorybotError(f"cannot take the builder lock: Redis unavailable ({exc})") from exc
        if not taken:
            raise BuilderBusy(
                "another `storybot index` holds the builder lock in Redis; let it finish "
                f"(the lock lapses {self.seconds:g} s after its holder stops)"
            )
        self._thread = threading.Thread(target=self._keep, daemon=True, name="builder-lock")
        self._thread.start()
        return self

    def _keep(self) -> None:
        millis = int(self.seconds * 1000)
        while not self._stop.wait(self.seconds / 3):
            try:
                self._extend(keys=[self.key], args=[self.token, millis])
            except redis.RedisError as exc:  # the next try may pass; the TTL covers the gap
                log.warning("could not extend the builder lock: %s", exc)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self._release(keys=[self.key], args=[self.token])
        except redis.RedisError as error:  # it lapses by itself
            log.warning("could not release the builder lock: %s", error)


class PublishFailed(StorybotError):
    """A build was made and stands here, but Redis did not take its announcement."""


def publish_build(
    client: redis.Redis,
    build_id: str,
    prefix: str = PREFIX,
    tries: int = 1,
    backoff: float = 0.5,
) -> None:
    """Tell every worker which build to serve: the key (for polling and late starters), then a
    message on the channel (so running workers load it at once). Tried `tries` times, waiting
    `backoff` seconds (doubling) between; PublishFailed, in words, when Redis took none."""
    keys = _Keys(prefix)
    for attempt in range(tries):
        try:
            pipe = client.pipeline()
            pipe.set(keys("build"), build_id)
            pipe.publish(keys(BUILDS_CHANNEL), build_id)
            pipe.execute()
            return
        except redis.RedisError as exc:
            if attempt + 1 == tries:
                raise PublishFailed(
                    f"build {build_id} stands here, but Redis did not take its announcement to "
                    f"the workers ({exc}; {tries} {'try' if tries == 1 else 'tries'}); workers "
                    "reading this index still load it within 5 s"
                ) from None
            time.sleep(backoff * 2**attempt)


def published_build(client: redis.Redis, prefix: str = PREFIX) -> str | None:
    """The build the builder last published, or None (none yet, or Redis away)."""
    try:
        value: Any = client.get(_Keys(prefix)("build"))
    except redis.RedisError:
        return None
    return None if value is None else str(value)


class BuildFollower:
    """Calls `on_build(build_id)` when a new build is published: at once by pub/sub, or within
    `poll_seconds` by reading the key when a message was missed (a reconnect, a late start)."""

    def __init__(
        self,
        client: redis.Redis,
        on_build: Callable[[str], object],
        poll_seconds: float = 5.0,
        prefix: str = PREFIX,
    ) -> None:
        self.client, self.on_build, self.poll_seconds = client, on_build, poll_seconds
        self.prefix = prefix
        self.seen: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="build-follower")
        self._failed = _FailOpen("new-build notices", client)

    def start(self) -> BuildFollower:
        """Begin following in a background thread."""
        self._thread.start()
        return self

    def _offer(self, build: str | None) -> None:
        if build and build != self.seen:
            self.seen = build
            try:
                self.on_build(build)
            except Exception:  # a bad build must not stop the following of the next one
                log.exception("loading build %s failed", build)

    def _run(self) -> None:
        channel = _Keys(self.prefix)(BUILDS_CHANNEL)
        pubsub: PubSub | None = None
        polled = 0.0
        try:
            while not self._stop.is_set():
                try:
                    if pubsub is None:
                        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                        pubsub.subscribe(channel)
                        self._offer(published_build(self.client, self.prefix))
                        polled = time.monotonic()
                    # Short waits, so that stop() is heard at once and shutdown is not held up
                    # for a whole poll interval.
                    message = pubsub.get_message(timeout=min(self.poll_seconds, STOP_SECONDS))
                    if message and message.get("type") == "message":
                        self._offer(str(message["data"]))
                    elif time.monotonic() - polled >= self.poll_seconds:
                        self._offer(published_build(self.client, self.prefix))
                        polled = time.monotonic()
                except redis.RedisError as exc:
                    self._failed.note(exc)
                    _close(pubsub)  # else each outage would keep its connection from the pool
                    pubsub = None
                    self._stop.wait(min(self.poll_seconds, 1.0))
        finally:
            _close(pubsub)

    def stop(self) -> None:
        """Stop following (the thread ends within STOP_SECONDS)."""
        self._stop.set()
        self._thread.join(timeout=STOP_SECONDS + 2)


def _close(pubsub: PubSub | None) -> None:
    """Close a subscription, whatever state its connection is in."""
    if pubsub is not None:
        with contextlib.suppress(redis.RedisError, OSError, ValueError):
            pubsub.close()


@dataclass
class Shared:
    """Everything one worker shares with the others through one Redis."""

    client: redis.Redis
    state: RedisState
    limit: RedisRateLimit
    updates: RedisUpdates
    counters: RedisCounters
    prefix: str = PREFIX

    @classmethod
    def connect(
        cls,
        url: str,
        rate_limit: int,
        prefix: str = PREFIX,
        expiring: tuple[str, ...] | Mapping[str, int] = (),
    ) -> Shared:
        """Clients for `url`; an unreachable Redis is not fatal (each part fails open).
        `expiring`: the key prefixes of per-chat values that expire (RedisState)."""
        client = connect(url)
        return cls(
            client,
            RedisState(client, prefix=prefix, expiring=expiring),
            RedisRateLimit(client, rate_limit, prefix=prefix),
            RedisUpdates(client, prefix=prefix),
            RedisCounters(client, prefix=prefix),
            prefix,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
