"""The webhook server: what Telegram POSTs updates to, hardened against whoever else POSTs.

PTB's own webhook server (tornado, behind `Application.run_webhook`) reads a request's whole body
— up to tornado's default of 100 MB — before it checks the secret: eight concurrent 95 MB POSTs
without it took a worker from 233 MB to 1.36 GB. This one is the same tornado, driven through
PTB's public API instead (`Application.start`, `bot.set_webhook`, `update_queue`):

- the secret (`X-Telegram-Bot-Api-Secret-Token`) is checked as soon as the headers arrive, in
  constant time; a request without it is answered 403 and its connection closed, its body
  never read;
- a body over MAX_UPDATE_BYTES is refused the same way (413 when declared, the connection closed
  when a chunked body grows past it), on the hook's path and every other: a Telegram update is a
  few kB (a 4096-character message of emoji quoted in a reply is under 100 kB of JSON);
- a body that does not arrive within BODY_SECONDS ends its connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1024 * 1024
BODY_SECONDS = 10.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """POSTs to the hook path: checked at the headers, then read (capped), then queued."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, ptb: Application, secret: str) -> None:
        """Per request: the PTB application to hand updates to, and the secret to expect.
        (Not `application`: tornado's handler has its own.)"""
        self.ptb, self.secret = ptb, secret
        self.chunks: list[bytes] = []

    def prepare(self) -> None:
        """Before any of the body is read: the secret, the content type and the declared size."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="Wrong or missing secret")
        kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_UPDATE_BYTES:
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        """A part of an accepted body (the server stops it at MAX_UPDATE_BYTES)."""
        self.chunks.append(chunk)

    async def post(self) -> None:
        """Queue the update for the application, as PTB's own handler does."""
        try:
            update = Update.de_json(json.loads(b"".join(self.chunks)), self.ptb.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook: a request with the secret that is no update (%s)", exc)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        bot = self.ptb.bot
        if isinstance(bot, ExtBot):  # arbitrary callback data, as PTB's handler does
            bot.insert_callback_data(update)
        await self.ptb.update_queue.put(update)

    def log_exception(self, *args: Any) -> None:
        """Refused requests are the point, not errors; a bug shows in the handler's own log."""


def webhook_server(application: Application, url_path: str, secret: str) -> HTTPServer:
    """A tornado server taking updates at `/url_path` into `application`'s queue."""
    app = tornado.web.Application(
        [
            (
                rf"/{re.escape(url_path.strip('/'))}/?",
                UpdateHandler,
                {"ptb": application, "secret": secret},
            )
        ],
        log_function=lambda _handler: None,  # one line per request is noise; refusals above
    )
    return HTTPServer(app, max_body_size=MAX_UPDATE_BYTES, body_timeout=BODY_SECONDS)


async def serve_webhook(application: Application, options: dict[str, Any]) -> None:
    """Serve Telegram's webhook calls until cancelled (SIGINT, SIGTERM), as `run_webhook` would:
    run post_init, register the webhook, listen, start the application; then stop it all.

    `options` are `app.webhook_options(...)`; the application is initialized already.
    """
    server = webhook_server(application, options["url_path"], options["secret_token"])
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.bot.set_webhook(
            url=options["webhook_url"],
            secret_token=options["secret_token"],
            allowed_updates=options["allowed_updates"],
            max_connections=options["max_connections"],
        )
        # Listening once the webhook is registered, as PTB's run_webhook does: a worker that
        # accepts connections has told Telegram where to deliver (Telegram retries an update
        # it could not deliver in between).
        server.listen(options["port"], address=options["listen"])
        await application.start()
        await asyncio.Event().wait()  # until cancelled
    finally:
        server.stop()
        await server.close_all_connections()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
