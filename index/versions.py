"""Versions: what the stories said before, and which sentences an update added or changed.

Every build writes `history.json` into its own folder: for each article, the build it first
appeared in and its last few versions (at most MAX_VERSIONS, newest last), each the build that
first served it and its sentence texts. A build copies the previous build's history forward, so
"what changed since build X" never needs X's folder to survive pruning.

A sentence's id is `index.splitter.sentence_key` (article id + normalised text), so a sentence
whose wording is untouched keeps its id when text around it moves. Between two versions of an
article, a sentence with a new id is "changed" when it is a close edit of a sentence that went
away (difflib ratio ≥ CHANGED_RATIO; best pairs first, each old sentence used once), and keeps the
old wording; otherwise it is "added". Sentences that were only removed are not reported: there is
nothing left in the index to cite.

Build ids are UTC timestamps (`20260101-120000.123456789`), so comparing them as strings orders
them in time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from index.articles import Article
from index.errors import IndexCorrupt, IndexNotBuilt
from index.manifest import manifest_or_none, read_json, read_manifest, write_json
from index.splitter import Sentence, sentence_key, split_article

HISTORY_FILE = "history.json"
HISTORY_FORMAT = 1
MAX_VERSIONS = 10
CHANGED_RATIO = 0.6


@dataclass(frozen=True)
class Version:
    """One version of an article: the build that first served it and its sentences."""

    build: str
    sentences: tuple[str, ...]


ChangeStatus = Literal["added", "changed"]


@dataclass(frozen=True)
class Change:
    """A sentence an update added, or changed (then `previous` is the old wording)."""

    article: str
    status: ChangeStatus
    text: str
    previous: str | None = None

    @property
    def key(self) -> str:
        """The sentence id of the new wording."""
        return sentence_key(self.article, self.text)


@dataclass(frozen=True)
class ArticleHistory:
    """The build an article first appeared in, and its recorded versions, newest last."""

    first: str
    versions: tuple[Version, ...]

    def at(self, build: str) -> Version | None:
        """The version served by `build` (None if the article did not exist yet).

        When `build` is older than every kept version but not older than the article, the
        oldest kept version stands in for it (history is bounded).
        """
        if build < self.first:
            return None
        served = [v for v in self.versions if v.build <= build]
        return served[-1] if served else self.versions[0]


@dataclass(frozen=True)
class History:
    """The versions of every article as of `build`; `previous` is the last build that differed."""

    build: str
    previous: str | None
    articles: dict[str, ArticleHistory]

    def changes_since(self, since: str) -> list[Change]:
        """Sentences added or changed between build `since` and this one, in story order."""
        changes: list[Change] = []
        for article, history in self.articles.items():
            old = history.at(since)
            current = history.versions[-1].sentences
            before = old.sentences if old else ()
            if before != current:
                changes.extend(diff(article, before, current))
        return changes

    @cached_property
    def revised(self) -> dict[str, str]:
        """Sentence id → earlier wording, for current sentences that an update changed."""
        revised: dict[str, str] = {}
        for article, history in self.articles.items():
            current = {sentence_key(article, t) for t in history.versions[-1].sentences}
            for old, new in zip(history.versions, history.versions[1:], strict=False):
                for change in diff(article, old.sentences, new.sentences):
                    if change.previous is not None and change.key in current:
                        revised[change.key] = change.previous
        return revised


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two sentences, whitespace normalised."""
    return SequenceMatcher(None, " ".join(a.split()), " ".join(b.split()), autojunk=False).ratio()


def diff(article: str, old: Sequence[str], new: Sequence[str]) -> list[Change]:
    """The sentences of `new` that `old` lacks, each "added" or "changed", in `new` order.

    >>> [(c.status, c.previous) for c in diff("a", ["Two died."], ["Three died.", "Rain."])]
    [('changed', 'Two died.'), ('added', None)]
    """
    old_keys = {sentence_key(article, t) for t in old}
    new_keys = {sentence_key(article, t) for t in new}
    fresh = [t for t in new if sentence_key(article, t) not in old_keys]
    gone = [t for t in old if sentence_key(article, t) not in new_keys]
    scored = sorted(
        ((similarity(o, n), i, j) for i, n in enumerate(fresh) for j, o in enumerate(gone)),
        reverse=True,
    )
    previous: dict[int, str] = {}
    used: set[int] = set()
    for ratio, i, j in scored:
        if ratio < CHANGED_RATIO:
            break
        if i not in previous and j not in used:
            previous[i] = gone[j]
            used.add(j)
    return [
        Change(article, "changed" if i in previous else "added", text, previous.get(i))
        for i, text in enumerate(fresh)
    ]


def _parse(data: dict[str, Any]) -> History:
    articles = {
        article: ArticleHistory(
            first=str(entry["first"]),
            versions=tuple(
                Version(str(v["build"]), tuple(str(s) for s in v["sentences"]))
                for v in entry["versions"]
            ),
        )
        for article, entry in data["articles"].items()
    }
    return History(str(data["build"]), data.get("previous"), articles)


def _seed(build_dir: Path) -> History | None:
    """A one-version history from an older build's articles, for builds before history.json."""
    try:
        manifest = read_manifest(build_dir)
        raw = read_json(build_dir / "articles.json")
        build = str(manifest["build_id"])
        articles = [Article(**a) for a in raw]
    except (OSError, ValueError, TypeError, KeyError, IndexCorrupt, IndexNotBuilt):
        return None
    return History(
        build,
        None,
        {
            a.id: ArticleHistory(build, (Version(build, tuple(s.text for s in split_article(a))),))
            for a in articles
        },
    )


def load_history(build_dir: Path) -> History | None:
    """The history saved in a build folder; None if the build has none (built before history).

    Raises IndexCorrupt if the file is there but unreadable.
    """
    path = Path(build_dir) / HISTORY_FILE
    if not path.exists():
        return None
    try:
        raw = path.read_bytes()
        manifest = manifest_or_none(path.parent) or {}
        expected = manifest.get("checksums", {}).get(HISTORY_FILE)
        if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
            raise ValueError("it fails its checksum (damaged or truncated)")
        data = json.loads(raw.decode("utf-8"))
        if data.get("format") != HISTORY_FORMAT:
            raise ValueError(f"history format {data.get('format')}")
        return _parse(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IndexCorrupt(f"the story history {path} cannot be read: {exc}") from exc


@lru_cache(maxsize=8)
def served_history(build_dir: Path) -> History | None:
    """`load_history`, cached: a build folder never changes once it is served."""
    return load_history(build_dir)


def record(
    build: str, articles: Sequence[Article], sentences: Sequence[Sentence], previous: Path | None
) -> History:
    """The history of a new build: the previous build's history plus the current versions."""
    before = None
    if previous is not None:
        try:
            before = load_history(previous) or _seed(previous)
        except IndexCorrupt:
            before = _seed(previous)
    texts: dict[str, list[str]] = {a.id: [] for a in articles}
    for sentence in sentences:
        texts[sentence.article].append(sentence.text)
    histories: dict[str, ArticleHistory] = {}
    for article, current in texts.items():
        old = before.articles.get(article) if before else None
        if old is None:
            histories[article] = ArticleHistory(build, (Version(build, tuple(current)),))
        elif old.versions[-1].sentences == tuple(current):
            histories[article] = old
        else:
            kept = (*old.versions, Version(build, tuple(current)))[-MAX_VERSIONS:]
            histories[article] = ArticleHistory(old.first, kept)
    if before is None:
        last_different = None
    else:
        unchanged = {a: h.versions[-1] for a, h in before.articles.items()} == {
            a: h.versions[-1] for a, h in histories.items()
        }
        last_different = before.previous if unchanged else before.build
    return History(build, last_different, histories)


def save_history(history: History, folder: Path) -> Path:
    """Write `history.json` into a build folder."""
    data = {
        "format": HISTORY_FORMAT,
        "build": history.build,
        "previous": history.previous,
        "articles": {
            article: {
                "first": h.first,
                "versions": [
                    {"build": v.build, "sentences": list(v.sentences)} for v in h.versions
                ],
            }
            for article, h in history.articles.items()
        },
    }
    path = Path(folder) / HISTORY_FILE
    write_json(path, data)
    return path


def build_time(build: str) -> str:
    """`20260101-120000.123` → `1 Jan 2026, 12:00 UTC`; other strings are returned unchanged."""
    try:
        when = time.strptime(build.split(".")[0], "%Y%m%d-%H%M%S")
    except ValueError:
        return build
    return f"{when.tm_mday} {time.strftime('%b %Y, %H:%M', when)} UTC"
