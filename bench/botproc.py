"""A bot process for the benchmarks: storybot's real application, or an echo bot, polling.

`python -m bench.botproc storybot|storybot-unbatched|echo` reads the usual environment
(TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, STORYBOT_*) and polls until SIGINT. Both bots use the
same PTB stack (concurrent updates, the retrying limiter) with Telegram's flood limits lifted:
they would cap any bot at 30 messages a second, and here we measure the bot's own cost.
"""

from __future__ import annotations

import logging
import os
import sys

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bot.settings import BotSettings
from bot.telegram.delivery import RetryingLimiter


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the message's own text, quoted, as HTML (the ceiling: no answering at all)."""
    if update.effective_message and update.effective_message.text:
        await update.effective_message.reply_text(
            update.effective_message.text, parse_mode=ParseMode.HTML, do_quote=True
        )


def echo_application(settings: BotSettings) -> Application:
    """An echo bot on the same PTB stack as storybot's."""
    assert settings.token is not None
    base_url, base_file_url = settings.api_urls()
    app = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(base_url)
        .base_file_url(base_file_url)
        .request(HTTPXRequest(connection_pool_size=64))
        .rate_limiter(RetryingLimiter())
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


def main(kind: str) -> None:
    """Build the chosen bot, lift the flood limits, poll."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.basicConfig(level=logging.WARNING)
    settings = BotSettings()
    if kind == "echo":
        app = echo_application(settings)
    else:
        from bot.engine import open_engine
        from bot.telegram.app import build_application

        engine = open_engine(settings)
        if kind == "storybot-unbatched":  # the same ONNX model, one call per question
            from index.onnx_encoder import OnnxEncoder

            engine.encoder = OnnxEncoder(engine.encoder._folder)  # type: ignore[attr-defined]
        engine.encoder.encode(["warm up"])
        app = build_application(settings, engine)
    app.bot._rate_limiter = RetryingLimiter(overall_max_rate=0, group_max_rate=0)
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "storybot")
