"""Run the real storybot Application against the fake Bot API server inside a test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.app import build_application
from fakebot import FakeBotAPI


@asynccontextmanager
async def running_bot(
    server: FakeBotAPI,
    settings: BotSettings,
    engine: Engine,
    bot_data: Mapping[str, Any] | None = None,
) -> AsyncIterator[Application]:
    """The application long-polling `server`, started the way run_polling starts it, with
    `bot_data` set before anything starts (the background loops read their periods from it
    as they begin: set later, a loop's first wait is still its default)."""
    settings = settings.model_copy(
        update={"token": SecretStr(server.token), "base_url": server.url}
    )
    app = build_application(settings, engine)
    app.bot_data.update(bot_data or {})
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_shutdown:
            await app.post_shutdown(app)
        await app.shutdown()
