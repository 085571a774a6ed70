"""Telegram's part of following (`bot.following` decides who is told what, and when):

- `/follow [story]` and `/unfollow`: anyone in a private chat; in a group only its admins
  (`getChatMember`; an anonymous admin, who posts as the group, counts), others get a polite no;
- `tell_followers`, a background task: every few seconds it posts the updates that are due,
  several at once, through the bot's flood limiter (`bot.telegram.delivery`: 30 messages a
  second in all, 20 a minute per group, a 429 waited out and retried), so a broadcast to
  thousands of chats is paced, not dropped.

A chat that blocked the bot, removed it or was deleted (403 Forbidden, 400 chat not found) is
unfollowed; a group upgraded to a supergroup follows on under its new id; any other failure
gives the update back to be retried on a later round.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Bot, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.engine import Engine
from bot.following import Followers, Notice, reply
from bot.state import ChatState
from bot.telegram.handlers import send_html
from bot.telegram.telegram_text import split_message

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 5.0
# Updates in flight at once: enough for the limiter to reach Telegram's 30 a second, few enough
# to leave the bot's 64 connections to the replies.
SENDING = 16
ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


def followers_of(application: Application) -> Followers:
    """The Followers kept in bot_data."""
    followers: Followers = application.bot_data["followers"]
    return followers


async def may_choose(message: Message, bot: Bot) -> bool:
    """Whether the sender may change what this chat follows: anyone in a private chat, an
    admin (or the group itself, an anonymous admin) in a group."""
    if message.chat.type not in GROUPS:
        return True
    if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
        return True
    if message.from_user is None:
        return False
    try:
        member = await bot.get_chat_member(message.chat_id, message.from_user.id)
    except TelegramError as exc:  # unsure: refuse, and say so in the log
        log.warning("could not check whether %s is an admin: %s", message.from_user.id, exc)
        return False
    return member.status in ADMINS


async def follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/follow [story]`: tell this chat each update of the story (group admins only)."""
    await _choose(update, context, " ".join(context.args or []), unfollow=False)


async def unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/unfollow`: tell this chat no more updates (group admins only)."""
    await _choose(update, context, "", unfollow=True)


async def _choose(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str, unfollow: bool
) -> None:
    message = update.effective_message
    if message is None or message.chat.type == ChatType.CHANNEL:
        return
    if not await may_choose(message, context.bot):
        await send_html(message, reply("refused"))
        return
    followers = followers_of(context.application)
    if unfollow:
        text = await asyncio.to_thread(followers.unfollow, message.chat_id)
    else:
        text = await asyncio.to_thread(followers.follow, message.chat_id, ref)
    await send_html(message, text)


async def deliver(bot: Bot, followers: Followers, notice: Notice) -> bool:
    """Post one update; True if it was sent. Failures are settled here (see the module)."""
    sent = 0
    try:
        for part in split_message(notice.html):
            await bot.send_message(
                notice.chat_id, part, parse_mode=ParseMode.HTML, disable_web_page_preview=True
            )
            sent += 1
        return True
    except Forbidden as exc:
        log.info("chat %s blocked or removed the bot (%s): unfollowed", notice.chat_id, exc)
        await asyncio.to_thread(followers.gone, notice.chat_id)
    except ChatMigrated as exc:
        log.info("chat %s is now %s; it follows on there", notice.chat_id, exc.new_chat_id)
        await asyncio.to_thread(followers.release, notice)
        await asyncio.to_thread(followers.moved, notice.chat_id, exc.new_chat_id)
    except BadRequest as exc:
        if "chat not found" in exc.message.lower():
            log.info("chat %s no longer exists: unfollowed", notice.chat_id)
            await asyncio.to_thread(followers.gone, notice.chat_id)
        else:  # a 400 the limiter could not repair: sending it again would fail again
            log.error("update for chat %s refused (%s); it is skipped", notice.chat_id, exc)
    except TelegramError as exc:  # the network, Telegram's side, a 429 past its retries
        if sent == 0:  # resending after a part went out would repeat that part
            await asyncio.to_thread(followers.release, notice)
        log.warning("update for chat %s not sent (%s); retried later", notice.chat_id, exc)
    return False


async def post_due(application: Application) -> int:
    """Post every update due now, several at once; returns how many were sent."""
    followers = followers_of(application)
    notices = await asyncio.to_thread(followers.due, time.time())
    slots = asyncio.Semaphore(SENDING)

    async def one(notice: Notice) -> bool:
        async with slots:
            return await deliver(application.bot, followers, notice)

    return sum(await asyncio.gather(*(one(n) for n in notices)))


async def tell_followers(application: Application) -> None:
    """Post due updates every few seconds, for as long as the bot runs."""
    while True:
        await asyncio.sleep(application.bot_data.get("follow_seconds", FOLLOW_SECONDS))
        try:
            await post_due(application)
        except Exception:  # one bad round must not end the updates for good
            log.exception("posting follow updates failed")


def install_followers(
    application: Application, engine: Engine, state: ChatState, interval: float
) -> None:
    """Keep the Followers in bot_data and wire /follow and /unfollow (before any catch-all
    command handler, which would otherwise take them)."""
    application.bot_data["followers"] = Followers(engine, state, interval)
    application.add_handler(CommandHandler("follow", follow))
    application.add_handler(CommandHandler("unfollow", unfollow))
