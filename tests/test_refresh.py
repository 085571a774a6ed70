"""bot/refresh.py: polls, then rebuilds only when a poll wrote stories or the index is behind the
folder (a watch stopped between writing and indexing catches up on its next start)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.engine import build
from bot.refresh import refresh_forever, refresh_once
from bot.settings import BotSettings
from index.articles import parse_article
from index.sources import Source
from index.watch import Limits, story_name
from support import SEED_FILE, FakeEmbedder
from website import PAGE, Site

QUICK = Limits(timeout=2.0, retries=0)


def rounds(n: int) -> Callable[[], bool]:
    """A `stop` that lets the watch loop go round `n` times."""
    calls = iter(range(n + 1))
    return lambda: next(calls) >= n


def test_a_rebuild_follows_a_poll_that_wrote_or_an_index_behind_its_folder(
    site: Site, tmp_path: Path
) -> None:
    settings = BotSettings(stories=tmp_path / "stories", index=tmp_path / "var" / "index")
    settings.stories.mkdir()
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    sources = [Source(f"{site.base}/page")]
    builds: list[int] = []

    def rebuild() -> None:
        report, _ = build(settings, FakeEmbedder())
        builds.append(report.articles)

    def watch() -> None:
        refresh_forever(
            settings.stories,
            settings.index,
            sources,
            rebuild,
            say=lines.append,
            limits=QUICK,
            stop=rounds(3),
            sleep=lambda _s: None,
        )

    lines: list[str] = []
    watch()  # the page is new: written, then indexed
    assert builds == [1] and lines == [f"{site.base}/page: 1 story updated"]
    watch()  # 304 and the index is current: nothing to do, nothing said
    assert builds == [1] and len(lines) == 1
    (settings.stories / SEED_FILE.name).write_bytes(SEED_FILE.read_bytes())
    watch()  # 304, but the folder has a story the index lacks: one catch-up build
    assert builds == [1, 2] and len(lines) == 1
    outcome = refresh_once(settings.stories, settings.index, sources, rebuild, lines.append, QUICK)
    assert not outcome.rebuilt and not outcome.failed and builds == [1, 2]


def test_the_daemon_outlives_any_sources_fault_and_a_failed_rebuild(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = BotSettings(stories=tmp_path / "stories", index=tmp_path / "var" / "index")
    (settings.stories / "web").mkdir(parents=True)
    (settings.stories / "web" / "localhost").write_text("a file where a folder would go")
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    site.page("/boom", PAGE.format(news="A page that trips a bug nobody foresaw."))
    local = site.base.replace("127.0.0.1", "localhost")
    sources = [Source(f"{site.base}/boom"), Source(f"{local}/page"), Source(f"{site.base}/page")]

    def parse(name: str, raw: bytes) -> object:
        if b"nobody foresaw" in raw:
            raise RuntimeError("an unforeseen bug")
        return parse_article(name, raw)

    monkeypatch.setattr("index.watch.parse_article", parse)
    builds: list[int] = []

    def rebuild() -> None:
        if not builds:
            builds.append(0)
            raise RuntimeError("the first build broke")
        report, _ = build(settings, FakeEmbedder())
        builds.append(report.articles)

    lines: list[str] = []
    now = [0.0]  # a clock that the loop's sleeps move on

    def sleep(seconds: float) -> None:
        now[0] += max(seconds, 1.0)

    refresh_forever(
        settings.stories,
        settings.index,
        [replace(s, every=30.0) for s in sources],
        rebuild,
        say=lines.append,
        limits=QUICK,
        stop=rounds(40),  # the sources are polled again 30 s (of the fake clock) later
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert lines[:3] == [
        f"{site.base}/boom: failed: RuntimeError: an unforeseen bug",
        f"{local}/page: failed: cannot write {settings.stories}/{story_name(f'{local}/page')} "
        "(File exists)",
        f"{site.base}/page: 1 story updated",
    ]
    assert lines[3] == (
        "Error: the rebuild failed (RuntimeError: the first build broke); watching goes on"
    )
    assert builds == [0, 1], "the next round built what the failed one could not"
