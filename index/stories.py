"""Stories: the index's articles as a reader names and picks them — an id, a title, dates.

A story's id is a slug of its file name (`2025-04-23-london-talks.txt` → `2025-04-23-london-talks`),
so it survives any edit of the content. Two files whose names give the same slug are told apart
by the extension: the first in file order keeps the plain slug (`x.md` → `x`), the next gets its
extension (`x.txt` → `x-txt`). `updated` is the front matter's `updated`, else the publication
date. A story's `label` is how citations name it: its title, or, when another story has the same
title, the title and its date (`London talks, 24 Apr 2025`) — or its id when the dates do not
tell them apart either.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from index.articles import Article
from index.store import Store


@dataclass(frozen=True)
class Story:
    """One story file: `id` (the slug), the file it comes from, title, dates, sentence count."""

    id: str
    file: str
    title: str
    published: str | None
    updated: str | None
    sentences: int
    label: str

    def to_json(self) -> dict[str, Any]:
        """The public `storybot stories --json` shape."""
        return {
            "id": self.id,
            "title": self.title,
            "file": self.file,
            "published": self.published,
            "updated": self.updated,
            "sentences": self.sentences,
        }

    @property
    def recency(self) -> tuple[str, str]:
        """Sort key: latest update (or publication) last; the file breaks ties."""
        return (self.updated or self.published or "", self.file)


def slug(file: str) -> str:
    """A file name as an id: extension dropped, lower case, runs of other characters `-`.

    >>> slug("2025-04-23-london-talks.txt"), slug("World/Big News!.md")
    ('2025-04-23-london-talks', 'world-big-news')
    """
    path = PurePosixPath(file)
    stem = str(path.with_suffix("")) if path.suffix else file
    return re.sub(r"[\W_]+", "-", stem.lower()).strip("-") or "story"


_NUMBERS = re.compile(r"\d+")


def quoted_ref(ref: str, limit: int = 60) -> str:
    """A story reference as a reply quotes it back: at most `limit` characters (a 5,000-character
    `/story …` was echoed in three messages)."""
    ref = " ".join(ref.split())
    return ref if len(ref) <= limit else ref[: limit - 1].rstrip() + "…"


def display_date(date: str | None) -> str | None:
    """`2025-04-23…` → `23 Apr 2025`; anything that is not an ISO date stays as it is."""
    if not date:
        return None
    try:
        day = datetime.date.fromisoformat(date[:10])
    except ValueError:
        return date
    return f"{day.day} {day:%b %Y}"


def _same_title(title: str) -> str:
    return " ".join(title.casefold().split())


class Catalog:
    """Every story of a store, in file order, with lookups by file, id, number or words."""

    def __init__(self, articles: Sequence[Article], sentence_counts: Sequence[int]) -> None:
        ids: list[str] = []
        taken: set[str] = set()
        for article in articles:
            base = slug(article.id)
            candidate, extension, n = base, PurePosixPath(article.id).suffix.lstrip("."), 1
            if candidate in taken and extension:
                candidate = f"{base}-{extension.lower()}"
            while candidate in taken:
                n += 1
                candidate = f"{base}-{n}"
            taken.add(candidate)
            ids.append(candidate)
        titles = Counter(_same_title(a.title) for a in articles)
        dated = Counter((_same_title(a.title), a.published) for a in articles)
        stories = []
        for article, story_id, count in zip(articles, ids, sentence_counts, strict=True):
            label = article.title
            if titles[_same_title(article.title)] > 1:
                date = display_date(article.published)
                unique_date = date and dated[(_same_title(article.title), article.published)] == 1
                label = f"{article.title}, {date if unique_date else story_id}"
            stories.append(
                Story(
                    id=story_id,
                    file=article.id,
                    title=article.title,
                    published=article.published,
                    updated=article.updated or article.published,
                    sentences=int(count),
                    label=label,
                )
            )
        self.stories: list[Story] = stories
        self._by_file = {s.file: s for s in stories}
        self._by_id = {s.id: s for s in stories}

    @classmethod
    def of(cls, store: Store) -> Catalog:
        """The catalog of a loaded store."""
        articles = list(store.articles.values())
        counts = np.bincount(store.sentences.article_no, minlength=len(articles))
        return cls(articles, counts.tolist())

    def __len__(self) -> int:
        return len(self.stories)

    def __iter__(self) -> Any:
        return iter(self.stories)

    def of_file(self, file: str) -> Story | None:
        """The story of an article id (its file), if the store holds it."""
        return self._by_file.get(file)

    def get(self, story_id: str) -> Story | None:
        """The story with exactly this id."""
        return self._by_id.get(story_id)

    def find(self, ref: str) -> list[Story]:
        """Stories `ref` names: its id, its file or its number in the list (one story); else
        every story whose id or title contains `ref` (a number: as a whole number, such as a
        year), ignoring case (none, one or several).

        >>> catalog = Catalog([], [])
        >>> catalog.find("london")
        []
        """
        ref = " ".join(ref.split())
        if not ref:
            return []
        exact = self._by_id.get(ref) or self._by_file.get(ref) or self._by_id.get(ref.lower())
        if exact is not None:
            return [exact]
        if ref.isdecimal():
            n = int(ref)
            if 1 <= n <= len(self.stories):
                return [self.stories[n - 1]]
            # Else a number in an id or title as a whole (a year, "2025"), never a piece of
            # one: "0" is in every dated id, and `/story 0` picked a story by it.
            return [s for s in self.stories if ref in _NUMBERS.findall(f"{s.id} {s.title}")]
        words = ref.casefold()
        return [s for s in self.stories if words in s.id or words in _same_title(s.title)]

    def latest(self, among: Iterable[Story] | None = None) -> Story | None:
        """The most recently updated story (of `among`, default all)."""
        pool = list(self.stories if among is None else among)
        return max(pool, key=lambda s: s.recency) if pool else None

    def number(self, story: Story) -> int:
        """The story's number in the list (from 1), as `/story N` takes it."""
        return self.stories.index(story) + 1
