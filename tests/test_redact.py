"""The bot token never appears in logs, errors or crash output (tested with a distinctive one)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.redact import redact, redact_in_logs, secret_forms
from botrunner import running_bot
from fakebot import FakeBotAPI
from support import ROOT, run_env, storybot_run

DISTINCTIVE = "918273645:AAZebraQuokka_DoNotLeak_7f3c9e1b2d4a"
CREDENTIAL = DISTINCTIVE.split(":")[1]


@pytest.fixture
def server() -> Iterator[FakeBotAPI]:
    """conftest's server with a token no other text could contain, so any leak of it shows."""
    with FakeBotAPI(token=DISTINCTIVE) as api:
        yield api


def assert_clean(text: str) -> None:
    for form in secret_forms(DISTINCTIVE):
        assert form not in text


def test_every_spelling_of_the_token_is_masked() -> None:
    redact_in_logs(DISTINCTIVE)
    url = f"https://api.telegram.org/bot{DISTINCTIVE}/getMe"
    encoded = url.replace(":", "%3A")
    assert redact(url) == "https://api.telegram.org/bot<token>/getMe"
    assert_clean(redact(f"{url} {encoded} secret={CREDENTIAL}"))


async def test_a_handler_error_quoting_the_token_is_logged_redacted(
    server: FakeBotAPI,
    seed_settings: BotSettings,
    seed_engine: Engine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_answer(*args: object, **kwargs: object) -> None:
        try:
            raise ConnectionError(f"POST {server.url}/bot{DISTINCTIVE}/sendMessage reset")
        except ConnectionError as exc:
            raise RuntimeError(f"could not answer via bot{DISTINCTIVE}") from exc

    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(seed_engine, "ask", broken_answer)
    async with running_bot(server, seed_settings, seed_engine):
        server.private_text("Who is Steve Witkoff?")
        (apology,) = await server.await_for("sendMessage", 1, timeout=30)
    assert "Sorry" in apology["text"]
    assert "bot<token>" in caplog.text, "the error was logged, with the token masked"
    assert "ConnectionError" in caplog.text, "the chained cause is kept"
    assert_clean(caplog.text)
    assert_clean(apology["text"])


def test_an_uncaught_exception_prints_a_redacted_traceback() -> None:
    code = (
        "from bot.telegram.redact import redact_in_logs\n"
        f"redact_in_logs({DISTINCTIVE!r})\n"
        f"raise RuntimeError('GET https://api.telegram.org/bot{DISTINCTIVE}/getMe failed')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "RuntimeError: GET https://api.telegram.org/bot<token>/getMe failed" in result.stderr
    assert_clean(result.stderr)


def test_storybot_run_with_a_rejected_token_exits_without_printing_it(
    seed_settings: BotSettings, seed_engine: Engine, tmp_path: Path
) -> None:
    with FakeBotAPI() as other:  # a server that knows another token, so ours gets 401
        result = storybot_run(run_env(seed_settings, tmp_path, other.url, DISTINCTIVE), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in output
    assert_clean(output)


def test_a_token_in_the_base_url_is_masked_in_the_final_error_line(
    seed_settings: BotSettings, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{closed}/bot{DISTINCTIVE}"
    env = run_env(
        seed_settings,
        tmp_path,
        base_url,
        DISTINCTIVE,
        STORYBOT_CONNECT_RETRIES="1",
        STORYBOT_CONNECT_BACKOFF="0.1",
    )
    result = storybot_run(env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: Telegram unreachable at http://127.0.0.1:"), output
    assert "/bot<token>" in last
    assert_clean(output)


def test_a_token_shaped_string_is_masked_even_when_it_is_not_the_configured_token() -> None:
    other = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # @BotFather's documentation example
    assert redact(f"GET https://api.telegram.org/bot{other}/getMe") == (
        "GET https://api.telegram.org/bot<token>/getMe"
    )
    assert (
        redact("order 12345:ok and 2025-04-23 10:15:00") == "order 12345:ok and 2025-04-23 10:15:00"
    )
