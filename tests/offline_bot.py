"""Handlers without HTTP: PTB's own Bot, Update and Message objects over an in-memory Bot API.

The handlers run exactly as the Application runs them — `Update.de_json` with a real `Bot`, a
real `CallbackContext`, replies through `Message.reply_text` — and only the network edge is
replaced: `OfflineRequest` answers `getMe` and records each `sendMessage`, returning the sent
message as Telegram would, so a test can reply to it. The HTTP tests (fakebot.py) keep what is
about the wire: polling, retries, flood limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder, CallbackContext, ContextTypes
from telegram.request import BaseRequest, RequestData

from bot.engine import Engine
from bot.settings import BotSettings
from bot.state import SqliteState
from fakebot import BOT_USERNAME, DEFAULT_GROUP_ID, DEFAULT_USER_ID, TOKEN, text_entities

JSON = dict[str, Any]
BOT_ID = int(TOKEN.split(":")[0])


class OfflineRequest(BaseRequest):
    """A Bot API in memory: `getMe` is the test bot; each `sendMessage` is answered with the
    message it sends, as Telegram answers it, and kept in `sent` (its parameters in `params`)."""

    def __init__(self) -> None:
        self.sent: list[JSON] = []
        self.params: list[JSON] = []
        self._message_id = 10_000

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "getMe":
            result: Any = {**BOT_USER, "can_join_groups": True, "supports_inline_queries": True}
        elif name == "sendMessage":
            self._message_id += 1
            chat_id = int(str(params["chat_id"]))
            kind = "private" if chat_id > 0 else "supergroup"
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": kind},
                "from": BOT_USER,
                "text": params["text"],
            }
            self.params.append(dict(params))
            self.sent.append(result)
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def texts(self) -> list[str]:
        """The text of every message sent, in order."""
        return [str(m["text"]) for m in self.sent]


BOT_USER: JSON = {"id": BOT_ID, "is_bot": True, "first_name": "Storybot", "username": BOT_USERNAME}


class Chat:
    """One chat's updates, numbered as Telegram numbers them, as PTB objects bound to the bot."""

    def __init__(self, bot: Bot, chat_id: int = DEFAULT_GROUP_ID) -> None:
        self.bot, self.chat_id = bot, chat_id
        kind = "private" if chat_id > 0 else "supergroup"
        self.chat: JSON = {"id": chat_id, "type": kind, "title": "Test Group"}
        if kind == "private":
            self.chat = {"id": chat_id, "type": kind, "first_name": "Alice"}
        self._next = 1

    def text(
        self, text: str, user_id: int = DEFAULT_USER_ID, reply_to: JSON | None = None
    ) -> Update:
        """A text message from `user_id`, with the entities Telegram computes; optionally a
        reply to an earlier message (one the bot sent: an item of `OfflineRequest.sent`)."""
        self._next += 1
        sender = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        message: JSON = {
            "message_id": self._next,
            "date": int(time.time()),
            "chat": self.chat,
            "from": sender,
            "text": text,
            "entities": text_entities(text),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return Update.de_json({"update_id": self._next, "message": message}, self.bot)


@asynccontextmanager
async def offline_app(
    settings: BotSettings, engine: Engine, state: SqliteState | None = None
) -> AsyncIterator[tuple[Application, OfflineRequest]]:
    """An initialised Application over the offline Bot API, with what the handlers read from
    bot_data (engine, settings, per-chat state) as build_application puts it there."""
    request = OfflineRequest()
    bot = Bot(TOKEN, request=request, get_updates_request=OfflineRequest())
    app = ApplicationBuilder().bot(bot).updater(None).build()
    app.bot_data.update(
        engine=engine, settings=settings, state=state or SqliteState(settings.state)
    )
    await app.initialize()
    try:
        yield app, request
    finally:
        await app.shutdown()


def context_of(app: Application, update: Update) -> ContextTypes.DEFAULT_TYPE:
    """The CallbackContext the Application would pass a handler for `update`."""
    return CallbackContext.from_update(update, app)
