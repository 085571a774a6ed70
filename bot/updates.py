"""What's new: the sentences that updates of the stories added or changed, as one cited Answer.

The baseline is a build id: the build a chat last saw, or else the previous build whose stories
differ (`index.versions.History.previous`). Each listed sentence is cited like an answer, with
`status` "added" or "changed" and, for a change, the wording at the baseline.
"""

from __future__ import annotations

from dataclasses import replace

from bot.answer import Answer, cite
from bot.templates import render
from index.store import Store
from index.versions import build_time, served_history

MAX_LISTED = 10


def whats_new(store: Store, since: str | None = None, limit: int = MAX_LISTED) -> Answer:
    """Sentences added or changed since build `since` (default: since the previous update).

    Raises IndexCorrupt if the build's history is damaged. At most `limit` sentences are shown
    in the text; the citations list them all.
    """
    history = served_history(store.path)
    baseline = since or (history.previous if history else None)
    changes = history.changes_since(baseline) if history and baseline else []
    position = {sentence.key: i for i, sentence in enumerate(store.sentences)}
    citations = [
        replace(cite(store, position[c.key], 1.0), status=c.status, previous=c.previous)
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
