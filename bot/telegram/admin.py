"""Admin commands: only users listed in `STORYBOT_ADMINS` may run them.

`/asked [story]` shows what readers asked that the story does not answer, near-duplicates
grouped, and the quotes they marked 👎 (bot.asked_report): for the story named, else the one
the chat follows (`/story`), else every story asked about.

`/status` shows which index build is serving and the guard's and delivery's counters, so an
operator can see from the chat whether questions are being limited, refused or retried; with
several workers (STORYBOT_REDIS_URL), the guard's counters summed over all of them and each
live worker's build and health (one that cannot read a new build says so). It is
not in the public command menu. Anyone else who sends it is told, briefly, that it is not theirs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from html import escape

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.asked import AskedLog
from bot.asked_report import render_report, report
from bot.engine import Engine
from bot.shared import Shared
from bot.state import followed_story
from bot.telegram.delivery import RetryingLimiter
from bot.telegram.guard import Guard
from bot.telegram.handlers import send_html

NOT_ADMIN = "Sorry, that command is only for the bot's admins."


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "none yet"


async def admins_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Message | None:
    """The command's message if an admin sent it; anyone else is told it is not theirs."""
    message, user = update.effective_message, update.effective_user
    if message is None:
        return None
    guard: Guard | None = context.bot_data.get("guard")
    if guard is None or not guard.is_admin(user.id if user else None):
        await message.reply_text(NOT_ADMIN, do_quote=True)
        return None
    return message


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the serving index and the guard/delivery counters (admins only)."""
    message = await admins_only(update, context)
    if message is None:
        return
    guard: Guard = context.bot_data["guard"]
    engine: Engine = context.bot_data["engine"]
    store = engine.store
    lines = [
        f"<b>Index</b> {escape(store.build_id)}: {len(store.articles)} stories, "
        f"{len(store.sentences)} sentences",
    ]
    if engine.problem:
        lines.append(f"<b>Not served</b> {escape(engine.problem)}")
    shared: Shared | None = context.bot_data.get("shared")
    if shared is None:
        lines.append(f"<b>Guard</b> {escape(_counts(guard.counts))}")
    else:
        totals, workers = await asyncio.to_thread(
            lambda: (shared.counters.totals(), shared.counters.workers())
        )
        lines.append(f"<b>Guard, all workers</b> {escape(_counts(Counter(totals)))}")
        lines.append(f"<b>Guard, this worker</b> {escape(_counts(guard.counts))}")
        for name, beat in sorted(workers.items()):
            me = " (this one)" if name == shared.counters.worker else ""
            lines.append(
                f"<b>Worker</b> {escape(name)}{me}: build {escape(str(beat.get('build')))}, "
                f"{escape(str(beat.get('status')))}"
            )
    limiter = context.bot.rate_limiter
    if isinstance(limiter, RetryingLimiter):
        lines.append(f"<b>Delivery</b> {escape(_counts(limiter.counts))}")
    await message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML, do_quote=True)


async def asked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with what readers asked that a story does not answer (admins only)."""
    message = await admins_only(update, context)
    if message is None:
        return
    engine: Engine = context.bot_data["engine"]
    log: AskedLog = context.bot_data["asked"]
    ref = " ".join(context.args or [])
    if ref:
        stories = engine.catalog.find(ref)
        if len(stories) != 1:
            what = f"matches {len(stories)} stories" if stories else "matches no story"
            await send_html(message, f"“{escape(ref)}” {what}; /story lists them.")
            return
    else:
        stories = []
    state, chat_id = context.bot_data["state"], message.chat_id

    def reported() -> str:
        followed = None if ref else followed_story(state, chat_id)
        story = engine.catalog.get(followed) if followed else None
        found = report(log, engine.encoder, engine.catalog, [story] if story else stories)
        return render_report(found, log.days)

    await send_html(message, await asyncio.to_thread(reported))
