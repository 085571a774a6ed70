"""Record tables: the store's sentences and passages as integer columns, read as lists of records.

A loaded store holds 100k sentences as four int32 columns (1.6 MB) instead of 100k `Sentence`
objects each carrying a copy of its text (~50 MB); a `Sentence` or `Passage` is made only when
one is asked for, its text sliced from the article body. Both tables are read-only sequences, so
`store.sentences[i]`, slices, `len` and iteration work as they did on lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

import numpy as np

from index.articles import Article
from index.passages import Passage
from index.splitter import Sentence

R = TypeVar("R")


def _columns(rows: Sequence[Sequence[int]], name: str) -> np.ndarray:
    """Rows of four integers as an (n, 4) int32 array; ValueError if they are not that."""
    table = np.array(rows, dtype=np.int64) if len(rows) else np.zeros((0, 4))
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"{name} rows are not four integers each")
    return table.astype(np.int32)


class _Table(Sequence[R]):
    """Four int32 columns read as a sequence of records (`_record` makes one)."""

    kind = "row"

    def __init__(self, articles: Sequence[Article], rows: Sequence[Sequence[int]]) -> None:
        table = _columns(rows, self.kind)
        if len(table) and not (table[:, 0].min() >= 0 and table[:, 0].max() < len(articles)):
            raise ValueError(f"a {self.kind} names an article the index does not hold")
        self._articles = list(articles)
        self._columns = tuple(np.ascontiguousarray(table[:, i]) for i in range(4))

    def __len__(self) -> int:
        return len(self._columns[0])

    def _record(self, i: int) -> R:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> R: ...
    @overload
    def __getitem__(self, i: slice) -> list[R]: ...
    def __getitem__(self, i: int | slice) -> R | list[R]:
        if isinstance(i, slice):
            return [self._record(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.kind} index out of range")
        return self._record(i % len(self))

    def __iter__(self) -> Iterator[R]:
        return (self._record(i) for i in range(len(self)))


class SentenceTable(_Table[Sentence]):
    """Sentences as columns: article number, paragraph, start, end (offsets into the body)."""

    kind = "sentence"

    def __init__(self, articles: Sequence[Article], rows: Sequence[Sequence[int]]) -> None:
        super().__init__(articles, rows)
        self.article_no, self.paragraph, self.start, self.end = self._columns

    def _record(self, i: int) -> Sentence:
        article = self._articles[self.article_no[i]]
        start, end = int(self.start[i]), int(self.end[i])
        return Sentence(article.id, int(self.paragraph[i]), start, end, article.body[start:end])


class PassageTable(_Table[Passage]):
    """Passages as columns: article number, paragraph, first and last (exclusive) sentence."""

    kind = "passage"

    def __init__(self, articles: Sequence[Article], rows: Sequence[Sequence[int]]) -> None:
        super().__init__(articles, rows)
        self.article_no, self.paragraph, self.first, self.last = self._columns

    def _record(self, i: int) -> Passage:
        return Passage(
            self._articles[self.article_no[i]].id,
            int(self.paragraph[i]),
            int(self.first[i]),
            int(self.last[i]),
        )

    def owners(self, n_sentences: int) -> np.ndarray:
        """Per sentence, the number of the passage holding it (0 for one no passage holds)."""
        owner = np.zeros(n_sentences, dtype=np.int64)
        for number, (first, last) in enumerate(zip(self.first, self.last, strict=True)):
            owner[first:last] = number
        return owner
