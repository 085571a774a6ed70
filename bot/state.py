"""Per-chat state behind one small interface: cooldowns, what a chat has seen, earlier questions,
the story it follows.

`ChatState` is the interface; `SqliteState` is the default (a file under var/, or `:memory:`),
safe to share between threads. A server-backed store (Redis, Postgres) can implement the same
three methods so that several bot workers share state.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from index.errors import CannotWrite, os_reason


class ChatState(Protocol):
    """Key-value state per chat, plus an atomic "may this happen now?" check."""

    def get(self, chat_id: int, key: str) -> str | None: ...

    def put(self, chat_id: int, key: str, value: str) -> None: ...

    def acquire(self, chat_id: int, key: str, interval: float, now: float | None = None) -> float:
        """Take the slot if `interval` seconds passed since the last one: 0.0, else seconds left."""
        ...

    def swap(self, chat_id: int, key: str, value: str) -> str | None:
        """Store `value` and return the value it replaced, as one step."""
        ...

    def enlist(self, group: str, member: int, present: bool) -> None:
        """Add `member` to the named set (or, `present` False, take it out), as one step."""
        ...

    def members(self, group: str) -> list[int]:
        """The named set's members, in the order they were added."""
        ...


FOLLOWED_STORY = "story"


def followed_story(state: ChatState, chat_id: int) -> str | None:
    """The id of the story this chat follows (`/story`), or None: it is answered from all."""
    return state.get(chat_id, FOLLOWED_STORY) or None


def follow_story(state: ChatState, chat_id: int, story_id: str | None) -> None:
    """Answer this chat from one story from now on, or (None) from every story again."""
    state.put(chat_id, FOLLOWED_STORY, story_id or "")


def open_sqlite(path: Path | str) -> sqlite3.Connection:
    """A connection to the state database at `path` (`:memory:` for none), shared by threads
    (the caller holds a lock), autocommitting, in WAL mode so a reader never waits on a writer.
    CannotWrite, in one line, where it cannot be opened (a read-only disk, no permission)."""
    try:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        if str(path) != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as exc:
        why = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise CannotWrite(
            f"cannot open the chat state {path} ({why}); set STORYBOT_STATE to a file storybot "
            "can write"
        ) from None
    return db


class SqliteState:
    """ChatState in SQLite; one table of (chat, key) → value, updated_at."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self._db = open_sqlite(path)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS chat_sets (name TEXT, member INTEGER, added REAL, "
                "PRIMARY KEY (name, member))"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS chat_state (chat INTEGER, key TEXT, value TEXT, "
                "updated REAL, PRIMARY KEY (chat, key))"
            )

    def get(self, chat_id: int, key: str) -> str | None:
        """The stored value, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM chat_state WHERE chat = ? AND key = ?", (chat_id, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def put(self, chat_id: int, key: str, value: str) -> None:
        """Store a value."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO chat_state VALUES (?, ?, ?, ?)",
                (chat_id, key, value, time.time()),
            )

    def enlist(self, group: str, member: int, present: bool) -> None:
        """Add `member` to the named set (kept where it was if already in), or take it out."""
        with self._lock:
            if present:
                self._db.execute(
                    "INSERT OR IGNORE INTO chat_sets VALUES (?, ?, ?)", (group, member, time.time())
                )
            else:
                self._db.execute(
                    "DELETE FROM chat_sets WHERE name = ? AND member = ?", (group, member)
                )

    def members(self, group: str) -> list[int]:
        """The named set's members, in the order they were added."""
        with self._lock:
            rows = self._db.execute(
                "SELECT member FROM chat_sets WHERE name = ? ORDER BY added, rowid", (group,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def swap(self, chat_id: int, key: str, value: str) -> str | None:
        """Store `value` and return the value it replaced (atomic within this process)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM chat_state WHERE chat = ? AND key = ?", (chat_id, key)
            ).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO chat_state VALUES (?, ?, ?, ?)",
                (chat_id, key, value, time.time()),
            )
        return None if row is None else str(row[0])

    def acquire(self, chat_id: int, key: str, interval: float, now: float | None = None) -> float:
        """Take the slot if `interval` seconds passed since the last one: 0.0, else seconds left."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute(
                "SELECT updated FROM chat_state WHERE chat = ? AND key = ?", (chat_id, key)
            ).fetchone()
            if row is not None and now - float(row[0]) < interval:
                return interval - (now - float(row[0]))
            self._db.execute(
                "INSERT OR REPLACE INTO chat_state VALUES (?, ?, ?, ?)", (chat_id, key, "", now)
            )
        return 0.0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
