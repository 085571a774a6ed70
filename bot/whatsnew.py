"""What's new: the sentences that updates of the stories added or changed, as one cited Answer.

The baseline is a build id: the build a chat last saw, or else the previous build whose stories
differ (`index.versions.History.previous`). Each listed sentence is cited like an answer, with
`status` "added" or "changed" and, for a change, the wording at the baseline.

A baseline given by hand (`storybot whatsnew --since`) must have a build id's shape, a UTC time
(`index.versions`); any such time works, since builds are ordered by it, and anything else is
UnknownBuild, which lists the builds the history knows.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.answer import Answer, cite
from bot.templates import render
from index.errors import UnknownBuild
from index.store import Store
from index.stories import Catalog
from index.versions import History, build_time, served_history

MAX_LISTED = 10
BUILD_ID = re.compile(r"[0-9]{8}-[0-9]{6}\.[0-9]{9}")  # as index/builder.py makes them
KNOWN_LISTED = 5


def known_builds(history: History | None) -> list[str]:
    """Every build id the history records, oldest first."""
    if history is None:
        return []
    known = {history.build, *([history.previous] if history.previous else [])}
    for article in history.articles.values():
        known.add(article.first)
        known.update(version.build for version in article.versions)
    return sorted(known)


def _unknown(since: str, history: History | None) -> UnknownBuild:
    parts = [f"{since!r} is not a build id (they are UTC times like 20260101-120000.123456789)"]
    known = known_builds(history)[-KNOWN_LISTED:]
    if known:
        parts.append(f"this index's builds are {', '.join(known)} (newest last)")
    parts.append(
        '`storybot whatsnew --json` shows the current one as "build" and the one it compares '
        'with as "since"'
    )
    return UnknownBuild("; ".join(parts))


def whats_new(
    store: Store, since: str | None = None, limit: int = MAX_LISTED, catalog: Catalog | None = None
) -> Answer:
    """Sentences added or changed since build `since` (default: since the previous update).

    Raises IndexCorrupt if the build's history is damaged, UnknownBuild if `since` is not a
    build id. At most `limit` sentences are shown in the text; the citations list them all.
    `catalog` names the stories (see `bot.answer.cite`).
    """
    catalog = catalog or Catalog.of(store)
    history = served_history(store.path)
    if since is not None and not BUILD_ID.fullmatch(since):
        raise _unknown(since, history)
    baseline = since or (history.previous if history else None)
    changes = history.changes_since(baseline) if history and baseline else []
    position = {sentence.key: i for i, sentence in enumerate(store.sentences)}
    citations = [
        replace(cite(store, position[c.key], 1.0, catalog), status=c.status, previous=c.previous)
        for c in changes
        if c.key in position
    ]
    text = render(
        "whatsnew",
        citations=citations[:limit],
        more=max(0, len(citations) - limit),
        first=baseline is None,
        seen=since is not None,
        since_time=build_time(baseline or ""),
    )
    extra = {"build": store.build_id, "since": baseline}
    return Answer("/whatsnew", bool(citations), 1.0, citations, text, kind="whatsnew", extra=extra)
