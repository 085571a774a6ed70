"""Bot throughput: a burst of questions from many users through the fake Bot API server.

The bot runs as its own process (`bench.botproc`) polling a `FakeBotAPI` on 127.0.0.1 in this
process; 500 questions from 50 users are queued at once and we time every first reply. The
same run measures an echo bot as the ceiling, the time from process start to the first
`getUpdates` (cold start of the bot), and the bot's peak RSS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.corpus import BENCH_DIR
from bench.stats import pct, peak_rss_mb
from bot.settings import BotSettings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import fakebot  # noqa: E402
from fakebot import FakeBotAPI  # noqa: E402

# socketserver's default backlog of 5 resets connections under a 500-question burst; a real
# Bot API server accepts them, so the fake server gets a real backlog here.
fakebot._Server.request_queue_size = 256


def bot_env(server: FakeBotAPI, settings: BotSettings, answer_cache: int = 0) -> dict[str, str]:
    """Environment for a bot process serving `settings`' index against `server`; by default
    every question is answered afresh (the bench's questions repeat: kept answers would time
    the cache, not the answering)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYBOT_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.url,
        STORYBOT_STORIES=str(settings.stories),
        STORYBOT_INDEX=str(settings.index),
        STORYBOT_STATE=":memory:",
        STORYBOT_RATE_LIMIT="0",
        STORYBOT_ANSWER_CACHE=str(answer_cache),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def _answered(server: FakeBotAPI, since: float) -> dict[tuple[int, int], float]:
    """(chat, question message id) → time of the first reply, for replies after `since`."""
    out: dict[tuple[int, int], float] = {}
    for call in list(server.calls):
        if call.method == "sendMessage" and call.ok and call.time >= since:
            reply = call.params.get("reply_parameters") or {}
            key = (int(call.params["chat_id"]), int(reply.get("message_id", -1)))
            out.setdefault(key, call.time)
    return out


def burst(
    kind: str,
    settings: BotSettings,
    questions: list[str],
    users: int = 50,
    total: int = 500,
    rate: float | None = None,
    answer_cache: int = 0,
) -> dict[str, Any]:
    """Start a bot, wait until it polls, send `total` questions, time the replies.

    All at once by default; with `rate`, paced at that many questions a second (steady load,
    where reply latency is the bot's own rather than the queue's). `answer_cache` is the
    bot's STORYBOT_ANSWER_CACHE (0: every question answered afresh).
    """
    with FakeBotAPI() as server:
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.botproc", kind],
            env=bot_env(server, settings, answer_cache),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(BENCH_DIR / f"bot-{kind}.log").open("w"),
        )
        try:
            server.wait_for("getUpdates", 1, timeout=600, ok_only=False)
            polls_s = min(c.time for c in server.calls if c.method == "getUpdates") - started
            server.private_text("Who is Steve Witkoff?", user_id=1)
            server.wait_for("sendMessage", 1, timeout=120)
            sent_at: dict[tuple[int, int], float] = {}
            t0 = time.time()
            for i in range(total):
                user = 10_000 + i % users
                update = server.private_text(questions[i % len(questions)], user_id=user)
                sent_at[(user, update["message"]["message_id"])] = time.time()
                if rate:
                    time.sleep(max(0.0, t0 + (i + 1) / rate - time.time()))
            deadline = time.time() + 900
            while len(replies := _answered(server, t0)) < total and time.time() < deadline:
                time.sleep(0.05)
            latencies = [replies[k] - sent_at[k] for k in sent_at if k in replies]
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    elapsed = max(replies.values()) - t0 if replies else float("nan")
    return {
        "kind": kind,
        "answered": len(latencies),
        "per_s": len(latencies) / elapsed if elapsed else float("nan"),
        "p50_ms": pct(latencies, 50) * 1000,
        "p95_ms": pct(latencies, 95) * 1000,
        "polls_s": polls_s,
        "rss_mb": rss,
    }
