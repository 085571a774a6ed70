"""Webhook mode: the real Application registers its webhook with the (fake) Bot API server,
which then pushes a question to it over HTTP on 127.0.0.1, secret header and all."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.app import build_application, webhook_options
from bot.telegram.webhook import MAX_UPDATE_BYTES, SECRET_HEADER, serve_webhook
from fakebot import FakeBotAPI
from index.errors import BadSettings

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_settings_read_port_and_webhook_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "5123")
    monkeypatch.setenv("STORYBOT_WEBHOOK_URL", "https://bot.example.org/tg/hook")
    settings = BotSettings(_env_file=None)  # type: ignore[call-arg]
    options = webhook_options(settings)
    assert (options["port"], options["url_path"]) == (5123, "tg/hook")
    assert options["webhook_url"] == "https://bot.example.org/tg/hook"
    assert len(options["secret_token"]) >= 32
    assert webhook_options(settings)["secret_token"] != options["secret_token"]
    fixed = settings.model_copy(update={"webhook_secret": SecretStr("s3cret_-")})
    assert webhook_options(fixed)["secret_token"] == "s3cret_-"


def test_several_workers_need_one_secret_and_identical_webhook_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORYBOT_WEBHOOK_URL", "https://bot.example.org/tg/hook")
    monkeypatch.setenv("STORYBOT_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("STORYBOT_WEBHOOK_LISTEN", "127.0.0.1")
    monkeypatch.setenv("STORYBOT_WEBHOOK_MAX_CONNECTIONS", "80")
    settings = BotSettings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(BadSettings, match="STORYBOT_WEBHOOK_SECRET must be set"):
        webhook_options(settings)
    monkeypatch.setenv("STORYBOT_WEBHOOK_SECRET", "the-same-for-all")
    one = webhook_options(BotSettings(_env_file=None))  # type: ignore[call-arg]
    two = webhook_options(BotSettings(_env_file=None))  # type: ignore[call-arg]
    assert one == two  # whichever worker calls setWebhook last leaves it the same
    assert (one["listen"], one["max_connections"]) == ("127.0.0.1", 80)


def webhook_app(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> tuple[Application, dict[str, Any]]:
    """The real application for `server`, and its webhook's options on a free loopback port."""
    port = free_port()
    settings = seed_settings.model_copy(
        update={
            "token": SecretStr(server.token),
            "base_url": server.url,
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "port": port,
        }
    )
    return build_application(settings, seed_engine), webhook_options(settings) | {
        "listen": "127.0.0.1"
    }


async def test_question_pushed_to_the_webhook_is_answered(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    app, options = webhook_app(server, seed_settings, seed_engine)
    port = options["port"]
    await app.initialize()
    serving = asyncio.create_task(serve_webhook(app, options))
    try:
        await server.await_for("setWebhook", 1, timeout=30)
        assert server.webhook["url"] == f"http://127.0.0.1:{port}/hook"
        assert server.webhook["secret_token"] == options["secret_token"]
        update = server.private_text("Who is Steve Witkoff?")
        (sent,) = await server.await_for("sendMessage", 1, timeout=60)
        assert sent["chat_id"] == update["message"]["chat"]["id"]
        assert WITKOFF in sent["text"]
        assert server.sent("getUpdates") == [], "webhook mode must not poll"
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    assert not app.running


def wait_listening(port: int, timeout: float = 30.0) -> None:
    """Return once something accepts connections on `port`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def post_headers(port: int, path: str, headers: dict[str, str], body: bytes = b"") -> str:
    """Send a POST's headers (and `body`, if any, of what they declare) and return the status
    line the server answers with, without sending more: "" if it closes without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            part = sock.recv(4096)  # a server waiting for the rest of the body times this out
            if not part:
                break
            answer += part
        return answer.split(b"\r\n")[0].decode()


async def test_the_webhook_refuses_a_request_by_its_headers_without_reading_its_body(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    app, options = webhook_app(server, seed_settings, seed_engine)
    port = options["port"]
    secret = options["secret_token"]
    await app.initialize()
    serving = asyncio.create_task(serve_webhook(app, options))
    json_ = {"Content-Type": "application/json"}
    huge = {**json_, "Content-Length": str(95 * 10**6)}  # declared, never sent
    try:
        await server.await_for("setWebhook", 1, timeout=30)
        await asyncio.to_thread(wait_listening, port)  # it listens once the hook is set
        # Answered from the headers alone: before, the whole 95 MB body was read first.
        no_secret = await asyncio.to_thread(post_headers, port, "/hook", huge)
        assert no_secret == "HTTP/1.1 403 Wrong or missing secret"
        wrong = {**huge, SECRET_HEADER: "not-" + secret}
        assert (await asyncio.to_thread(post_headers, port, "/hook", wrong)).startswith(
            "HTTP/1.1 403"
        )
        too_big = {**huge, SECRET_HEADER: secret}
        assert (await asyncio.to_thread(post_headers, port, "/hook", too_big)).startswith(
            "HTTP/1.1 413"
        )
        elsewhere = await asyncio.to_thread(post_headers, port, "/other", huge)
        assert elsewhere.startswith("HTTP/1.1 400"), "over the server's cap on any path"
        chunked = {**json_, SECRET_HEADER: secret, "Transfer-Encoding": "chunked"}
        grown = f"{MAX_UPDATE_BYTES + 1:x}\r\n".encode() + b"{" * (MAX_UPDATE_BYTES + 1)
        assert not (
            await asyncio.to_thread(post_headers, port, "/hook", chunked, grown)
        ).startswith("HTTP/1.1 200")
        not_json = {SECRET_HEADER: secret, "Content-Type": "text/plain", "Content-Length": "2"}
        assert (await asyncio.to_thread(post_headers, port, "/hook", not_json, b"{}")).startswith(
            "HTTP/1.1 415"
        )
        garbage = {**json_, SECRET_HEADER: secret, "Content-Length": "5"}
        assert (await asyncio.to_thread(post_headers, port, "/hook", garbage, b"nope!")).startswith(
            "HTTP/1.1 400"
        )
        # ... and Telegram's own delivery still gets through.
        server.private_text("Who is Steve Witkoff?")
        (sent,) = await server.await_for("sendMessage", 1, timeout=60)
        assert WITKOFF in sent["text"]
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
