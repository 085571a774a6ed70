"""Telegram handlers: thin async functions that read the question, answer it, and reply.

Private chat: any text is a question. Groups (privacy mode on): `/ask question` (also
`/ask@botname`), a reply to one of the bot's messages, or a message that mentions the bot; the
bot says nothing in a group unless addressed. A reply to one of its answers is a follow-up, read
with the earlier question (`bot.followup`). `/summary` has a per-chat cooldown in groups; the
first request during it gets one short note, later ones are ignored until it ends.
Answering runs in a worker thread (the encoder and the reader release the GIL while they
compute, so the event loop keeps serving other chats).
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.answer import Answer, topics
from bot.engine import Engine
from bot.followup import Earlier, follow_up, recall, remember
from bot.state import ChatState
from bot.telegram.guard import addressed, replies_to_bot
from bot.telegram.inline import CACHE_SECONDS, DECLINED_BUTTON, EMPTY_BUTTON, inline_results
from bot.telegram.telegram_text import split_message
from bot.templates import render
from index.splitter import sentence_key
from index.summary import MAX_SENTENCES

log = logging.getLogger(__name__)

SEEN_BUILD = "seen_build"
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


def engine_of(context: ContextTypes.DEFAULT_TYPE) -> Engine:
    """The Engine stored in bot_data at startup."""
    engine: Engine = context.bot_data["engine"]
    return engine


def state_of(context: ContextTypes.DEFAULT_TYPE) -> ChatState:
    """The per-chat state stored in bot_data at startup."""
    state: ChatState = context.bot_data["state"]
    return state


async def send_html(message: Message, html: str) -> list[Message]:
    """Reply to `message` with HTML, split into Telegram-sized parts, threaded to the question."""
    sent = []
    for part in split_message(html):
        sent.append(
            await message.reply_text(
                part,
                parse_mode=ParseMode.HTML,
                do_quote=True,
                disable_web_page_preview=True,
            )
        )
    return sent


async def reply_answer(
    message: Message, context: ContextTypes.DEFAULT_TYPE, question: str
) -> Answer:
    """Answer `question` (on a worker thread) and reply with the rendered answer.

    When `message` replies to one of the bot's answers, it is a follow-up (`bot.followup`).
    """
    engine = engine_of(context)
    text, avoid = follow_up(earlier_of(message, context), question)
    # On a worker thread: the encoder and the reader are model calls that release the GIL
    # (tens of ms), so other chats go on meanwhile.
    answer = await asyncio.to_thread(engine.ask, text, avoid)
    sent = await send_html(message, answer.text)
    first = answer.citations[0] if answer.answered else None
    earlier = Earlier(text, sentence_key(first.article, first.sentence) if first else None)
    for reply in sent:
        remember(state_of(context), reply.chat_id, reply.message_id, earlier)
    return answer


def earlier_of(message: Message, context: ContextTypes.DEFAULT_TYPE) -> Earlier | None:
    """What the bot's message that `message` replies to answered, if it is one of the bot's."""
    if not replies_to_bot(message, context.bot.id) or message.reply_to_message is None:
        return None
    return recall(state_of(context), message.chat_id, message.reply_to_message.message_id)


def summary_args(args: list[str]) -> tuple[str | None, int | None]:
    """`/summary [topic] [N]` arguments: a trailing whole number is N (clamped to 1..10).

    >>> summary_args(["ceasefire", "talks", "3"])
    ('ceasefire talks', 3)
    """
    count = None
    if args and args[-1].isdecimal():
        count = max(1, min(int(args[-1]), MAX_SENTENCES))
        args = args[:-1]
    return " ".join(args) or None, count


def strip_mention(text: str, username: str) -> str:
    """The message text without the bot's @mention, however it is cased (usernames are not).

    >>> strip_mention("@StoryBot who is Witkoff? cc @storybot_fans", "storybot")
    'who is Witkoff? cc @storybot_fans'
    """
    pattern = rf"@{re.escape(username)}(?!\w)"
    return " ".join(re.sub(pattern, " ", text, flags=re.IGNORECASE).split())


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the greeting and usage."""
    if update.effective_message:
        store = engine_of(context).store
        help_text = render("help", topics=topics(store), username=context.bot.username)
        await send_html(update.effective_message, help_text)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer `/ask question` (the question is the command's arguments)."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question and message.reply_to_message and message.reply_to_message.text:
        question = message.reply_to_message.text
    await reply_answer(message, context, question)


async def summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with a cited extractive summary, optionally about a topic (`/summary [topic] [N]`)."""
    message = update.effective_message
    if message is None:
        return
    state, chat_id = state_of(context), message.chat_id
    if message.chat.type in GROUPS:
        cooldown = context.bot_data["settings"].summary_cooldown
        left = state.acquire(chat_id, "summary", cooldown)
        if left > 0:
            if state.acquire(chat_id, "summary_note", cooldown) == 0:
                ago, seconds = round(cooldown - left), max(1, round(left))
                await send_html(message, render("cooldown", ago=ago, seconds=seconds))
            return
    topic, count = summary_args(context.args or [])
    engine = engine_of(context)
    build = engine.store.build_id
    answer = await asyncio.to_thread(engine.summary, topic, count)
    state.put(chat_id, SEEN_BUILD, build)
    await send_html(message, answer.text)


async def whatsnew(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the sentences added or changed since this chat's last /summary or /whatsnew."""
    message = update.effective_message
    if message is None:
        return
    state = state_of(context)
    seen = state.get(message.chat_id, SEEN_BUILD)
    answer = await asyncio.to_thread(engine_of(context).whatsnew, seen)
    # Recorded before sending, so a second /whatsnew right behind this one lists nothing twice.
    state.put(message.chat_id, SEEN_BUILD, answer.extra["build"])
    await send_html(message, answer.text)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text in a private chat."""
    message = update.effective_message
    if message and message.text:
        await reply_answer(message, context, message.text)


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only replies to the bot and messages that mention it.

    `addressed` decides, the same test the guard spends rate-limit budget by, so a message is
    counted exactly when it is answered.
    """
    message = update.effective_message
    if message is None or not message.text or message.chat.type == ChatType.PRIVATE:
        return
    if addressed(message, context.bot):
        await reply_answer(message, context, strip_mention(message.text, context.bot.username))


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer up to three cited answers to `@botname question` typed in any chat."""
    query = update.inline_query
    if query is None:
        return
    if not query.query.strip():
        await query.answer([], cache_time=CACHE_SECONDS, button=EMPTY_BUTTON)
        return
    engine = engine_of(context)
    answer = await asyncio.to_thread(engine.ask, query.query)  # as in reply_answer
    results = inline_results(answer)
    button = None if results else DECLINED_BUTTON
    await query.answer(results, cache_time=CACHE_SECONDS, button=button)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error and send the user a short apology, never a traceback."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(
                "Sorry, something went wrong while answering. Please try again."
            )
        except Exception:  # the apology is best effort; the original error is already logged
            log.warning("could not send the apology", exc_info=True)
