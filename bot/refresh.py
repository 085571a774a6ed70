"""Refreshing the stories from their sources: poll the pages and feeds in `stories/sources.yaml`
(`index.watch`), then rebuild the index when a poll wrote stories.

`refresh_once` is `storybot watch --once` (for cron and scripts), `refresh_forever` is
`storybot watch`. Both take the rebuild as a function, so the CLI hands them the very build
`storybot index` runs (and the Redis builder lock with it, when configured). Besides after a
poll that wrote stories, the index is rebuilt once at the start when it does not match the
stories folder: a watch stopped between writing a story and indexing it catches up when it
next runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.builder import index_is_current
from index.sources import Source
from index.watch import Limits, Report, Watcher, describe, watch, worth_saying

Say = Callable[[str], None]
Rebuild = Callable[[], object]


@dataclass(frozen=True)
class Outcome:
    """What one `refresh_once` did: each source's report, and whether it rebuilt the index."""

    reports: list[Report]
    rebuilt: bool

    @property
    def failed(self) -> list[Report]:
        """The sources that did not answer (or answered nothing storybot can read)."""
        return [r for r in self.reports if not r.ok]


def needs_rebuild(reports: Sequence[Report], stories: Path, index: Path) -> bool:
    """True when a poll wrote stories, or the index does not match the stories folder."""
    return any(r.written for r in reports) or not index_is_current(stories, index)


def refresh_once(
    stories: Path,
    index: Path,
    sources: Sequence[Source],
    rebuild: Rebuild,
    say: Say = print,
    limits: Limits | None = None,
) -> Outcome:
    """Poll every source once, say a line for each that changed a story or failed, and rebuild
    the index if that is needed (`needs_rebuild`)."""
    with Watcher(stories, limits=limits or Limits(), sources=sources) as watcher:
        reports = watcher.poll(sources)
    for report in reports:
        if worth_saying(report):
            say(describe(report))
    rebuilt = needs_rebuild(reports, stories, index)
    if rebuilt:
        rebuild()
    return Outcome(reports, rebuilt)


def refresh_forever(
    stories: Path,
    index: Path,
    sources: Sequence[Source],
    rebuild: Rebuild,
    say: Say = print,
    limits: Limits | None = None,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll each source on its own interval until `stop()` (or Ctrl-C, which the caller
    catches), rebuilding after each poll that wrote stories (and after the first, if needed)."""
    first = True

    def on_poll(reports: list[Report]) -> None:
        nonlocal first
        # Only the first round checks the index against the folder: that reads every story.
        if (first or any(r.written for r in reports)) and needs_rebuild(reports, stories, index):
            rebuild()
        first = False

    with Watcher(stories, limits=limits or Limits(), sleep=sleep, sources=sources) as watcher:
        watch(watcher, list(sources), on_poll, say=say, stop=stop)
