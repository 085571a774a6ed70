"""Telegram's part of the buttons under an answer (`bot.actions` decides what a press does).

`keyboard` turns a View into an `InlineKeyboardMarkup`; `press` is the `CallbackQueryHandler`:
it edits the message — its text and buttons, or the buttons alone for a vote, or takes expired
buttons away — then answers the callback query exactly once, whatever the edit did
(`answerCallbackQuery`, with the notice when there is one, so the button never spins on).
Telegram refuses an edit that changes nothing ("message is not modified", as when one button is
tapped twice before the first edit lands): that is the press already done, not an error.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.actions import DATA_PATTERN, Actions, Press, View, parse_data
from bot.asked import open_asked
from bot.engine import Engine
from bot.settings import BotSettings
from bot.shared import Shared
from bot.state import ChatState
from bot.telegram.telegram_text import split_message

log = logging.getLogger(__name__)

UNUSABLE = "This button no longer works. Ask the question again."
TOO_LONG = "That is too long to show in one message."


def keyboard(view: View) -> InlineKeyboardMarkup:
    """The buttons of `view`."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in view.buttons()
        ]
    )


def actions_of(context: ContextTypes.DEFAULT_TYPE) -> Actions:
    """The Actions kept in bot_data."""
    actions: Actions = context.bot_data["actions"]
    return actions


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Act on a press of one of the buttons under an answer."""
    query = update.callback_query
    if query is None:
        return
    parsed = parse_data(query.data or "")
    message = query.message
    if parsed is None or message is None or not isinstance(message, Message):
        await query.answer(UNUSABLE)  # an inline message, or one Telegram no longer shows
        return
    verb, candidate, shown, key = parsed
    private = message.chat.type == ChatType.PRIVATE
    outcome = await asyncio.to_thread(
        actions_of(context).press,
        message.chat_id,
        key,
        verb,
        candidate,
        shown,
        query.from_user.id,
        private,
    )
    if outcome.html is not None and len(split_message(outcome.html)) > 1:
        # A message with buttons is one message: a candidate too long for one is not shown.
        outcome = Press(TOO_LONG)
    try:
        if outcome.html is not None:
            await query.edit_message_text(
                outcome.html,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(outcome.view) if outcome.view else None,
                disable_web_page_preview=True,
            )
        elif outcome.view is not None:
            await query.edit_message_reply_markup(keyboard(outcome.view))
        elif outcome.drop:
            await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            log.warning("could not update the answer after a button press: %s", exc)
    except TelegramError as exc:  # the notice still goes out; the edit is for another press
        log.warning("could not update the answer after a button press: %s", exc)
    finally:
        # After the edit, so the reader's button stops spinning as the message changes.
        await query.answer(outcome.notice)


def install_buttons(
    application: Application,
    engine: Engine,
    state: ChatState,
    settings: BotSettings,
    shared: Shared | None = None,
) -> Actions:
    """Keep the log of what was asked and the Actions in bot_data, and handle button presses."""
    asked = open_asked(settings, shared.client if shared else None)
    actions = Actions(engine, state, asked, settings.button_expiry)
    application.bot_data["asked"] = asked
    application.bot_data["actions"] = actions
    application.add_handler(CallbackQueryHandler(press, pattern=DATA_PATTERN))
    return actions
