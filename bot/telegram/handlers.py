"""Telegram handlers: thin async functions that hand each message to the conversation and reply.

What a message means and what the reply says is `bot.conversation`'s, shared with the terminal
chat; these handlers add only what is Telegram's. Private chat: any text is a question. Groups
(privacy mode on): `/ask question` (also `/ask@botname`), a reply to one of the bot's messages,
or a message that mentions the bot; the bot says nothing in a group unless addressed, and
answers an unknown command there only when it names the bot (`/foo@botname`). A reply to one of
its answers is a follow-up, read with the earlier question (`bot.followup`). `/summary` has a
per-chat cooldown in groups; the first request during it gets one short note, later ones are
ignored until it ends.
Answering runs in a worker thread (the encoder and the reader release the GIL while they
compute, so the event loop keeps serving other chats).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.actions import Actions, View
from bot.conversation import Command, Conversation, Reply, parse
from bot.engine import Engine
from bot.followup import Earlier, recall, remember
from bot.state import ChatState
from bot.telegram.buttons import keyboard
from bot.telegram.guard import addressed, replies_to_bot
from bot.telegram.inline import CACHE_SECONDS, EMPTY_BUTTON, inline_button, inline_results
from bot.telegram.telegram_text import split_message
from bot.templates import render

log = logging.getLogger(__name__)

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


def engine_of(context: ContextTypes.DEFAULT_TYPE) -> Engine:
    """The Engine stored in bot_data at startup."""
    engine: Engine = context.bot_data["engine"]
    return engine


def state_of(context: ContextTypes.DEFAULT_TYPE) -> ChatState:
    """The per-chat state stored in bot_data at startup."""
    state: ChatState = context.bot_data["state"]
    return state


def conversation_of(context: ContextTypes.DEFAULT_TYPE) -> Conversation:
    """The conversation over the engine and the state (made on first use)."""
    conversation = context.bot_data.get("conversation")
    if conversation is None:
        conversation = Conversation(engine_of(context), state_of(context))
        context.bot_data["conversation"] = conversation
    assert isinstance(conversation, Conversation)
    return conversation


async def send_html(
    message: Message, html: str, markup: InlineKeyboardMarkup | None = None
) -> list[Message]:
    """Reply to `message` with HTML, split into Telegram-sized parts, threaded to the question;
    `markup` (an answer's buttons) goes under a reply that fits one message."""
    parts = split_message(html)
    sent = []
    for part in parts:
        sent.append(
            await message.reply_text(
                part,
                parse_mode=ParseMode.HTML,
                do_quote=True,
                disable_web_page_preview=True,
                reply_markup=markup if len(parts) == 1 else None,
            )
        )
    return sent


def earlier_of(message: Message, context: ContextTypes.DEFAULT_TYPE) -> Earlier | None:
    """What the bot's message that `message` replies to answered, if it is one of the bot's."""
    if not replies_to_bot(message, context.bot.id) or message.reply_to_message is None:
        return None
    return recall(state_of(context), message.chat_id, message.reply_to_message.message_id)


def summary_cooldown(
    message: Message, context: ContextTypes.DEFAULT_TYPE
) -> Callable[[], Reply | None] | None:
    """In a group, the check a summary passes first: None (go ahead), else one short note per
    cooldown, then silence."""
    if message.chat.type not in GROUPS:
        return None
    state, chat_id = state_of(context), message.chat_id
    cooldown = context.bot_data["settings"].summary_cooldown

    def check() -> Reply | None:
        left = state.acquire(chat_id, "summary", cooldown)
        if left <= 0:
            return None
        if state.acquire(chat_id, "summary_note", cooldown) == 0:
            ago, seconds = round(cooldown - left), max(1, round(left))
            return Reply(render("cooldown", ago=ago, seconds=seconds))
        return Reply(None)

    return check


async def converse(message: Message, context: ContextTypes.DEFAULT_TYPE, command: Command) -> None:
    """Reply to `message`, understood as `command`, through the conversation.

    When `message` replies to one of the bot's answers, it is a follow-up (`bot.followup`), and
    what each part of the reply answered is remembered for the replies to it.
    """
    conversation = conversation_of(context)
    earlier, cooldown = earlier_of(message, context), summary_cooldown(message, context)
    actions: Actions | None = context.bot_data.get("actions")

    def respond() -> tuple[Reply, View | None]:
        reply = conversation.respond(
            message.chat_id, command, earlier, context.bot.username, cooldown
        )
        if actions is None or reply.answer is None or reply.earlier is None:
            return reply, None
        # Logged, and what its buttons need kept, before it is sent: a press may come at once.
        user = message.from_user.id if message.sender_chat is None and message.from_user else None
        following = conversation.following(message.chat_id)
        question = reply.earlier.question
        view = actions.answered(
            message.chat_id, message.message_id, question, reply.answer, user, following
        )
        return reply, view

    # On a worker thread: the encoder and the reader are model calls that release the GIL
    # (tens of ms), so other chats go on meanwhile.
    reply, view = await asyncio.to_thread(respond)
    if not reply.html:
        return
    sent = await send_html(message, reply.html, keyboard(view) if view else None)
    if reply.earlier is not None:
        for part in sent:
            remember(state_of(context), part.chat_id, part.message_id, reply.earlier)


def strip_mention(text: str, username: str) -> str:
    """The message text without the bot's @mention, however it is cased (usernames are not).

    >>> strip_mention("@StoryBot who is Witkoff? cc @storybot_fans", "storybot")
    'who is Witkoff? cc @storybot_fans'
    """
    pattern = rf"@{re.escape(username)}(?!\w)"
    return " ".join(re.sub(pattern, " ", text, flags=re.IGNORECASE).split())


async def _command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text or message.chat.type == ChatType.CHANNEL:
        return
    command = parse(message.text, context.bot.username)
    if command is None:
        return  # for another bot
    if command.kind == "ask" and not command.text and message.reply_to_message:
        # `/ask` sent as a reply asks the replied-to message's text.
        command = parse(f"/ask {message.reply_to_message.text or ''}") or command
    await converse(message, context, command)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the greeting and usage."""
    await _command(update, context)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer `/ask question` (or, sent as a reply, the replied-to message)."""
    await _command(update, context)


async def summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with a cited extractive summary of one story (`/summary [topic] [N]`)."""
    await _command(update, context)


async def whatsnew(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the sentences added or changed since this chat's last /summary or /whatsnew."""
    await _command(update, context)


async def command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other command: `/story`, or an unknown one (answered in a group only when it names
    the bot, since other bots' commands arrive here too)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    named = message.text.split(maxsplit=1)[0].partition("@")[2]
    if message.chat.type in GROUPS and not named:
        parsed = parse(message.text)
        if parsed is None or parsed.kind == "unknown":
            return
    await _command(update, context)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text in a private chat."""
    message = update.effective_message
    if message and message.text:
        await converse(message, context, parse(message.text) or Command("question"))


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only replies to the bot and messages that mention it.

    `addressed` decides, the same test the guard spends rate-limit budget by, so a message is
    counted exactly when it is answered.
    """
    message = update.effective_message
    if message is None or not message.text or message.chat.type == ChatType.PRIVATE:
        return
    if addressed(message, context.bot):
        text = strip_mention(message.text, context.bot.username)
        await converse(message, context, parse(text) or Command("question", text))


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer up to three cited answers to `@botname question` typed in any chat."""
    query = update.inline_query
    if query is None:
        return
    if not query.query.strip():
        await query.answer([], cache_time=CACHE_SECONDS, button=EMPTY_BUTTON)
        return
    engine = engine_of(context)
    answer = await asyncio.to_thread(engine.ask, query.query)  # as in converse
    await query.answer(
        inline_results(answer), cache_time=CACHE_SECONDS, button=inline_button(answer)
    )


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
