"""Telegram handlers: thin async functions that read the question, answer off-loop, and reply.

Private chat: any text is a question. Groups (privacy mode on): `/ask question` (also
`/ask@botname`), a reply to one of the bot's messages, or a message that mentions the bot.
Embedding and search run in a worker thread, so the event loop keeps serving other chats.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType, ParseMode
from telegram.ext import ContextTypes

from bot.answer import Answer, topics
from bot.engine import Engine
from bot.telegram_text import split_message
from bot.templates import render

log = logging.getLogger(__name__)


def engine_of(context: ContextTypes.DEFAULT_TYPE) -> Engine:
    """The Engine stored in bot_data at startup."""
    engine: Engine = context.bot_data["engine"]
    return engine


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
    """Answer `question` in a worker thread and reply with the rendered answer."""
    engine = engine_of(context)
    answer = await asyncio.to_thread(engine.ask, question)
    sent = await send_html(message, answer.text)
    questions: dict[tuple[int, int], str] = context.bot_data.setdefault("questions", {})
    for reply in sent:
        questions[(reply.chat_id, reply.message_id)] = question
    return answer


def strip_mention(text: str, username: str) -> str:
    """The message text without the bot's @mention."""
    return " ".join(text.replace(f"@{username}", " ").split())


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the greeting and usage."""
    if update.effective_message:
        store = engine_of(context).store
        await send_html(update.effective_message, render("help", topics=topics(store)))


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
    """Reply with a cited extractive summary, optionally about a topic."""
    message = update.effective_message
    if message is None:
        return
    topic = " ".join(context.args or []) or None
    engine = engine_of(context)
    answer = await asyncio.to_thread(engine.summary, topic)
    await send_html(message, answer.text)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text in a private chat."""
    message = update.effective_message
    if message and message.text:
        await reply_answer(message, context, message.text)


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only replies to the bot and messages that mention it."""
    message = update.effective_message
    if message is None or not message.text or message.chat.type == ChatType.PRIVATE:
        return
    bot = context.bot
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot.id:
        await reply_answer(message, context, strip_mention(message.text, bot.username))
        return
    mentions = message.parse_entities([MessageEntityType.MENTION]).values()
    if any(m.lower() == f"@{bot.username}".lower() for m in mentions):
        question = strip_mention(message.text, bot.username)
        await reply_answer(message, context, question)


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
