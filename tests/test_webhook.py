"""Webhook mode: the real Application registers its webhook with the (fake) Bot API server,
which then pushes a question to it over HTTP on 127.0.0.1, secret header and all."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.app import build_application, webhook_options
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


async def test_question_pushed_to_the_webhook_is_answered(
    server: FakeBotAPI, seed_settings: BotSettings, seed_engine: Engine
) -> None:
    port = free_port()
    settings = seed_settings.model_copy(
        update={
            "token": SecretStr(server.token),
            "base_url": server.url,
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "port": port,
        }
    )
    app = build_application(settings, seed_engine)
    options = webhook_options(settings) | {"listen": "127.0.0.1"}
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(**options)
    try:
        assert server.webhook["url"] == f"http://127.0.0.1:{port}/hook"
        assert server.webhook["secret_token"] == options["secret_token"]
        update = server.private_text("Who is Steve Witkoff?")
        (sent,) = await server.await_for("sendMessage", 1, timeout=60)
        assert sent["chat_id"] == update["message"]["chat"]["id"]
        assert WITKOFF in sent["text"]
        assert server.sent("getUpdates") == [], "webhook mode must not poll"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
