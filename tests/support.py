"""Paths and small helpers shared by test modules (fixtures live in conftest.py)."""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click.testing
import numpy as np
import pytest
import redis
from click.testing import CliRunner

from bot.cli import cli
from bot.shared import connect

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.settings import BotSettings
    from index.embedder import Encoder

ROOT = Path(__file__).resolve().parent.parent
SEED_STORIES = ROOT / "stories"
SEED_FILE = SEED_STORIES / "2025-04-23-london-talks.txt"
DATA = Path(__file__).resolve().parent / "data"
NEWSROOM = DATA / "newsroom"  # three more stories to index beside the seed story
# The shared-state tests' Redis (they use unique key prefixes, so one server serves every run).
REDIS_URL = os.environ.get("STORYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# A second story with a url, beside the seed story, for the tests of a story that develops.
WITKOFF_MD = """---
title: Witkoff to meet Putin
url: https://example.com/news/witkoff-putin
---
Steve Witkoff will meet Vladimir Putin in Moscow on Friday. The Kremlin confirmed the meeting.
"""


def developing_stories(
    tmp_path: Path, embedder: "Encoder", **settings: Any
) -> "tuple[BotSettings, Engine]":
    """The seed story and WITKOFF_MD in `tmp_path/stories`, indexed into `tmp_path/var/index`
    with `embedder`; the settings (`settings` added) and an Engine asking as the bot does."""
    from bot.engine import Engine, build
    from bot.settings import BotSettings

    stories = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, stories)
    (stories / "witkoff.md").write_text(WITKOFF_MD, encoding="utf-8")
    config = BotSettings(stories=stories, index=tmp_path / "var" / "index", **settings)
    build(config, embedder)
    return config, Engine(config)


class FakeEmbedder:
    """A deterministic bag-of-words encoder (hashed words), fast enough for store tests.

    It implements the real `index.embedder.Encoder` interface, so stores built with it are real
    FAISS stores; only the vectors are cheap.
    """

    name = "fake-bow"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.md5(word.strip(".,\"'").encode()).digest()
                out[row, digest[0] % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] /= norm or 1.0
        return out


HUGE_STORY_BYTES = 50 * 1024 * 1024
YAML_BOMB = (
    "---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(
        f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, k in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "title: *h\n---\nBody text.\n"
)


def write_bad_stories(folder: Path) -> dict[str, str]:
    """Write one story file of each broken kind into `folder`; name → words its report must use.

    The 50 MB file is sparse, so it costs no disk and, if the loader is right, no reading.
    """
    # KOI8-R Russian: not UTF-8, and as Windows-1252 nothing but accented gibberish.
    (folder / "koi8.txt").write_bytes("Новости дня: совет проголосовал.".encode("koi8_r"))
    (folder / "empty.txt").write_text("   \n")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody text.\n")
    (folder / "bomb.md").write_text(YAML_BOMB)
    (folder / "story.docx").write_bytes(b"PK\x03\x04 a Word document")
    with (folder / "huge.txt").open("wb") as handle:
        handle.truncate(HUGE_STORY_BYTES)
    return {
        "koi8.txt": "not UTF-8 text",
        "empty.txt": "empty",
        "binary.txt": "binary",
        "broken.md": "line 2: malformed front matter",
        "bomb.md": "front matter field 'title' must be text",
        "huge.txt": "too large",
        "story.docx": ".docx files are not read",
    }


# The first line of a hedge (prompts/not_in_story.html.j2): the reader is not sure enough to
# present the quote as the answer (index/reader.py, `threshold`).
HEDGE = "The story may not say exactly — the closest it comes:"


def quote_of(reply: str) -> str:
    """A plain reply's quote: what follows a hedge's first line, else the reply itself."""
    return reply.split("\n", 1)[1] if reply.startswith(HEDGE) else reply


def reader_with_threshold(folder: Path, threshold: float) -> Path:
    """A copy of the shipped reader in `folder` whose answer threshold is `threshold`: for
    tests of what happens to answers as such (who gets one), whatever the shipped reader's
    fitted threshold makes of their questions."""
    from index.reader import READER_DIR

    shutil.copytree(READER_DIR, folder)
    params = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    (folder / "reader.json").write_text(json.dumps({**params, "threshold": threshold}), "utf-8")
    return folder


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_at(url: str = REDIS_URL) -> redis.Redis:
    """A client of the Redis at `url`, failing the test (never skipping it) if none answers."""
    client = connect(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis answers at STORYBOT_TEST_REDIS_URL={url} ({exc}); start one")
    return client


def redis_server(port: int) -> subprocess.Popen[bytes]:
    """A private redis-server on `port` that keeps nothing on disk, for tests that stop it."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed; this test starts its own to stop it")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                probe.ping()
                return proc
            except redis.ConnectionError:
                time.sleep(0.05)
    finally:
        probe.close()
    proc.kill()
    pytest.fail("the private redis-server did not start")


def run_env(
    settings: "BotSettings", tmp_path: Path, base_url: str, token: str, **extra: str
) -> dict[str, str]:
    """The environment of a `storybot run` process over `settings`' stories and index."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": base_url,
        "STORYBOT_STORIES": str(settings.stories),
        "STORYBOT_INDEX": str(settings.index),
        "STORYBOT_STATE": str(tmp_path / "state.db"),
        **extra,
    }


def storybot_run(env: dict[str, str], cwd: Path) -> "subprocess.CompletedProcess[str]":
    """`storybot run` in a process of its own, to its end (two minutes at most)."""
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_cli(args: list[str], stdin: str | None = None) -> click.testing.Result:
    """`storybot ARGS` in this process (CliRunner), exceptions not caught."""
    return CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)


def numbered(text: str) -> list[str]:
    """The numbered lines of a summary."""
    return [line for line in text.splitlines() if re.match(r"\d+\. ", line)]


def swap_concurrently(state: Any, chat_id: int, swaps: int = 40) -> list[str | None]:
    """`swaps` threads each swap `b1`…`bN` into a chat's `seen_build` at once (it holds `b0`);
    the old values handed back, one per swap."""
    olds: list[str | None] = []
    lock = threading.Lock()

    def swap(i: int) -> None:
        old = state.swap(chat_id, "seen_build", f"b{i}")
        with lock:
            olds.append(old)

    threads = [threading.Thread(target=swap, args=(i,)) for i in range(1, swaps + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return olds
