"""bot/following.py on real builds (FakeEmbedder vectors) and real per-chat state: who is told
what, once, merged within the interval, resumed after a restart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine import Engine, build
from bot.following import TOLD, Followers, pace
from bot.settings import BotSettings
from bot.state import SqliteState, follow_story
from support import NEWSROOM, SEED_FILE, FakeEmbedder
from telegram_html import validate_telegram_html

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"
BUDGET = "2025-05-02-budget-vote"
TALKS = "2025-04-23-london-talks"
ALICE, BOB, CAROL = 101, -1002, -1003
T0 = 1_800_000_000.0


class Newsroom:
    """Two stories, indexed with FakeEmbedder, that a test edits and rebuilds."""

    def __init__(self, root: Path) -> None:
        stories = root / "stories"
        stories.mkdir()
        shutil.copy(SEED_FILE, stories)
        shutil.copy(NEWSROOM / f"{BUDGET}.md", stories)
        self.settings = BotSettings(
            stories=stories, index=root / "var" / "index", reader="off", state=":memory:"
        )
        self.encoder = FakeEmbedder()
        build(self.settings, self.encoder)
        self.engine = Engine(self.settings, self.encoder)

    def edit(self, name: str, old: str, new: str) -> None:
        """Change a story file and serve the rebuilt index."""
        path = self.settings.stories / name
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        build(self.settings, self.encoder)
        assert self.engine.reload_if_changed()


@pytest.fixture
def newsroom(tmp_path: Path) -> Newsroom:
    return Newsroom(tmp_path)


def test_each_follower_is_told_once_and_updates_within_the_interval_are_merged(
    newsroom: Newsroom, tmp_path: Path
) -> None:
    state = SqliteState(tmp_path / "state.db")
    followers = Followers(newsroom.engine, state, interval=600)
    followers.follow(ALICE, "London talks")
    followers.follow(BOB, "all")
    assert followers.due(T0) == [], "nothing changed since they followed"

    newsroom.edit(SEED_FILE.name, "is expected to visit Russia", "will visit Moscow")
    notices = {n.chat_id: n for n in followers.due(T0)}
    assert set(notices) == {ALICE, BOB}, "Carol follows nothing and is told nothing"
    alice = notices[ALICE].html
    assert alice.startswith("<b>Update: London talks</b>\n<b>What's new since")
    assert "<i>Changed:</i> His envoy, Steve Witkoff, will visit Moscow" in alice
    assert "(London talks, ¶14)" in alice and alice.endswith("/unfollow stops these updates.</i>")
    assert validate_telegram_html(alice) is None
    assert followers.due(T0 + 1) == [], "claimed: never told twice"

    newsroom.edit(SEED_FILE.name, "will visit Moscow", "will visit St. Petersburg")
    assert followers.due(T0 + 60) == [], "within the interval it waits"
    newsroom.edit(f"{BUDGET}.md", "312 votes to 270", "313 votes to 269")

    restarted = Followers(newsroom.engine, SqliteState(tmp_path / "state.db"), interval=600)
    assert restarted.due(T0 + 120) == []
    merged = {n.chat_id: n for n in restarted.due(T0 + 601)}
    assert set(merged) == {ALICE, BOB}
    assert "St. Petersburg" in merged[ALICE].html and "313 votes" not in merged[ALICE].html
    assert "Before: <s>His envoy, Steve Witkoff, will visit Moscow" in merged[ALICE].html
    both = merged[BOB].html
    assert both.startswith("<b>Update: London talks; Parliament passes the 2026 budget</b>")
    assert "St. Petersburg" in both and "313 votes to 269" in both
    assert restarted.due(T0 + 2000) == []


def test_a_build_that_changes_nothing_followed_moves_the_baseline_on_silently(
    newsroom: Newsroom,
) -> None:
    state = SqliteState()
    followers = Followers(newsroom.engine, state, interval=0)
    followers.follow(ALICE, TALKS)
    newsroom.edit(f"{BUDGET}.md", "312 votes to 270", "313 votes to 269")
    assert followers.due(T0) == []
    assert state.get(ALICE, TOLD) == newsroom.engine.store.build_id
    newsroom.edit(SEED_FILE.name, "is expected to visit Russia", "will visit Moscow")
    [notice] = followers.due(T0)
    assert "313 votes" not in notice.html and "will visit Moscow" in notice.html


def test_a_released_claim_is_retried_and_a_gone_chat_is_told_nothing(newsroom: Newsroom) -> None:
    followers = Followers(newsroom.engine, SqliteState(), interval=600)
    followers.follow(ALICE)
    followers.follow(BOB)
    newsroom.edit(SEED_FILE.name, "is expected to visit Russia", "will visit Moscow")
    first = {n.chat_id: n for n in followers.due(T0)}
    followers.release(first[ALICE])  # a network failure: try again
    followers.gone(BOB)  # Forbidden: blocked the bot
    [again] = followers.due(T0 + 5)
    assert again.chat_id == ALICE and again.html == first[ALICE].html
    assert followers.chats() == [ALICE] and followers.followed(BOB) is None


def test_a_group_upgraded_to_a_supergroup_follows_on_under_its_new_id(newsroom: Newsroom) -> None:
    followers = Followers(newsroom.engine, SqliteState(), interval=600)
    followers.follow(BOB, TALKS)
    newsroom.edit(SEED_FILE.name, "is expected to visit Russia", "will visit Moscow")
    [notice] = followers.due(T0)
    followers.release(notice)
    followers.moved(BOB, CAROL)
    [moved] = followers.due(T0)
    assert moved.chat_id == CAROL and moved.html == notice.html
    assert followers.chats() == [CAROL] and followers.followed(CAROL) == TALKS


def test_follow_and_unfollow_reply_with_what_the_chat_is_now_told(newsroom: Newsroom) -> None:
    state = SqliteState()
    followers = Followers(newsroom.engine, state, interval=600)
    assert followers.follow(ALICE, "budget").startswith(
        "This chat will be told each update of “Parliament passes the 2026 budget”: what "
        "changed, each line cited, at most once every 10 minutes."
    )
    assert followers.follow(ALICE, "budget").startswith("This chat is already told each update")
    assert followers.follow(ALICE, "sourdough").startswith("No story matches “sourdough”.")
    assert followers.follow(ALICE, "2025").startswith("“2025” matches 2 stories.")
    assert followers.followed(ALICE) == BUDGET, "a refused choice keeps the old one"
    follow_story(state, BOB, TALKS)  # /story picked one: /follow follows it
    assert "“London talks”" in followers.follow(BOB)
    assert "the stories (2)" in followers.follow(CAROL)
    assert followers.unfollow(ALICE).startswith(
        "This chat will be told no more updates of “Parliament passes the 2026 budget”."
    )
    assert followers.unfollow(ALICE).startswith("This chat is not told of updates")
    assert followers.chats() == [BOB, CAROL]


class CountedState(SqliteState):
    """SQLite state that counts its reads."""

    reads = 0

    def get(self, chat_id: int, key: str) -> str | None:
        self.reads += 1
        return super().get(chat_id, key)


def test_once_every_chat_is_up_to_date_a_round_reads_no_state_until_a_new_build(
    newsroom: Newsroom,
) -> None:
    state = CountedState()
    followers = Followers(newsroom.engine, state, interval=600)
    for chat in (ALICE, BOB, CAROL):
        followers.follow(chat)
    newsroom.edit(SEED_FILE.name, "is expected to visit Russia", "will visit Moscow")
    assert len(followers.due(T0)) == 3
    state.reads = 0
    assert followers.due(T0 + 1) == [] and followers.due(T0 + 2) == []
    assert state.reads == 0, "every chat was told this build: nothing to read"
    newsroom.edit(SEED_FILE.name, "will visit Moscow", "will visit St. Petersburg")
    assert followers.due(T0 + 3) == [] and state.reads > 0, "a new build: every chat waits"
    state.reads = 0
    assert followers.due(T0 + 4) == [] and state.reads > 0, "chats that wait keep it scanning"
    assert len(followers.due(T0 + 601)) == 3


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (600, "at most once every 10 minutes"),
        (60, "at most once a minute"),
        (7200, "at most once every 2 hours"),
        (90, "at most once every 90 seconds"),
        (0, "as soon as it changes"),
    ],
)
def test_pace_says_the_interval_in_words(seconds: float, words: str) -> None:
    assert pace(seconds) == words
