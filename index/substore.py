"""Substores: the served store narrowed to some of its stories, for answering from those only.

A substore is a real `Store` holding only the chosen articles' sentences, passages, vectors and
token vectors, renumbered; search, the reader and summaries run on it unchanged. It is searched
as an index of just those stories would be: BM25 and word-piece IDF are recounted over them,
which for a one-story index is exactly what a build of that story gives. Vectors are copied out
of the served FAISS indexes into flat ones (a story is small), so nothing is re-embedded.
"""

from __future__ import annotations

from collections.abc import Collection

import faiss
import numpy as np

from index.soft_match import SentenceTokens
from index.store import Store
from index.tables import PassageTable, SentenceTable


def _flat(index: faiss.Index, ids: np.ndarray) -> faiss.Index:
    flat = faiss.IndexFlatIP(index.d)
    if len(ids):
        flat.add(np.ascontiguousarray(index.reconstruct_batch(ids.astype(np.int64))))
    return flat


def _tokens(tokens: SentenceTokens, ids: np.ndarray) -> SentenceTokens:
    starts, ends = tokens.offsets[ids], tokens.offsets[ids + 1]
    lengths = ends - starts
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = np.arange(int(lengths.sum())) + np.repeat(starts - offsets[:-1], lengths)
    return SentenceTokens(tokens.ids[rows], np.asarray(tokens.vectors)[rows], offsets)


def narrow(store: Store, files: Collection[str]) -> Store:
    """The store with only the articles whose ids (files) are in `files`.

    Raises ValueError when none of them is in the store.
    """
    everything = list(store.articles.values())
    keep = np.array([n for n, a in enumerate(everything) if a.id in files], dtype=np.int64)
    if not len(keep):
        raise ValueError(f"none of {sorted(files)} is in the index")
    articles = [everything[n] for n in keep]
    renumber = np.full(len(everything), -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))

    s = store.sentences
    sentence_ids = np.flatnonzero(np.isin(s.article_no, keep))
    position = np.full(len(s), -1, dtype=np.int64)
    position[sentence_ids] = np.arange(len(sentence_ids))
    sentences = SentenceTable(
        articles,
        np.column_stack(
            [
                renumber[s.article_no[sentence_ids]],
                s.paragraph[sentence_ids],
                s.start[sentence_ids],
                s.end[sentence_ids],
            ]
        ).tolist(),
    )
    p = store.passages
    passage_ids = np.flatnonzero(np.isin(p.article_no, keep))
    passages = PassageTable(
        articles,
        np.column_stack(
            [
                renumber[p.article_no[passage_ids]],
                p.paragraph[passage_ids],
                position[p.first[passage_ids]],
                position[p.last[passage_ids] - 1] + 1,
            ]
        )
        .reshape(-1, 4)
        .tolist(),
    )
    return Store(
        path=store.path,
        manifest=store.manifest,
        articles={a.id: a for a in articles},
        sentences=sentences,
        passages=passages,
        sentence_index=_flat(store.sentence_index, sentence_ids),
        passage_index=_flat(store.passage_index, passage_ids),
        tokens=_tokens(store.tokens, sentence_ids),
        revised=store.revised,
    )
