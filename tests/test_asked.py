"""The log of what readers asked (bot/asked.py), in SQLite and in a real Redis: records read
back, a new vote replacing the old, retention (0 keeps nothing), and the salted asker hash."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.asked import DAY, Ask, AskedLog, Mark, RedisAsked, SqliteAsked, asker_hash
from support import redis_at

Opener = Callable[[int], AskedLog]


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the log, with a retention of N days, over the same storage each time."""
    if request.param == "sqlite":
        yield lambda days: SqliteAsked(tmp_path / "state.db", days)
        return
    client = redis_at()
    prefix = f"storybot-test-{uuid.uuid4().hex[:10]}"
    yield lambda days: RedisAsked(client, days, prefix)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def ask(n: int, at: float, story: str | None = "s") -> Ask:
    return Ask(f"a{n}", f"question {n}?", "declined", story, "s.txt", f"h{n % 2}", at)


def mark(n: int, vote: str, at: float, candidate: int = 0) -> Mark:
    return Mark(f"a{n}", candidate, vote, f"question {n}?", f"Sentence {n}.", 3, "s", "s.txt", at)


def test_questions_and_votes_read_back_newest_last_and_a_vote_replaces_the_last(
    opener: Opener,
) -> None:
    log, now = opener(30), time.time()
    for n in (2, 1, 3):
        log.add(ask(n, now - n * 60))
    assert [a.id for a in log.asks()] == ["a3", "a2", "a1"]
    assert [a.id for a in log.asks(since=now - 150)] == ["a2", "a1"]
    assert log.asks()[0] == ask(3, now - 180)
    log.mark(mark(1, "good", now - 30))
    log.mark(mark(1, "bad", now - 20))  # the same answer and sentence: replaced
    log.mark(mark(1, "good", now - 10, candidate=1))
    assert [(m.candidate, m.vote) for m in log.marks()] == [(0, "bad"), (1, "good")]
    assert [m.candidate for m in log.marks(since=now - 15)] == [1]
    log.close()


def test_records_past_retention_are_neither_read_nor_kept(opener: Opener) -> None:
    longer, now = opener(365), time.time()
    longer.add(ask(1, now - 31 * DAY))
    longer.add(ask(2, now - 29 * DAY))
    longer.mark(mark(1, "bad", now - 31 * DAY))
    longer.mark(mark(2, "good", now - 29 * DAY))
    assert [a.id for a in longer.asks()] == ["a1", "a2"]
    month = opener(30)  # reads only its 30 days, and deletes what is older as it opens
    assert [a.id for a in month.asks()] == ["a2"] and [m.ask for m in month.marks()] == ["a2"]
    assert [a.id for a in longer.asks()] == ["a2"] and [m.ask for m in longer.marks()] == ["a2"]
    month.add(ask(3, now - 40 * DAY))  # written out of retention: gone at once
    assert [a.id for a in longer.asks()] == ["a2"]


def test_zero_days_keeps_nothing_and_deletes_what_was_kept(opener: Opener) -> None:
    log, now = opener(30), time.time()
    log.add(ask(1, now))
    log.mark(mark(1, "good", now))
    nothing = opener(0)
    assert not nothing.keeps
    nothing.add(ask(2, now))
    nothing.mark(mark(2, "good", now))
    assert nothing.asks() == [] and nothing.marks() == []
    assert opener(30).asks() == [] and opener(30).marks() == [], "earlier records deleted"


def test_the_asker_hash_counts_a_reader_per_story_and_names_no_one(opener: Opener) -> None:
    salt = opener(30).salt()
    assert len(salt) == 32 and opener(30).salt() == salt, "one salt per store"
    alice = asker_hash(salt, "story-a", 1001)
    assert alice == asker_hash(salt, "story-a", 1001) and len(alice) == 16
    assert alice != asker_hash(salt, "story-b", 1001), "not linkable across stories"
    assert alice != asker_hash(salt, "story-a", 1002)
    assert alice != asker_hash(b"another salt", "story-a", 1001)
    assert "1001" not in alice
