"""The one builder: `storybot index --watch` with Redis builds under the lock, publishes each
build, rebuilds once per burst of edits, and stops cleanly (a real process, the real model)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bot.shared import BuilderLock, published_build
from support import REDIS_URL as URL
from support import SEED_STORIES, redis_at


def _wait_for(check: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return None


def test_index_watch_publishes_each_build_to_the_workers(tmp_path: Path) -> None:
    client = redis_at(URL)
    prefix = f"storybot-test-{uuid.uuid4().hex[:10]}"
    stories = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, stories)
    env = {
        **os.environ,
        "STORYBOT_REDIS_URL": URL,
        "STORYBOT_REDIS_PREFIX": prefix,
        "STORYBOT_STORIES": str(stories),
        "STORYBOT_INDEX": str(tmp_path / "index"),
        "HF_HUB_OFFLINE": "1",
    }
    builder = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "index", "--watch"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
