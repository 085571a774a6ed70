"""Start-up of the real `storybot run`: a malformed token is refused before anything connects, an
unreachable Bot API is one line per retry (never a traceback or the token), and a signal while
waiting or polling stops the bot cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import Engine
from bot.settings import BotSettings
from bot.telegram.redact import secret_forms
from fakebot import FakeBotAPI
from support import run_env as support_run_env
from support import storybot_run

DISTINCTIVE = "918273645:AAZebraQuokka_DoNotLeak_7f3c9e1b2d4a"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nothing else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def run_env(settings: BotSettings, tmp_path: Path, base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `storybot run` over the session's seed index."""
    return support_run_env(settings, tmp_path, base_url, DISTINCTIVE, **extra)


def start_bot(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(bot: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    """Output lines up to and including the first holding `marker`."""
    assert bot.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = bot.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    bot.kill()
    raise AssertionError(f"no {marker!r} in the output:\n" + "\n".join(lines))


def assert_clean(output: str) -> None:
    assert "Traceback" not in output
    for form in secret_forms(DISTINCTIVE):
        assert form not in output


def test_an_unreachable_bot_api_is_one_line_per_retry_then_one_error(
    seed_settings: BotSettings, seed_engine: Engine, tmp_path: Path, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    env = run_env(
        seed_settings,
        tmp_path,
        url,
        STORYBOT_CONNECT_RETRIES="3",
        STORYBOT_CONNECT_BACKOFF="0.05",
    )
    result = storybot_run(env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    retries = [line for line in output.splitlines() if "retrying" in line]
    expected = [
        f"Telegram unreachable at {url} (connection refused); retrying in {wait}"
        for wait in ("0.05 s", "0.1 s", "0.2 s")
    ]
    assert [line.split(": ", 1)[1] for line in retries] == expected
    assert (
        f"Error: Telegram unreachable at {url} (connection refused); gave up after 4 tries"
        in output
    )
    assert_clean(output)
    assert len(output.splitlines()) < 10, output


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_waiting_for_telegram_stops_cleanly(
    seed_settings: BotSettings,
    seed_engine: Engine,
    tmp_path: Path,
    closed_port: int,
    stop: signal.Signals,
) -> None:
    env = run_env(
        seed_settings, tmp_path, f"http://127.0.0.1:{closed_port}", STORYBOT_CONNECT_BACKOFF="60"
    )
    bot = start_bot(env, tmp_path)
    read_until(bot, "retrying in 60 s")
    started = time.monotonic()
    bot.send_signal(stop)
    output, _ = bot.communicate(timeout=30)
    assert bot.returncode == 0, output
    assert time.monotonic() - started < 10, "the wait was cut short"
    assert "stopped before Telegram answered" in output
    assert_clean(output)


def test_a_failing_bot_api_recovers_at_start_and_while_polling_without_tracebacks(
    seed_settings: BotSettings, seed_engine: Engine, tmp_path: Path
) -> None:
    with FakeBotAPI(token=DISTINCTIVE) as server:
        server.inject("getMe", "502", times=2)
        server.inject("getUpdates", "502", times=2)
        env = run_env(seed_settings, tmp_path, server.url, STORYBOT_CONNECT_BACKOFF="0.05")
        bot = start_bot(env, tmp_path)
        lines = read_until(bot, "storybot is polling")
        lines += read_until(bot, "while polling")
        lines += read_until(bot, "while polling")
        server.private_text("Who is Steve Witkoff?")
        (reply,) = server.wait_for("sendMessage", 1, timeout=60)
        bot.send_signal(signal.SIGINT)
        rest, _ = bot.communicate(timeout=60)
    output = "\n".join(lines) + "\n" + rest
    assert bot.returncode == 0, output
    assert "Steve Witkoff" in reply["text"]
    unreachable = [line for line in output.splitlines() if "Telegram unreachable" in line]
    assert [line.split(": ", 1)[1] for line in unreachable] == [
        f"Telegram unreachable at {server.url} (Bad Gateway); retrying in 0.05 s",
        f"Telegram unreachable at {server.url} (Bad Gateway); retrying in 0.1 s",
        f"Telegram unreachable at {server.url} (Bad Gateway) while polling; retrying",
        f"Telegram unreachable at {server.url} (Bad Gateway) while polling; retrying",
    ]
    assert_clean(output)


@pytest.mark.parametrize(
    ("token", "flaw"),
    [
        ("918273645:AAZebraQuokka", "the part after the colon has only 13 characters"),
        ("AAZebraQuokka_DoNotLeak_7f3c9e1b2d4a", "it has no colon"),
        (f"bot{DISTINCTIVE}", "it starts with 'bot'"),
        (f'"{DISTINCTIVE}"', "it is in quotes"),
        (f"{DISTINCTIVE}\n", "it has spaces or a line break around it"),
        ("918273645:AAZebraQuokka/DoNotLeak+7f3c9e1b2d4a", "characters other than letters"),
    ],
)
def test_a_malformed_token_is_refused_before_loading_or_connecting(
    token: str, flaw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeBotAPI() as server:  # any call at all would be recorded, even a refused one
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
        monkeypatch.setenv("TELEGRAM_BASE_URL", server.url)
        # No stories and no index: reaching them would be a different error.
        folders = ["--stories", str(tmp_path / "none"), "--index", str(tmp_path / "index")]
        result = CliRunner().invoke(cli, ["run", *folders])
        assert server.calls == []
    assert result.exit_code == 1
    assert result.output.startswith("Error: TELEGRAM_BOT_TOKEN is not a bot token (")
    assert flaw in result.output
    assert "digits, a colon, then 30 or more letters, digits, _ or -" in result.output
    assert "AAZebraQuokka" not in result.output, "no part of the token is echoed"
    assert not (tmp_path / "index").exists()
