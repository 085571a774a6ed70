"""The guard: which updates may reach the handlers at all, checked before any handler runs.

Installed as a PTB `TypeHandler` in handler group -1, so it sees every update first and stops
(`ApplicationHandlerStop`) the ones that must not go further:

1. a repeated update id (Telegram redelivers a webhook update whose answer it did not get);
2. a chat outside `STORYBOT_ALLOWED_CHATS`, silently, so a stranger learns nothing (a
   channel's posts are let in by `STORYBOT_CHANNELS` instead: `bot.telegram.channel`);
3. a user over the question budget (`STORYBOT_RATE_LIMIT` a minute): the first message over it
   gets one polite notice, the rest of that minute is dropped without a word.

Only messages the bot answers use budget: `addressed` decides, and the group handler answers by
the same function, so what is counted and what is answered cannot drift apart. Group chatter
(and a mention of another account, say `@storybot_fans`) passes through uncounted, so a chatty
group never trips the limit. Inline and button queries are not counted. Admins
(`STORYBOT_ADMINS`) pass every check. One worker keeps budgets and update ids in memory; with
`STORYBOT_REDIS_URL` they live in Redis (bot/shared.py), one budget for all workers.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from telegram import Bot, Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
SEEN_UPDATES = 4096
_PRUNE_AT = 10_000


class Verdict(Enum):
    """What the rate limit says about one more question."""

    ALLOW = "allow"
    NOTICE = "notice"  # over budget: tell the user once
    DROP = "drop"  # over budget, already told


@dataclass
class _Budget:
    stamps: deque[float] = field(default_factory=deque)
    noticed: float = -math.inf


class RateLimit:
    """At most `limit` questions per `window` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._budgets: dict[int, _Budget] = {}

    def take(self, key: int, now: float) -> Verdict:
        """Spend one question of `key`'s budget if there is one left."""
        if self.limit <= 0:
            return Verdict.ALLOW
        if len(self._budgets) > _PRUNE_AT:
            self._prune(now)
        budget = self._budgets.setdefault(key, _Budget())
        while budget.stamps and now - budget.stamps[0] >= self.window:
            budget.stamps.popleft()
        if len(budget.stamps) < self.limit:
            budget.stamps.append(now)
            return Verdict.ALLOW
        if now - budget.noticed >= self.window:
            budget.noticed = now
            return Verdict.NOTICE
        return Verdict.DROP

    def wait(self, key: int, now: float) -> float:
        """Seconds until `key` may ask again."""
        budget = self._budgets.get(key)
        if budget is None or len(budget.stamps) < self.limit:
            return 0.0
        return max(0.0, self.window - (now - budget.stamps[0]))

    def _prune(self, now: float) -> None:
        idle = [
            key
            for key, b in self._budgets.items()
            if (not b.stamps or now - b.stamps[-1] >= self.window)
            and now - b.noticed >= self.window
        ]
        for key in idle:
            del self._budgets[key]


class Limit(Protocol):
    """A rate limit: RateLimit in memory, or bot.shared.RedisRateLimit across workers."""

    def take(self, key: int, now: float) -> Verdict | str: ...

    def wait(self, key: int, now: float) -> float: ...


class Updates(Protocol):
    """Update ids already taken (bot.shared.RedisUpdates across workers)."""

    def repeated(self, update_id: int) -> bool: ...


class Counters(Protocol):
    """Counters summed across workers (bot.shared.RedisCounters)."""

    def add(self, name: str, amount: int = 1) -> None: ...


class Guard:
    """The allowlist, the admin list, the per-user rate limit and the repeated-update filter.

    One worker keeps the rate limit and the update ids in memory; several pass the shared
    (Redis) `limit`, `updates` and `shared_counts`, so a user's budget and an update's single
    answer hold across all of them.
    """

    def __init__(
        self,
        allowed_chats: Iterable[int] = (),
        admins: Iterable[int] = (),
        rate_limit: int = 0,
        clock: Callable[[], float] = time.monotonic,
        limit: Limit | None = None,
        updates: Updates | None = None,
        shared_counts: Counters | None = None,
    ) -> None:
        self.allowed_chats = frozenset(allowed_chats)
        self.admins = frozenset(admins)
        self.limit: Limit = limit or RateLimit(rate_limit)
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.updates, self.shared_counts = updates, shared_counts
        self._seen: deque[int] = deque(maxlen=SEEN_UPDATES)
        self._seen_set: set[int] = set()

    def count(self, name: str) -> None:
        """One more of `name`, in this worker's counts and the shared ones."""
        self.counts[name] += 1
        if self.shared_counts is not None:
            self.shared_counts.add(name)

    def repeated(self, update_id: int) -> bool:
        """True if this update id was seen recently (and remember it otherwise).

        This worker's own memory is always kept too: with the shared record away (Redis down,
        which fails open), a redelivery to the same worker is still caught.
        """
        here = self._seen_here(update_id)
        if self.updates is not None:
            return self.updates.repeated(update_id) or here
        return here

    def _seen_here(self, update_id: int) -> bool:
        if update_id in self._seen_set:
            return True
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(update_id)
        self._seen_set.add(update_id)
        return False

    def is_admin(self, user_id: int | None) -> bool:
        """Whether `user_id` is on the admin list."""
        return user_id is not None and user_id in self.admins

    def allows(self, chat_id: int | None, user_id: int | None) -> bool:
        """Whether the allowlist lets this chat (or, for chatless updates, this user) in."""
        if not self.allowed_chats or self.is_admin(user_id):
            return True
        key = chat_id if chat_id is not None else user_id
        return key is not None and key in self.allowed_chats


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """True when `message` is a reply to one of the bot's own messages."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def addressed(message: Message, bot: Bot) -> bool:
    """Whether the bot answers this text message: the one test both the rate limit (only what
    the bot answers spends budget) and the group handler (`handlers.group_text`) apply.

    Any text in a private chat. In a group: a command with no `@name` or with the bot's, a reply
    to one of the bot's messages, or a mention of exactly the bot's username. Usernames are
    case-insensitive; a longer one that starts with the bot's (`@storybot_fans`) is someone else.
    """
    if not message.text:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    me = f"@{bot.username}".lower() if bot.username else None
    first = message.entities[0] if message.entities else None
    if first is not None and first.type == MessageEntityType.BOT_COMMAND and first.offset == 0:
        # A command as PTB's CommandHandler and filters.COMMAND see it: an entity at the start.
        target = message.parse_entity(first).partition("@")[2]
        return not target or f"@{target}".lower() == me
    if replies_to_bot(message, bot.id):
        return True
    # Telegram's mention entities span whole usernames, so equality is an exact-name match.
    mentions = message.parse_entities([MessageEntityType.MENTION]).values()
    return me is not None and any(mention.lower() == me for mention in mentions)


def notice_text(wait: float) -> str:
    """The polite over-the-limit notice."""
    seconds = max(1, math.ceil(wait))
    return (
        "You're asking faster than I can keep up. "
        f"Please wait about {seconds} second{'s' if seconds != 1 else ''} and ask again."
    )


async def check_update(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop repeated, unwelcome and over-the-limit updates before any handler sees them."""
    if not isinstance(update, Update):
        return
    guard: Guard = context.bot_data["guard"]
    if guard.repeated(update.update_id):
        guard.count("repeated")
        log.info("dropped repeated update %s", update.update_id)
        raise ApplicationHandlerStop
    chat, user = update.effective_chat, update.effective_user
    chat_id, user_id = (chat.id if chat else None), (user.id if user else None)
    # A channel's posts are let in by STORYBOT_CHANNELS (bot.telegram.channel), not by the
    # allowlist of the chats the bot serves.
    from_channel = update.channel_post or update.edited_channel_post
    if from_channel is None and not guard.allows(chat_id, user_id):
        guard.count("not_allowed")
        log.info("ignored an update from chat %s (not in STORYBOT_ALLOWED_CHATS)", chat_id)
        raise ApplicationHandlerStop
    message = update.message or update.edited_message
    if guard.is_admin(user_id) or message is None or not addressed(message, context.bot):
        return
    key = user_id if user_id is not None else chat_id
    assert key is not None  # an addressed message always has a chat
    now = guard.clock()
    verdict = Verdict(guard.limit.take(key, now))
    if verdict is Verdict.ALLOW:
        guard.count("allowed")
        return
    guard.count("limited")
    if verdict is Verdict.NOTICE:
        guard.count("noticed")
        log.info("user %s is over the rate limit; sent one notice", key)
        try:
            await message.reply_text(notice_text(guard.limit.wait(key, now)), do_quote=True)
        except TelegramError as exc:  # the notice is a courtesy; never fail the update over it
            log.warning("could not send the rate-limit notice: %s", exc)
    raise ApplicationHandlerStop


def install_guard(
    application: Application,
    allowed_chats: Iterable[int] = (),
    admins: Iterable[int] = (),
    rate_limit: int = 0,
    limit: Limit | None = None,
    updates: Updates | None = None,
    shared_counts: Counters | None = None,
) -> Guard:
    """Create the Guard, keep it in `bot_data["guard"]` and run it before every handler."""
    guard = Guard(
        allowed_chats,
        admins,
        rate_limit,
        limit=limit,
        updates=updates,
        shared_counts=shared_counts,
    )
    application.bot_data["guard"] = guard
    application.add_handler(TypeHandler(Update, check_update), group=-1)
    return guard
