"""The one builder: `storybot index --watch` with Redis builds under the lock, publishes each
build, rebuilds once per burst of edits, and stops cleanly (a real process, the real model); and
when Redis goes silent after the lock is taken (tests/redisproxy.py), the build stands, the
builder goes on, and the build is published once Redis answers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from pydantic import SecretStr

from bot.builder import Builder
from bot.settings import BotSettings
from bot.shared import BuilderLock, published_build
from index.store import current_build
from redisproxy import RedisProxy, proxying
from support import REDIS_URL as URL
from support import SEED_STORIES, FakeEmbedder, redis_at


def redis_target() -> tuple[str, int]:
    """Where the test Redis listens."""
    parts = urlsplit(URL)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def _wait_for(check: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return None


def index_watch(
    redis_url: str, prefix: str, stories: Path, tmp_path: Path
) -> subprocess.Popen[str]:
    """`storybot index --watch` as the one builder, in a process of its own (output merged)."""
    env = {
        **os.environ,
        "STORYBOT_REDIS_URL": redis_url,
        "STORYBOT_REDIS_PREFIX": prefix,
        "STORYBOT_STORIES": str(stories),
        "STORYBOT_INDEX": str(tmp_path / "index"),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "index", "--watch"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_index_watch_publishes_each_build_to_the_workers(tmp_path: Path) -> None:
    client = redis_at(URL)
    prefix = f"storybot-test-{uuid.uuid4().hex[:10]}"
    stories = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, stories)
    builder = index_watch(URL, prefix, stories, tmp_path)
    try:
        first = _wait_for(lambda: published_build(client, prefix), 180)
        assert first, "the first build was never published"
        assert (tmp_path / "index.builds" / str(first)).is_dir()
        # While it watches, the builder lock is free: it is held only while building.
        with BuilderLock(client, prefix=prefix):
            pass
        story = next(stories.glob("*.txt"))
        story.write_text(story.read_text() + "\nA closing line about grain exports.\n")
        second = _wait_for(lambda: (b := published_build(client, prefix)) != first and b, 180)
        assert second, "the edit was never rebuilt and published"
        builder.send_signal(signal.SIGTERM)  # how a platform stops the Procfile's builder:
        out, _ = builder.communicate(timeout=60)
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.communicate()  # reaped, its pipe closed
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()
    assert builder.returncode == 0, out
    assert out.count("(published to the workers)") == 2, out
    assert "Stopped watching." in out and "Traceback" not in out


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[redis.Redis, str, Path]]:
    """The test Redis, a key prefix of the test's own (its keys deleted after), and a copy of
    the seed stories."""
    client = redis_at(URL)
    prefix = f"storybot-test-{uuid.uuid4().hex[:10]}"
    stories = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, stories)
    try:
        yield client, prefix, stories
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def proxied(proxy: RedisProxy) -> str:
    """The test Redis's URL (its database included) through `proxy`."""
    parts = urlsplit(URL)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))


def test_redis_going_silent_after_the_lock_leaves_the_build_standing_and_publishes_later(
    shared: tuple[redis.Redis, str, Path], tmp_path: Path
) -> None:
    client, prefix, stories = shared
    with proxying(redis_target()) as proxy:
        settings = BotSettings(
            stories=stories,
            index=tmp_path / "index",
            redis_url=SecretStr(proxied(proxy)),
            redis_prefix=prefix,
        )
        proxy.silent_after(f"{prefix}:builder".encode())  # silent once the lock is taken
        builder = Builder(settings, FakeEmbedder())
        built = builder.build()
        assert built.unpublished is not None and not built.published
        assert f"build {built.report.path.name} stands here, but Redis did not take" in (
            built.unpublished
        )
        assert current_build(settings.index) == built.report.path  # the build stands
        assert published_build(client, prefix) is None
        assert builder.retry() is None, "not before RETRY_SECONDS"
        proxy.speak()
        builder._next_try = 0.0  # the retry is due
        assert builder.retry() == built.report.path.name
        assert published_build(client, prefix) == built.report.path.name
        assert builder.retry() is None, "published once"


def test_index_watch_outlives_a_silent_redis_and_publishes_once_it_answers(
    shared: tuple[redis.Redis, str, Path], tmp_path: Path
) -> None:
    client, prefix, stories = shared
    with proxying(redis_target()) as proxy:
        proxy.silent_after(f"{prefix}:builder".encode())
        builder = index_watch(proxied(proxy), prefix, stories, tmp_path)
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: lines.extend(iter(builder.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        try:
            failed = _wait_for(lambda: any("did not take" in line for line in lines), 180)
            assert failed, "".join(lines)
            assert builder.poll() is None, "the builder keeps watching"
            made = current_build(tmp_path / "index")
            assert made is not None and published_build(client, prefix) is None
            proxy.speak()
            published = _wait_for(lambda: published_build(client, prefix), 60)
            assert published == made.name
            builder.send_signal(signal.SIGTERM)
            builder.wait(timeout=60)
        finally:
            if builder.poll() is None:
                builder.kill()
                builder.wait()
            reader.join(timeout=10)
            builder.stdout.close()  # type: ignore[union-attr]
    out = "".join(lines)
    assert builder.returncode == 0, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"build {made.name} stands here" in errors[0], out
    assert f"Published build {made.name} to the workers." in out
    assert "Stopped watching." in out and "Traceback" not in out
