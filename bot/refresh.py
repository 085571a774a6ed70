"""Refreshing the stories from their sources: poll the pages and feeds in `stories/sources.yaml`
(`index.watch`), then rebuild the index when a poll wrote stories.

`refresh_once` is `storybot watch --once` (for cron and scripts), `refresh_forever` is
`storybot watch`, a long-running daemon that no source's fault ends: each source is polled on
its own, and whatever one raises — even an error storybot did not foresee — fails that source
with one line, as a failed rebuild is one line; the next round goes on. Both take the rebuild as
a function, so the CLI hands them the very build `storybot index` runs (and the Redis builder
lock with it, when configured). Besides after a poll that wrote stories, the index is rebuilt
once at the start when it does not match the stories folder: a watch stopped between writing a
story and indexing it catches up when it next runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.builder import index_is_current
from index.errors import StorybotError
from index.sources import Source
from index.watch import Limits, Report, Watcher, describe, watch, worth_saying

log = logging.getLogger(__name__)

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
        reports = poll_each(watcher, sources)
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
    clock: Callable[[], float] = time.monotonic,
    each_round: Callable[[], object] = lambda: None,
) -> None:
    """Poll each source on its own interval until `stop()` (or Ctrl-C, which the caller
    catches), rebuilding after each poll that wrote stories (and after the first, if needed).
    `each_round()` runs after each round's polls (the builder retries an announcement there)."""
    first = True

    def on_poll(reports: list[Report]) -> None:
        nonlocal first
        try:
            each_round()
            # Only the first round checks the index against the folder: that reads every story.
            if (first or any(r.written for r in reports)) and needs_rebuild(
                reports, stories, index
            ):
                rebuild()
            first = False  # left True by a failed build: the next round checks again
        except Exception as exc:  # the daemon outlives a failed build; the next round retries
            say(f"Error: the rebuild failed ({_fault(exc)}); watching goes on")

    with Watcher(stories, limits=limits or Limits(), sleep=sleep, sources=sources) as watcher:
        watch(
            watcher,
            list(sources),
            on_poll,
            say=say,
            stop=stop,
            clock=clock,
            poll=lambda batch: poll_each(watcher, batch),
        )


def poll_each(watcher: Watcher, sources: Sequence[Source]) -> list[Report]:
    """`watcher.poll` one source at a time, so that whatever one raises fails that source only
    (a report of its own, saying what it was) and never the poll of the rest."""
    reports: list[Report] = []
    for source in sources:
        try:
            reports += watcher.poll([source])
        except Exception as exc:  # a fault nobody foresaw is still only this source's
            log.debug("polling %s failed", source.url, exc_info=True)
            reports.append(Report(source.url, "failed", _fault(exc)))
    return reports


def _fault(exc: Exception) -> str:
    """An exception in one line: a storybot error's message, else its type and message."""
    if isinstance(exc, StorybotError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
