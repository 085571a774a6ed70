"""The Telegram application: `build_application()` wires the handlers, `run_bot()` polls or
serves the webhook (`bot/telegram/webhook.py`).

The index is loaded once before the application is built and kept in `bot_data`; a background
task swaps in a newly built index without a restart. With STORYBOT_REDIS_URL the worker shares
its state, rate limits and update ids with the others (bot/shared.py), loads each build the
builder publishes as soon as it is announced, never builds itself, and beats a heartbeat.

Start-up first checks the token's shape (a malformed one is refused before anything loads or
connects), then `connect()` reaches the Bot API with bounded exponential backoff: while it is
unreachable, each retry is one log line saying why and when the next try is, never a traceback,
and Ctrl-C or SIGTERM during the wait stops the bot cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import signal
import socket
import ssl
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update

# InvalidToken is re-exported so that the CLI can tell a rejected token apart without PTB.
from telegram.error import InvalidToken as InvalidToken
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.actions import BUTTON_PREFIXES
from bot.engine import Engine, open_engine
from bot.followup import RECORD_PREFIX
from bot.settings import MAX_CONNECT_WAIT, BotSettings
from bot.shared import CHAT_TTL_SECONDS, HEARTBEAT_SECONDS, BuildFollower, Shared
from bot.state import SqliteState
from bot.telegram import admin, handlers
from bot.telegram.buttons import install_buttons
from bot.telegram.channel import install_channel
from bot.telegram.comments import install_comments
from bot.telegram.delivery import RetryingLimiter, flood_share
from bot.telegram.followers import install_followers, tell_followers
from bot.telegram.guard import install_guard
from bot.telegram.redact import redact, redact_in_logs
from bot.telegram.request import TolerantRequest
from bot.telegram.webhook import serve_webhook
from index.errors import BadSettings, TelegramUnreachable

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("ask", "Ask a question about the story"),
    BotCommand("summary", "A short cited summary, optionally on a topic"),
    BotCommand("whatsnew", "What the latest updates of the story added or changed"),
    BotCommand("story", "List the stories, or pick the one this chat follows"),
    BotCommand("follow", "Be told here each time the story is updated"),
    BotCommand("unfollow", "No more updates here"),
    BotCommand("comments", "In a channel's discussion group: answer every comment (admins)"),
    BotCommand("help", "How to use this bot"),
]
RELOAD_SECONDS = 5.0
# Fewer updates in flight than HTTP connections (64), so that under a burst a reply never waits
# for a free connection past the pool timeout; further updates wait in PTB's queue instead.
CONCURRENT_UPDATES = 32


async def watch_index(application: Application) -> None:
    """Poll for a newly built index and swap it in (loaded off the event loop)."""
    engine: Engine = application.bot_data["engine"]
    while True:
        await asyncio.sleep(RELOAD_SECONDS)
        try:
            await asyncio.to_thread(engine.reload_if_changed)
        except Exception:  # keep serving the old index whatever the new one does
            log.exception("index reload failed")


async def heartbeat(application: Application, shared: Shared) -> None:
    """Tell the other workers (and /status) this one is alive, its build and its trouble."""
    engine: Engine = application.bot_data["engine"]
    while True:
        status = engine.problem or "serving"
        await asyncio.to_thread(shared.counters.heartbeat, engine.store.build_id, status)
        await asyncio.sleep(HEARTBEAT_SECONDS / 3)


async def post_init(application: Application) -> None:
    """Register the command menu and start watching the index (and, with Redis, heartbeats
    and the builder's announcements of new builds)."""
    try:
        await application.bot.set_my_commands(COMMANDS)
    except TelegramError as exc:  # a Bot API server without the menu API still gets answers
        log.warning("could not register the command menu: %s", exc)
    tasks = [
        asyncio.create_task(watch_index(application)),
        asyncio.create_task(tell_followers(application)),
    ]
    shared: Shared | None = application.bot_data.get("shared")
    if shared is not None:
        tasks.append(asyncio.create_task(heartbeat(application, shared)))
        engine: Engine = application.bot_data["engine"]
        # Loads a published build at once; the watcher's polling is the fallback.
        application.bot_data["follower"] = BuildFollower(
            shared.client, lambda _build: engine.reload_if_changed(), prefix=shared.prefix
        ).start()
    application.bot_data["tasks"] = tasks


async def post_shutdown(application: Application) -> None:
    """Stop the index watcher, the heartbeat and the build follower; close the state."""
    # The follower and the heartbeat first: closing Redis under them ended the follower's
    # thread with a traceback at every shutdown.
    follower = application.bot_data.pop("follower", None)
    if follower is not None:
        await asyncio.to_thread(follower.stop)
    for task in application.bot_data.pop("tasks", []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    application.bot_data["state"].close()
    asked = application.bot_data.get("asked")
    if asked is not None:
        asked.close()
    shared: Shared | None = application.bot_data.get("shared")
    if shared is not None:
        shared.close()


def why_unreachable(exc: BaseException) -> str:
    """A failed Bot API call's cause in a few words: `connection refused`, `timed out`, …

    PTB wraps httpx's error, which wraps httpcore's, which wraps the socket's; the socket's says
    what a reader can act on, so the chain is searched for it.
    """
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, ConnectionResetError):
            return "connection reset"
        if isinstance(error, socket.gaierror):
            return "host not found"
        if isinstance(error, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(error, TimedOut | TimeoutError):
            return "timed out"
    return redact(str(chain[-1]) or type(chain[-1]).__name__)


def _seconds(delay: float) -> str:
    """`2.0` → `2 s`, `0.05` → `0.05 s`."""
    return f"{delay:.3g} s"


async def connect(application: Application, settings: BotSettings) -> None:
    """Initialize the application (its getMe), retrying while the Bot API is unreachable.

    Each retry logs one line with the cause and the wait before the next try; the waits double
    from `connect_backoff` up to MAX_CONNECT_WAIT. Raises TelegramUnreachable after
    `connect_retries` retries; InvalidToken is raised at once (retrying cannot fix it).
    """
    url = redact(settings.api_urls()[0].removesuffix("/bot"))
    tries = settings.connect_retries + 1
    for attempt in range(1, tries + 1):
        try:
            await application.initialize()
            return
        except InvalidToken:
            raise
        except NetworkError as exc:  # includes TimedOut; a 5xx answer is a NetworkError too
            reason = why_unreachable(exc)
        if attempt == tries:
            raise TelegramUnreachable(
                f"Telegram unreachable at {url} ({reason}); gave up after {tries} "
                f"{'try' if tries == 1 else 'tries'} (check TELEGRAM_BASE_URL and the network)"
            )
        wait = min(MAX_CONNECT_WAIT, settings.connect_backoff * 2 ** (attempt - 1))
        log.warning("Telegram unreachable at %s (%s); retrying in %s", url, reason, _seconds(wait))
        await asyncio.sleep(wait)


def _until_stopped(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> bool:
    """Run `work` on `loop`; False if SIGINT or SIGTERM cancelled it first."""
    task = loop.create_task(work)
    stops = (signal.SIGINT, signal.SIGTERM)
    for stop in stops:
        loop.add_signal_handler(stop, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        return False
    finally:
        for stop in stops:
            loop.remove_signal_handler(stop)
    return True


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """PTB's own polling failing in the network gets one line (PTB retries it with growing
    waits); every other error goes to handlers.error_handler."""
    if update is None and isinstance(context.error, NetworkError):
        url = context.bot_data["settings"].api_urls()[0].removesuffix("/bot")
        reason = why_unreachable(context.error)
        log.warning("Telegram unreachable at %s (%s) while polling; retrying", url, reason)
        return
    await handlers.error_handler(update, context)


def build_application(settings: BotSettings, engine: Engine) -> Application:
    """The PTB Application with every handler wired, talking to the configured Bot API.

    Raises BadToken when the token is missing or cannot be a bot token.
    """
    token = settings.bot_token()
    quiet_logs(token)
    base_url, base_file_url = settings.api_urls()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .request(TolerantRequest(connection_pool_size=64))
        .get_updates_request(TolerantRequest())
        .rate_limiter(RetryingLimiter(**flood_share(settings.workers)))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["engine"] = engine
    application.bot_data["settings"] = settings
    if settings.redis_url is not None:
        shared = Shared.connect(
            settings.redis_url.get_secret_value(),
            settings.rate_limit,
            settings.redis_prefix,
            expiring={
                RECORD_PREFIX: CHAT_TTL_SECONDS,
                **dict.fromkeys(BUTTON_PREFIXES, math.ceil(settings.button_expiry)),
            },
        )
        application.bot_data["shared"] = shared
        application.bot_data["state"] = shared.state
        install_guard(
            application,
            settings.allowed_chats,
            settings.admins,
            limit=shared.limit,
            updates=shared.updates,
            shared_counts=shared.counters,
        )
    else:
        application.bot_data["state"] = SqliteState(settings.state)
        install_guard(application, settings.allowed_chats, settings.admins, settings.rate_limit)
    # First: channel posts become stories, and comments on them are answered from their post;
    # what is neither goes on to the handlers below.
    install_channel(application, settings, engine)
    install_comments(application)
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler(["start", "help"], handlers.start))
    application.add_handler(CommandHandler("ask", handlers.ask))
    application.add_handler(CommandHandler("summary", handlers.summary))
    application.add_handler(CommandHandler("whatsnew", handlers.whatsnew))
    install_followers(application, engine, application.bot_data["state"], settings.follow_interval)
    install_buttons(
        application,
        engine,
        application.bot_data["state"],
        settings,
        application.bot_data.get("shared"),
    )
    application.add_handler(InlineQueryHandler(handlers.inline_query))
    application.add_handler(CommandHandler("status", admin.status))
    application.add_handler(CommandHandler("asked", admin.asked))
    application.add_handler(
        MessageHandler(private & filters.TEXT & ~filters.COMMAND, handlers.private_text)
    )
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, handlers.group_text
        )
    )
    # Last: /story and unknown commands, read by the same parser as every other message.
    application.add_handler(
        MessageHandler((private | filters.ChatType.GROUPS) & filters.COMMAND, handlers.command)
    )
    application.add_error_handler(on_error)
    return application


def quiet_logs(token: str) -> None:
    """The token masked in every log line and traceback, and httpx's per-request lines (which
    carry the token in their URLs) muted: whoever builds the application or logs for it."""
    redact_in_logs(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def configure_logging(settings: BotSettings) -> None:
    """Plain logging to stderr, quieted as `quiet_logs` says."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO
    )
    quiet_logs(settings.token.get_secret_value() if settings.token is not None else "")


def webhook_options(settings: BotSettings) -> dict[str, Any]:
    """`serve_webhook`'s options: listen on $PORT at the URL's path, with a secret.

    Without `STORYBOT_WEBHOOK_SECRET` a random secret is made per start (Telegram is told it
    by `setWebhook`), so a forged POST without it is refused; it is never logged. Several
    workers (STORYBOT_REDIS_URL) must share one: BadSettings without it.
    """
    assert settings.webhook_url, "webhook mode needs STORYBOT_WEBHOOK_URL"
    if settings.webhook_secret is None and settings.redis_url is not None:
        raise BadSettings(
            "STORYBOT_WEBHOOK_SECRET must be set when STORYBOT_REDIS_URL is: every worker "
            "calls setWebhook, and with a secret of its own each would lock the others out"
        )
    secret = (
        settings.webhook_secret.get_secret_value()
        if settings.webhook_secret
        else secrets.token_urlsafe(32)
    )
    redact_in_logs(secret)
    # Every worker calls setWebhook with exactly these arguments, so whichever runs last
    # leaves Telegram configured the same way.
    return {
        "listen": settings.webhook_listen,
        "max_connections": settings.webhook_max_connections,
        "port": settings.port,
        "url_path": urlsplit(settings.webhook_url).path.lstrip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def run_bot(settings: BotSettings) -> None:
    """Load the index, then serve Telegram (webhook or long polling) until interrupted.

    Raises BadToken (before loading anything) and TelegramUnreachable.
    """
    settings.bot_token()  # a malformed token is refused before the index loads
    if settings.webhook_url:
        webhook_options(settings)  # and a missing shared secret, before anything loads
    configure_logging(settings)
    # PTB 22 deprecates int seconds for retry_after and friends; opt in to timedelta now.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    # Beside a builder (Redis configured) a worker never builds: it serves what was published.
    engine = open_engine(settings, build_missing=settings.redis_url is None, say=log.info)
    engine.encoder.encode(["warm up"])  # load the model now, not on the first reader's question
    application = build_application(settings, engine)
    # run_polling and serve_webhook run on the current event loop, and run_polling skips
    # initialize() once it has succeeded, so connecting on that loop first leaves PTB's HTTP
    # clients valid.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        connected = _until_stopped(loop, connect(application, settings))
    except BaseException:
        loop.run_until_complete(post_shutdown(application))
        loop.close()
        raise
    if not connected:
        log.info("storybot stopped before Telegram answered")
        loop.run_until_complete(post_shutdown(application))
        loop.close()
        return
    if settings.webhook_url:
        options = webhook_options(settings)
        log.info("storybot is listening for webhook calls on port %s", options["port"])
        try:
            _until_stopped(loop, serve_webhook(application, options))
        except TelegramError as exc:  # setWebhook refused: the URL, most likely
            raise BadSettings(
                f"Telegram refused the webhook {settings.webhook_url} ({exc}); check "
                "STORYBOT_WEBHOOK_URL"
            ) from None
        finally:
            loop.close()
        return
    log.info("storybot is polling %s", settings.api_urls()[0])
    application.run_polling(allowed_updates=Update.ALL_TYPES)
