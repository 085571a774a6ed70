"""Passages: runs of consecutive sentences from one paragraph, the context a sentence is read in.

A paragraph longer than `size` sentences is cut into nearly equal runs, so no passage crosses a
paragraph (and so never an article) boundary and no passage is a lone leftover sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from index.splitter import Sentence


@dataclass(frozen=True)
class Passage:
    """Sentences `first` up to (not including) `last` of the store's sentence list."""

    article: str
    paragraph: int
    first: int
    last: int


def make_passages(sentences: list[Sentence], size: int) -> list[Passage]:
    """Group sentences (ordered by article, then position) into paragraph-bounded passages."""
    passages: list[Passage] = []
    position = 0
    for (article, paragraph), group in groupby(sentences, key=lambda s: (s.article, s.paragraph)):
        count = len(list(group))
        parts = -(-count // size)
        base, extra = divmod(count, parts)
        start = position
        for part in range(parts):
            length = base + (1 if part < extra else 0)
            passages.append(Passage(article, paragraph, start, start + length))
            start += length
        position += count
    return passages


def passage_text(passage: Passage, sentences: Sequence[Sentence]) -> str:
    """The passage's sentences joined by single spaces."""
    return " ".join(s.text for s in sentences[passage.first : passage.last])
