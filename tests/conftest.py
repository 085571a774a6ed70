"""Shared fixtures: the real packaged model, a real index of the seed story (built once) and the
fake Bot API server."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import NEWSROOM, SEED_STORIES

# Under pytest-xdist (`make test`) the workers already keep every core busy: torch's own thread
# pool in each of them would only spin against the others. Set before anything imports torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta, as the app does.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# One ONNX export of the model per test run (pytest-xdist's workers inherit this variable),
# shared by every index the tests build and by the storybot processes they start: an export
# costs 4-5 s of CPU, and beside each temporary index it was made 15 times a run. The first
# build of a run makes it, under index.onnx_encoder's lock, so every run exercises the export.
if "STORYBOT_MODELS" not in os.environ:
    os.environ["STORYBOT_MODELS"] = tempfile.mkdtemp(prefix="storybot-test-models-")
    atexit.register(shutil.rmtree, os.environ["STORYBOT_MODELS"], ignore_errors=True)

from bot.engine import Engine, build
from bot.settings import BotSettings
from fakebot import FakeBotAPI
from index.embedder import Embedder
from index.settings import packaged_model_path
from website import Site, serving

# `make test` gives each pytest-xdist worker whole modules (--dist loadfile), so a module's
# fixtures are made once however the suite is spread. The longest modules (by a profile of the
# suite, slowest first) are handed out first: one begun last would leave the other workers idle.
LONG_FIRST = (
    "test_workers.py",
    "test_delivery.py",
    "test_follow_e2e.py",
    "test_builder.py",
    "test_shared.py",
    "test_app.py",
    "test_cli_stories.py",
    "test_reader.py",
    "test_onnx_encoder.py",
    "test_cli.py",
    "test_search_quality.py",
    "test_store_crash.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a module


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 from the installed wheel, loaded once per test run."""
    return Embedder(packaged_model_path())


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> BotSettings:
    """Settings for a private copy of the seed stories and an index folder, both in tmp."""
    root = tmp_path_factory.mktemp("seed")
    shutil.copytree(SEED_STORIES, root / "stories")
    return BotSettings(
        stories=root / "stories", index=root / "var" / "index", state=":memory:", token=None
    )


@pytest.fixture(scope="session")
def seed_engine(seed_settings: BotSettings, embedder: Embedder) -> Engine:
    """An Engine over a real FAISS index of the seed story (built once), asked as the bot is:
    questions encoded by the model's ONNX export."""
    build(seed_settings, embedder)
    return Engine(seed_settings)


@pytest.fixture(scope="session")
def newsroom_settings(tmp_path_factory: pytest.TempPathFactory) -> BotSettings:
    """The seed story beside three more (tests/data/newsroom): its follow-up, also titled
    "London talks" and repeating its Witkoff sentence; a budget vote; a harbour fire."""
    root = tmp_path_factory.mktemp("newsroom")
    shutil.copytree(SEED_STORIES, root / "stories")
    for story in NEWSROOM.iterdir():
        shutil.copy(story, root / "stories" / story.name)
    return BotSettings(
        stories=root / "stories", index=root / "var" / "index", state=":memory:", token=None
    )


@pytest.fixture(scope="session")
def newsroom_engine(newsroom_settings: BotSettings, embedder: Embedder) -> Engine:
    """An Engine over a real index of the four newsroom stories (built once)."""
    build(newsroom_settings, embedder)
    return Engine(newsroom_settings)


@pytest.fixture
def stories_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh stories folder holding a copy of the seed story."""
    folder = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, folder)
    yield folder


@pytest.fixture
def server() -> Iterator[FakeBotAPI]:
    """A fresh fake Bot API server on 127.0.0.1 as fakebot's TOKEN / BOT_USERNAME bot."""
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def site() -> Iterator[Site]:
    """A newsroom's web site on 127.0.0.1 (tests/website.py), serving what a test puts on it."""
    with serving() as served:
        yield served


@pytest.fixture
def newsroom_args(newsroom_settings: BotSettings, newsroom_engine: Engine) -> list[str]:
    """--stories/--index options for the session's built four-story index."""
    return ["--stories", str(newsroom_settings.stories), "--index", str(newsroom_settings.index)]


@pytest.fixture
def seed_args(seed_settings: BotSettings, seed_engine: Engine) -> list[str]:
    """--stories/--index options for the session's built seed index."""
    return ["--stories", str(seed_settings.stories), "--index", str(seed_settings.index)]
