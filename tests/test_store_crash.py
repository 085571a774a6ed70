"""Index safety: a build killed at any point leaves the old index serving; damage is refused.

Each build runs in a subprocess whose encoder and file writes announce themselves on stdout; the
test waits for the announcement of a stage and kills the process there, while it is paused. Then
the served index must still load (checksums verified), give the same answers as before, and the
next build must take the lock and clean up what the killed one left behind.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import build
from bot.settings import BotSettings
from index.articles import load_articles
from index.builder import build_index, build_lock
from index.embedder import Embedder
from index.errors import IndexBusy, IndexCorrupt
from index.search import search
from index.store import current_build, load_store
from support import ROOT, FakeEmbedder

QUESTIONS = ["Who is Steve Witkoff?", "Why did Rubio cancel?", "What does Kyiv want first?"]
STAGES = ["encode", "write", "rename", "swap"]  # embedding, writing files, before rename, swap
RANDOM_KILLS = 4
BUILDER = """
import os, pathlib, sys, time
import faiss
from support import FakeEmbedder
from index.articles import load_articles
from index.builder import build_index

stories, index_dir, stop_at, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

def mark(stage):
    print(stage, flush=True)
    time.sleep(60 if stage == stop_at else pause)

class SlowEmbedder(FakeEmbedder):
    def encode(self, texts, progress=False):
        mark("encode")
        return super().encode(texts, progress)

def wrap(owner, name, stage):
    real = getattr(owner, name)
    def announced(*args, **kwargs):
        mark(stage)
        return real(*args, **kwargs)
    setattr(owner, name, announced)

wrap(faiss, "write_index", "write")
wrap(pathlib.Path, "rename", "rename")
wrap(os, "replace", "swap")
articles, _ = load_articles(pathlib.Path(stories))
mark("start")
build_index(articles, pathlib.Path(index_dir), SlowEmbedder())
print("done", flush=True)
"""


def start_build(stories: Path, index_dir: Path, stop_at: str, pause: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(stories), str(index_dir), stop_at, str(pause)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_stage(process: subprocess.Popen, stage: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == stage:
            return
    raise AssertionError(f"the build finished without reaching {stage!r}")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    code = process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()
    assert code == -signal.SIGKILL


def answers(index_dir: Path) -> list[list[int]]:
    store = load_store(index_dir)  # verifies every checksum
    encoder = FakeEmbedder()
    return [[hit.index for hit in search(store, encoder, q).hits] for q in QUESTIONS]


@pytest.fixture
def served(stories_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A built index of the seed story, and a new story waiting for the next build."""
    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "var" / "index", FakeEmbedder())
    (stories_dir / "grain.txt").write_text(
        "Grain exports resumed on Tuesday. Ships left Odesa under escort.\n", encoding="utf-8"
    )
    return stories_dir, tmp_path / "var" / "index"


def test_killed_builds_leave_the_previous_index_serving(served: tuple[Path, Path]) -> None:
    stories, index_dir = served
    before, served_build = answers(index_dir), current_build(index_dir)
    rng = random.Random(6)
    kills = [(stage, 0.0, None) for stage in STAGES]
    kills += [("never", 0.05, rng.uniform(0.0, 0.4)) for _ in range(RANDOM_KILLS)]
    for stage, pause, after in kills:
        process = start_build(stories, index_dir, stage, pause)
        wait_for_stage(process, "start" if after is not None else stage)
        if after is not None:
            time.sleep(after)
        kill(process)
        assert current_build(index_dir) == served_build, f"killed at {stage}"
        assert answers(index_dir) == before, f"killed at {stage}"
        with build_lock(index_dir):  # the kernel released the dead build's lock
            pass
    report = build_index(load_articles(stories)[0], index_dir, FakeEmbedder())
    assert current_build(index_dir) == report.path
    assert load_store(index_dir).manifest["counts"]["articles"] == 2
    leftovers = [p.name for p in index_dir.parent.rglob(".*")]
    assert leftovers == [], "temp folders and links of killed builds are pruned"


def test_a_second_build_cannot_interleave_with_a_running_one(served: tuple[Path, Path]) -> None:
    stories, index_dir = served
    before = answers(index_dir)
    process = start_build(stories, index_dir, "encode", 0.0)
    try:
        wait_for_stage(process, "encode")
        with pytest.raises(IndexBusy):
            build_index(load_articles(stories)[0], index_dir, FakeEmbedder())
    finally:
        kill(process)
    assert answers(index_dir) == before


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "damage", "words"),
    [
        ("sentences.faiss", _truncate, "fails its checksum"),
        ("articles.json", _flip_a_byte, "fails its checksum"),
        ("passages.json", Path.unlink, "is missing"),
    ],
)
def test_a_damaged_index_file_is_refused_by_name(
    served: tuple[Path, Path], name: str, damage: Callable[[Path], None], words: str
) -> None:
    _, index_dir = served
    damage(index_dir / name)
    with pytest.raises(IndexCorrupt, match=rf"{re.escape(name)}.*{words}|{words}.*{name}"):
        load_store(index_dir)


def test_storybot_ask_on_a_damaged_index_says_so_without_a_traceback(
    stories_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    config = BotSettings(stories=stories_dir, index=tmp_path / "index", token=None)
    build(config, embedder)  # current, so the CLI loads it rather than rebuilding it
    _truncate(config.index / "sentences.faiss")
    args = ["--stories", str(stories_dir), "--index", str(config.index)]
    result = CliRunner().invoke(cli, ["ask", *args, "Who is Steve Witkoff?"])
    assert result.exit_code == 1
    assert "sentences.faiss" in result.output and "checksum" in result.output
    assert "Traceback" not in result.output
