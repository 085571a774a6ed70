"""What readers asked: each question, its outcome and its 👍/👎, kept per story for a while.

The newsroom's view of its readers (`/asked`, `storybot asked`, `bot.asked_report`): which
questions a story does not answer, and which quotes readers marked wrong. No user id or chat id
is kept. A question carries `asker`, a keyed hash of the user and the story (HMAC-SHA256 under a
random salt that lives only in this store, cut to 16 hex digits): enough to count a story's
distinct askers, and no more — one reader's questions about two stories do not even match.

Records older than STORYBOT_QUESTION_RETENTION days are deleted as new ones are written, and are
never read; 0 keeps nothing, and deletes what an earlier setting kept. `SqliteAsked` keeps the
log in the state database (STORYBOT_STATE); with STORYBOT_REDIS_URL, `RedisAsked` keeps it in
Redis, where every worker writes and `storybot asked` reads, failing open as bot/shared.py does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import redis

from bot.settings import BotSettings
from bot.shared import PREFIX, _FailOpen, _Keys, connect
from bot.state import open_sqlite

DAY = 86400.0
# Deleting what has aged out costs a scan of the old end of the log: once a minute is plenty.
PRUNE_EVERY = 60.0
Vote = Literal["good", "bad"]
VOTES: tuple[Vote, ...] = ("good", "bad")


@dataclass(frozen=True)
class Ask:
    """One question as answered: its outcome (`answer`, `related` or `declined`, the reply's
    kind), the story it was about (id and file; None when it was about none) and when."""

    id: str
    question: str
    outcome: str
    story: str | None
    file: str | None
    asker: str
    at: float


@dataclass(frozen=True)
class Mark:
    """A 👍 or 👎 on one sentence shown for an Ask (`candidate`: its place among the answer's
    sentences, 0 the one quoted first). One per Ask and candidate: a new vote replaces it."""

    ask: str
    candidate: int
    vote: str
    question: str
    sentence: str
    paragraph: int
    story: str | None
    file: str | None
    at: float

    @property
    def key(self) -> str:
        return f"{self.ask}:{self.candidate}"


def _load(kind: type[Ask] | type[Mark], raw: str) -> Any:
    """A record from its JSON, or None for one this version cannot read."""
    try:
        data = json.loads(raw)
        return kind(**{f.name: data[f.name] for f in fields(kind)})
    except (ValueError, KeyError, TypeError):
        return None


def _dump(record: Ask | Mark) -> str:
    return json.dumps(asdict(record), ensure_ascii=False)


def asker_hash(salt: bytes, story: str | None, user: object) -> str:
    """Who asked, as a count needs it: the same for one user and story, unlinkable otherwise."""
    digest = hmac.new(salt, f"{story or ''}\x00{user}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


class AskedLog(Protocol):
    """Where the questions and marks are kept (`days`: how long; 0 keeps nothing)."""

    days: int

    @property
    def keeps(self) -> bool:
        """Whether anything is kept (`days` above 0)."""
        ...

    def salt(self) -> bytes:
        """This store's secret salt for asker hashes (made on first use)."""
        ...

    def add(self, ask: Ask) -> None: ...

    def mark(self, mark: Mark) -> None:
        """Keep `mark`, replacing the earlier mark of the same Ask and candidate."""
        ...

    def asks(self, since: float = 0.0) -> list[Ask]:
        """The questions kept, asked at `since` or later, oldest first."""
        ...

    def marks(self, since: float = 0.0) -> list[Mark]:
        """The marks kept, made at `since` or later, oldest first."""
        ...

    def close(self) -> None: ...


class _Retention:
    """The retention rule both stores share: what is too old, and when to delete it."""

    def __init__(self, days: int) -> None:
        self.days = days
        self._pruned = -PRUNE_EVERY

    @property
    def keeps(self) -> bool:
        return self.days > 0

    def cutoff(self, now: float | None = None) -> float:
        """Records before this moment are out of retention."""
        return (time.time() if now is None else now) - self.days * DAY

    def due(self) -> bool:
        """Whether to delete the aged-out records now (at most once per PRUNE_EVERY)."""
        now = time.monotonic()
        if now - self._pruned < PRUNE_EVERY:
            return False
        self._pruned = now
        return True


class SqliteAsked(_Retention):
    """The log in SQLite (the state database): two tables of JSON records by time."""

    def __init__(self, path: Path | str = ":memory:", days: int = 30) -> None:
        super().__init__(days)
        self._db = open_sqlite(path)
        self._lock = threading.Lock()
        with self._lock:
            for table in ("asked", "asked_marks"):
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    "(id TEXT PRIMARY KEY, at REAL, record TEXT)"
                )
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_at ON {table} (at)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS asked_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
        self.prune()

    def salt(self) -> bytes:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO asked_meta VALUES ('salt', ?)", (secrets.token_hex(32),)
            )
            (value,) = self._db.execute(
                "SELECT value FROM asked_meta WHERE key = 'salt'"
            ).fetchone()
        return bytes.fromhex(str(value))

    def prune(self) -> None:
        """Delete every record out of retention (all of them when nothing is kept)."""
        cutoff = self.cutoff() if self.keeps else float("inf")
        with self._lock:
            for table in ("asked", "asked_marks"):
                self._db.execute(f"DELETE FROM {table} WHERE at < ?", (cutoff,))

    def _write(self, table: str, key: str, at: float, record: str) -> None:
        if not self.keeps:
            return
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", (key, at, record))
        if self.due():
            self.prune()

    def add(self, ask: Ask) -> None:
        self._write("asked", ask.id, ask.at, _dump(ask))

    def mark(self, mark: Mark) -> None:
        self._write("asked_marks", mark.key, mark.at, _dump(mark))

    def _read(self, table: str, since: float) -> list[str]:
        if not self.keeps:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT record FROM {table} WHERE at >= ? ORDER BY at, rowid",
                (max(since, self.cutoff()),),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def asks(self, since: float = 0.0) -> list[Ask]:
        return [a for a in (_load(Ask, r) for r in self._read("asked", since)) if a]

    def marks(self, since: float = 0.0) -> list[Mark]:
        return [m for m in (_load(Mark, r) for r in self._read("asked_marks", since)) if m]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisAsked(_Retention):
    """The log in Redis: questions in a sorted set by time; marks in a hash by Ask and
    candidate (so a new vote replaces the old one), beside a sorted set of their times."""

    def __init__(
        self, client: redis.Redis, days: int = 30, prefix: str = PREFIX, owns: bool = False
    ) -> None:
        super().__init__(days)
        self.client, self.owns = client, owns
        key = _Keys(prefix)
        self._salt_key, self._asks = key("asked", "salt"), key("asked", "questions")
        self._marks, self._mark_times = key("asked", "marks"), key("asked", "marks", "at")
        self._run = _FailOpen("what readers asked", client)
        self._fallback = secrets.token_bytes(32)
        self.prune()

    def salt(self) -> bytes:
        """The shared salt; while Redis is away, one of this process's own (counts made then
        may count a reader twice)."""

        def read() -> bytes:
            self.client.set(self._salt_key, secrets.token_hex(32), nx=True)
            value: Any = self.client.get(self._salt_key)
            return bytes.fromhex(str(value))

        return self._run(read, self._fallback)

    def prune(self) -> None:
        """Delete every record out of retention (all of them when nothing is kept)."""
        before = f"({self.cutoff()}" if self.keeps else "+inf"

        def delete() -> None:
            old: Any = self.client.zrangebyscore(self._mark_times, "-inf", before)
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(self._asks, "-inf", before)
            if old:
                pipe.hdel(self._marks, *old)
            pipe.zremrangebyscore(self._mark_times, "-inf", before)
            pipe.execute()

        self._run(delete, None)

    def add(self, ask: Ask) -> None:
        if self.keeps:
            self._run(lambda: self.client.zadd(self._asks, {_dump(ask): ask.at}), None)
            if self.due():
                self.prune()

    def mark(self, mark: Mark) -> None:
        if not self.keeps:
            return

        def write() -> None:
            pipe = self.client.pipeline()  # MULTI: the record and its time go in together
            pipe.hset(self._marks, mark.key, _dump(mark))
            pipe.zadd(self._mark_times, {mark.key: mark.at})
            pipe.execute()

        self._run(write, None)
        if self.due():
            self.prune()

    def asks(self, since: float = 0.0) -> list[Ask]:
        if not self.keeps:
            return []
        low = max(since, self.cutoff())

        def read() -> list[str]:
            found: Any = self.client.zrangebyscore(self._asks, low, "+inf")
            return [str(r) for r in found]

        empty: list[str] = []
        return [a for a in (_load(Ask, r) for r in self._run(read, empty)) if a]

    def marks(self, since: float = 0.0) -> list[Mark]:
        if not self.keeps:
            return []
        low = max(since, self.cutoff())

        def read() -> list[str]:
            keys: Any = self.client.zrangebyscore(self._mark_times, low, "+inf")
            values: Any = self.client.hmget(self._marks, keys) if keys else []
            return [str(v) for v in values if v is not None]

        empty: list[str] = []
        return [m for m in (_load(Mark, r) for r in self._run(read, empty)) if m]

    def close(self) -> None:
        """Close the client if it is this log's own (a worker's belongs to its Shared)."""
        if self.owns:
            self.client.close()


def open_asked(settings: BotSettings, client: redis.Redis | None = None) -> AskedLog:
    """The log the settings name: in Redis with STORYBOT_REDIS_URL (through `client`, a
    worker's own, else a new one), else in the state database."""
    days = settings.question_retention
    if settings.redis_url is None:
        return SqliteAsked(settings.state, days)
    if client is not None:
        return RedisAsked(client, days, settings.redis_prefix)
    own = connect(settings.redis_url.get_secret_value())
    return RedisAsked(own, days, settings.redis_prefix, owns=True)
