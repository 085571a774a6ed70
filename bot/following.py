"""Followers: the chats that asked (`/follow [story]`) to be told when a story changes, and what
each is told, when.

When a build changes a story a chat follows, the chat gets one message: its `/whatsnew` for
that story since the build it was last told about (or followed at), each line cited, with a
header naming the story. At most one message per `interval` seconds per chat: updates that
arrive in between wait and go out together, as the changes since the chat's baseline.

Everything lives in the per-chat state (`bot.state.ChatState`), so a restart resumes where it
stopped and several workers share it:

- `follows`: the followed story's id, or `*` for every story; empty: not following;
- `follow_told`: the build the chat was last told about, the baseline of its next update;
- `follow_posted`: when the chat was last sent an update (Unix time).

The chats that follow anything are the ChatState set `followers` (`enlist` / `members`: a
table in SQLite, a sorted set in Redis), changed one member at a time in one step, so two
workers enlisting chats at the same instant both count.

`due` claims each update before it is sent: the chat's new baseline is swapped in first, so a
restart or a second worker never posts it twice (a crash in the moment between the claim and
the send loses that one update rather than repeating it). `release` gives the claim back when
a send failed and may be retried; `gone` unfollows a chat that blocked the bot or was deleted,
so it is not retried forever.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from markupsafe import Markup

from bot.answer import Answer
from bot.engine import Engine
from bot.state import ChatState, followed_story
from bot.templates import render
from index.errors import UnknownBuild
from index.stories import quoted_ref

log = logging.getLogger(__name__)

FOLLOWS = "follows"
TOLD = "follow_told"
POSTED = "follow_posted"
EVERY_STORY = "*"
ALL_WORDS = frozenset({"all", "every", "any", "*"})
REGISTRY = "followers"  # the set of following chats (ChatState.enlist / members)


@dataclass(frozen=True)
class Notice:
    """One update to post: to which chat, the message, and the claim `release` gives back."""

    chat_id: int
    html: str
    answer: Answer
    build: str  # the chat's baseline once this is sent
    since: str  # its baseline before
    posted: str | None  # when it was last sent an update before this one


def pace(interval: float) -> str:
    """How often a chat hears, in words: `600` → `at most once every 10 minutes`."""
    if interval <= 0:
        return "as soon as it changes"
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if interval >= size and interval % size == 0:
            n = int(interval // size)
            return f"at most once every {n} {unit}s" if n > 1 else f"at most once a {unit}"
    return f"at most once every {interval:g} seconds"


def reply(
    kind: str, story: str | None = None, count: int = 0, pace: str = "", ref: str = ""
) -> str:
    """A reply to /follow or /unfollow (`prompts/follow.html.j2`): `followed`, `already`,
    `unfollowed`, `not_following`, `unknown` or `several` (the story asked for), or `refused`
    (not a group admin)."""
    return render("follow", kind=kind, story=story, count=count, pace=pace, ref=ref)


class Followers:
    """Who follows what, what each chat is told next, and when."""

    def __init__(self, engine: Engine, state: ChatState, interval: float) -> None:
        self.engine, self.state, self.interval = engine, state, interval
        # Every chat is up to date with this build, none waits: the next round can skip the
        # scan (three state reads per following chat) until a new build is served.
        self._settled: str | None = None

    # ------------------------------------------------------------------ who follows what
    def chats(self) -> list[int]:
        """The chats that follow something, in the order they started."""
        return self.state.members(REGISTRY)

    def _enlist(self, chat_id: int, present: bool) -> None:
        # One step in the state (a set), so two workers enlisting at once both count.
        self.state.enlist(REGISTRY, chat_id, present)

    def followed(self, chat_id: int) -> str | None:
        """The id of the story the chat follows, `*` for every story, or None."""
        return self.state.get(chat_id, FOLLOWS) or None

    def _label(self, followed: str) -> str | None:
        story = self.engine.catalog.get(followed) if followed != EVERY_STORY else None
        return story.label if story else None

    def follow(self, chat_id: int, ref: str = "") -> str:
        """`/follow [story]`: the chat is told each update of that story (no story: the one
        the chat picked with /story, else every story). Returns the reply."""
        ref = " ".join(ref.split())
        catalog = self.engine.catalog
        if not ref:
            picked = followed_story(self.state, chat_id)
            target = picked if picked and catalog.get(picked) else EVERY_STORY
        elif ref.casefold() in ALL_WORDS:
            target = EVERY_STORY
        else:
            found = catalog.find(ref)
            if len(found) != 1:
                kind = "several" if found else "unknown"
                return reply(kind, ref=quoted_ref(ref), count=len(found))
            target = found[0].id
        story, count, how = self._label(target), len(catalog), pace(self.interval)
        if self.followed(chat_id) == target:
            return reply("already", story=story, count=count, pace=how)
        # From now on: what changed before the chat asked is /whatsnew's, not an update.
        self.state.put(chat_id, TOLD, self.engine.store.build_id)
        self.state.put(chat_id, FOLLOWS, target)
        self._enlist(chat_id, True)
        return reply("followed", story=story, count=count, pace=how)

    def unfollow(self, chat_id: int) -> str:
        """`/unfollow`: no more updates in this chat. Returns the reply."""
        followed = self.followed(chat_id)
        self.gone(chat_id)
        story = self._label(followed) if followed else None
        return reply("unfollowed" if followed else "not_following", story=story)

    def gone(self, chat_id: int) -> None:
        """Stop following in this chat (it asked, blocked the bot, or no longer exists)."""
        self.state.put(chat_id, FOLLOWS, "")
        self._enlist(chat_id, False)

    def moved(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup with a new id: it follows on under that id."""
        self._settled = None
        followed = self.followed(chat_id)
        if followed:
            for key in (TOLD, POSTED):
                value = self.state.get(chat_id, key)
                if value is not None:
                    self.state.put(new_chat_id, key, value)
            self.state.put(new_chat_id, FOLLOWS, followed)
            self._enlist(new_chat_id, True)
        self.gone(chat_id)

    # ------------------------------------------------------------------ what to tell, when
    def due(self, now: float | None = None) -> list[Notice]:
        """The updates to post now, each claimed (see the module docstring).

        A chat is due when a build after its baseline changed what it follows and it was sent
        nothing in the last `interval` seconds; a build that changed nothing it follows moves
        its baseline on silently.
        """
        now = time.time() if now is None else now
        served = self.engine.store.build_id
        if served == self._settled:
            return []
        asked: dict[tuple[str, str], Answer] = {}  # chats with the same baseline share one
        notices = []
        waiting = False
        for chat_id in self.chats():
            followed = self.followed(chat_id)
            told = self.state.get(chat_id, TOLD) or ""
            if not followed or told >= served:  # build ids sort by time
                continue
            posted = self.state.get(chat_id, POSTED)
            if posted and now - float(posted) < self.interval:
                waiting = True  # it goes out later, merged with whatever else comes
                continue
            story = self.engine.catalog.get(followed) if followed != EVERY_STORY else None
            if followed != EVERY_STORY and story is None:
                continue  # not in this build; its updates resume if it comes back
            answer = asked.get((told, followed))
            if answer is None:
                try:
                    answer = self.engine.whatsnew(told, [story] if story else [])
                except UnknownBuild:
                    log.warning(
                        "chat %s had no usable baseline %r; starting from now", chat_id, told
                    )
                    self.state.put(chat_id, TOLD, served)
                    continue
                asked[(told, followed)] = answer
            build = str(answer.extra["build"])
            if not answer.citations:
                self.state.put(chat_id, TOLD, build)
                continue
            claimed = self.state.swap(chat_id, TOLD, build)
            if claimed != told:  # another worker told it first (or the state is away)
                if claimed is not None and claimed > build:
                    self.state.put(chat_id, TOLD, claimed)  # never move a baseline back
                continue
            self.state.put(chat_id, POSTED, repr(now))
            notices.append(Notice(chat_id, self._render(answer), answer, build, told, posted))
        self._settled = None if waiting else served
        return notices

    def release(self, notice: Notice) -> None:
        """The update was not sent and may be retried: its claim goes back."""
        if self.state.get(notice.chat_id, TOLD) == notice.build:
            self.state.put(notice.chat_id, TOLD, notice.since)
            self.state.put(notice.chat_id, POSTED, notice.posted or "")
        self._settled = None

    def _render(self, answer: Answer) -> str:
        catalog = self.engine.catalog
        labels = [s.label for i in answer.extra["stories"] if (s := catalog.get(i)) is not None]
        # The what's-new list is rendered (and escaped) already.
        return render("follow_update", stories=labels, whatsnew=Markup(answer.text))
