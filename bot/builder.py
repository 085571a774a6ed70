"""The one builder (`storybot index`, `storybot watch`): a build, and with STORYBOT_REDIS_URL the
Redis builder lock around it and its id published to the workers.

Redis failing after the lock was taken is handled as Redis failing before it: one line, never a
traceback, and a long-running builder goes on. The build itself stands: the index symlink
already points to it, and every worker reading that index sees it within its 5 s check. The
publication (the workers' prompt to load it at once, and what a late starter or another host's
sidecar reads) is tried PUBLISH_TRIES times with backoff; when Redis still does not take it the
build is kept as unpublished, and `retry` publishes it later, unless a newer build took its place.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from bot.engine import build
from bot.settings import BotSettings
from bot.shared import BuilderLock, connect, publish_build
from index.builder import BuildReport
from index.embedder import Encoder
from index.errors import StorybotError
from index.store import current_build

PUBLISH_TRIES = 3
RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class Built:
    """A build that stands: its report, the story files skipped, and, when Redis is configured,
    whether the workers were told (`unpublished` says why not)."""

    report: BuildReport
    problems: list[str]
    published: bool = False
    unpublished: str | None = None


class Builder:
    """Builds the settings' index; with Redis, under the lock, publishing each build."""

    def __init__(self, settings: BotSettings, encoder: Encoder | None = None) -> None:
        self.settings, self.encoder = settings, encoder
        self.waiting: str | None = None  # the build Redis did not take, to publish later
        self.token = uuid.uuid4().hex  # this builder's builder-lock token, for all its builds
        self._next_try = 0.0

    def build(self, progress: bool = False) -> Built:
        """One build; StorybotError when it could not be made (the lock busy, Redis away before
        it, no stories). A build made but not published comes back with `unpublished` set."""
        settings = self.settings
        if settings.redis_url is None:
            return Built(*build(settings, self.encoder, progress=progress))
        client = connect(settings.redis_url.get_secret_value())
        try:
            with BuilderLock(client, prefix=settings.redis_prefix, token=self.token):
                report, problems = build(settings, self.encoder, progress=progress)
                self.waiting = report.path.name
                try:
                    publish_build(
                        client, report.path.name, settings.redis_prefix, tries=PUBLISH_TRIES
                    )
                except StorybotError as exc:
                    self._next_try = time.monotonic() + RETRY_SECONDS
                    return Built(report, problems, unpublished=str(exc))
                self.waiting = None
                return Built(report, problems, published=True)
        finally:
            client.close()

    def retry(self) -> str | None:
        """Publish the build Redis did not take, at most every RETRY_SECONDS, if it is still the
        one served; its id once published, else None. Quiet: the failure was said once."""
        if self.waiting is None or self.settings.redis_url is None:
            return None
        if time.monotonic() < self._next_try:
            return None
        self._next_try = time.monotonic() + RETRY_SECONDS
        served = current_build(self.settings.index)
        if served is None or served.name != self.waiting:
            self.waiting = None  # a newer build was made (and published, or is waiting itself)
            return None
        client = connect(self.settings.redis_url.get_secret_value())
        try:
            with BuilderLock(client, prefix=self.settings.redis_prefix, token=self.token):
                publish_build(client, self.waiting, self.settings.redis_prefix)
        except StorybotError:
            return None
        finally:
            client.close()
        done, self.waiting = self.waiting, None
        return done
