"""Delivery: every Bot API call except getUpdates is flood-limited, retried, and repaired once.

`RetryingLimiter` is PTB's `AIORateLimiter` (Telegram's flood limits: 30 messages a second
overall, 20 a minute per group; a 429 `retry_after` pauses every request, then retries) plus:

- retries with exponential backoff and jitter, a bounded number of times, when the call failed
  in the network or on Telegram's side: a timeout, a reset connection, a 5xx answer;
- one repaired retry for two 400s that would otherwise lose an answer: HTML that Telegram cannot
  parse is resent as plain text, and a reply whose question was deleted is sent without the quote.

Other 4xx (a blocked bot, a bad chat id) are final and raised at once. getUpdates never comes
here: PTB's updater has its own retry loop for it, and confirms updates by offset. getMe, the
start-up call, is not retried here either: `app.connect` retries it, one log line per try.

The flood limits are per process, Telegram's per bot token: N workers sharing a token each take
1/N of them (`flood_share`, STORYBOT_WORKERS), so that together they stay under Telegram's.
A balancer that spreads updates evenly gives each worker about 1/N of every group's messages too.

Policy on duplicates: the Bot API has no idempotency key, so a request whose answer was lost (a
read timeout, a reset after the request was sent) is ambiguous. It is retried: a reply sent twice
in that rare case is better than a question never answered. Failures before anything reached
Telegram (connect errors, 5xx, 429) cannot duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypedDict

from telegram.constants import FloodLimit
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter

from bot.templates import to_plain

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, JSONResult]]

_UNPARSABLE = "can't parse entities"
_REPLY_GONE = ("message to be replied not found", "replied message not found")
_RETRIED_BY_CALLER = frozenset({"getMe"})


class FloodLimits(TypedDict):
    """AIORateLimiter's arguments: so many messages per so many seconds, overall and per group."""

    overall_max_rate: float
    overall_time_period: float
    group_max_rate: float
    group_time_period: float


def flood_share(workers: int) -> FloodLimits:
    """AIORateLimiter's limits for one of `workers` workers sharing a bot token: 1/N of
    Telegram's 30 messages a second and 20 a minute per group.

    A limiter holds at least one message, so a share under one per period is one per a longer
    period: flood_share(40) allows 1 message per 1.33 s and 1 per group per 120 s.
    """

    def share(limit: float, period: float) -> tuple[float, float]:
        rate = max(1.0, limit / workers)
        return rate, period * rate * workers / limit

    overall = share(FloodLimit.MESSAGES_PER_SECOND, 1.0)
    group = share(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP, 60.0)
    return FloodLimits(
        overall_max_rate=overall[0],
        overall_time_period=overall[1],
        group_max_rate=group[0],
        group_time_period=group[1],
    )


class RetryingLimiter(AIORateLimiter):
    """AIORateLimiter that also retries network and 5xx failures and repairs two 400s.

    Args:
        attempts: tries per call for network/5xx failures (1 = no retry).
        backoff: first wait in seconds; it doubles per retry, up to `max_backoff`, with jitter.
        retry_after_retries: how often a 429 is waited out before giving up.
        read_timeout: seconds to wait for Telegram's answer, unless a call sets its own.
    """

    def __init__(
        self,
        attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        retry_after_retries: int = 3,
        read_timeout: float | None = None,
        **limits: Any,
    ) -> None:
        super().__init__(max_retries=retry_after_retries, **limits)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.read_timeout = read_timeout
        self.counts: Counter[str] = Counter()

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based): exponential, half jittered."""
        full = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return full / 2 + random.uniform(0, full / 2)

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Send through the flood limiter; retry transient failures; repair two 400s once."""
        # PTB passes a DefaultValue placeholder unless the caller chose a number of seconds.
        chosen = kwargs.get("read_timeout")
        if self.read_timeout is not None and not isinstance(chosen, int | float):
            kwargs = {**kwargs, "read_timeout": self.read_timeout}

        async def counted(*a: Any, **kw: Any) -> JSONResult:
            try:
                return await callback(*a, **kw)
            except RetryAfter:
                self.counts["retry_after"] += 1
                raise

        repaired = False
        failures = 0
        while True:
            try:
                result = await super().process_request(
                    counted, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest as exc:
                if repaired or not self._repair(endpoint, data, exc):
                    raise
                repaired = True
                continue
            except NetworkError as exc:
                if endpoint in _RETRIED_BY_CALLER:
                    raise
                failures += 1
                kind = "timeout" if isinstance(exc, TimedOut) else "network"
                if failures >= self.attempts:
                    self.counts[f"gave_up_{kind}"] += 1
                    log.error("Bot API %s failed %d times, giving up: %s", endpoint, failures, exc)
                    raise
                self.counts[kind] += 1
                wait = self.delay(failures)
                log.warning(
                    "Bot API %s failed (%s: %s); retry %d of %d in %.2fs",
                    endpoint,
                    type(exc).__name__,
                    exc,
                    failures,
                    self.attempts - 1,
                    wait,
                )
                await asyncio.sleep(wait)
                continue
            self.counts["ok"] += 1
            return result

    def _repair(self, endpoint: str, data: dict[str, Any], exc: BadRequest) -> bool:
        """Change `data` so that a retry can succeed; False if this 400 is final."""
        message = exc.message.lower()
        if _UNPARSABLE in message and data.get("parse_mode") and isinstance(data.get("text"), str):
            log.error("Telegram could not parse our HTML (%s); sending it as plain text", exc)
            data.pop("parse_mode")
            data["text"] = to_plain(data["text"]).strip() or "…"
            self.counts["repaired_html"] += 1
            return True
        if any(gone in message for gone in _REPLY_GONE) and (
            data.pop("reply_parameters", None) or data.pop("reply_to_message_id", None)
        ):
            log.info("the question was deleted before %s; sending without the quote", endpoint)
            self.counts["repaired_reply"] += 1
            return True
        return False
