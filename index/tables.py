"""Record tables: the store's sentences and passages as integer columns, read as lists of records.

A loaded store holds 100k sentences as four int32 columns (1.6 MB) instead of 100k `Sentence`
objects each carrying a copy of its text (~50 MB); a `Sentence` or `Passage` is made only when
one is asked for, its text sliced from the article body. Both tables are read-only sequences, so
`store.sentences[i]`, slices, `len` and iteration work as they did on lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from index.articles import Article
from index.passages import Passage
from index.splitter import Sentence


def _columns(rows: Sequence[Sequence[int]], name: str) -> np.ndarray:
    """Rows of four integers as an (n, 4) int32 array; ValueError if they are not that."""
    table = np.array(rows, dtype=np.int64) if len(rows) else np.zeros((0, 4))
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"{name} rows are not four integers each")
    return table.astype(np.int32)


class SentenceTable(Sequence[Sentence]):
    """Sentences as columns: article number, paragraph, start, end (offsets into the body)."""

    def __init__(self, articles: Sequence[Article], rows: Sequence[Sequence[int]]) -> None:
        table = _columns(rows, "sentence")
        if len(table) and not (table[:, 0].min() >= 0 and table[:, 0].max() < len(articles)):
            raise ValueError("a sentence names an article the index does not hold")
        self._articles = list(articles)
        self.article_no, self.paragraph, self.start, self.end = (
            np.ascontiguousarray(table[:, i]) for i in range(4)
        )

    def __len__(self) -> int:
        return len(self.article_no)

    def _record(self, i: int) -> Sentence:
        article = self._articles[self.article_no[i]]
        start, end = int(self.start[i]), int(self.end[i])
        return Sentence(article.id, int(self.paragraph[i]), start, end, article.body[start:end])

    @overload
    def __getitem__(self, i: int) -> Sentence: ...
    @overload
    def __getitem__(self, i: slice) -> list[Sentence]: ...
    def __getitem__(self, i: int | slice) -> Sentence | list[Sentence]:
        if isinstance(i, slice):
            return [self._record(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError("sentence index out of range")
        return self._record(i % len(self))

    def __iter__(self) -> Iterator[Sentence]:
        return (self._record(i) for i in range(len(self)))


class PassageTable(Sequence[Passage]):
    """Passages as columns: article number, paragraph, first and last (exclusive) sentence."""

    def __init__(self, articles: Sequence[Article], rows: Sequence[Sequence[int]]) -> None:
        table = _columns(rows, "passage")
        if len(table) and not (table[:, 0].min() >= 0 and table[:, 0].max() < len(articles)):
            raise ValueError("a passage names an article the index does not hold")
        self._ids = [a.id for a in articles]
        self.article_no, self.paragraph, self.first, self.last = (
            np.ascontiguousarray(table[:, i]) for i in range(4)
        )

    def __len__(self) -> int:
        return len(self.article_no)

    def _record(self, i: int) -> Passage:
        return Passage(
            self._ids[self.article_no[i]],
            int(self.paragraph[i]),
            int(self.first[i]),
            int(self.last[i]),
        )

    @overload
    def __getitem__(self, i: int) -> Passage: ...
    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...
    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self._record(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError("passage index out of range")
        return self._record(i % len(self))

    def __iter__(self) -> Iterator[Passage]:
        return (self._record(i) for i in range(len(self)))

    def owners(self, n_sentences: int) -> np.ndarray:
        """Per sentence, the number of the passage holding it (0 for one no passage holds)."""
        owner = np.zeros(n_sentences, dtype=np.int64)
        for number, (first, last) in enumerate(zip(self.first, self.last, strict=True)):
            owner[first:last] = number
        return owner
