"""bot/refresh.py: polls, then rebuilds only when a poll wrote stories or the index is behind the
folder (a watch stopped between writing and indexing catches up on its next start)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.engine import build
from bot.refresh import refresh_forever, refresh_once
from bot.settings import BotSettings
from index.sources import Source
from index.watch import Limits
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
