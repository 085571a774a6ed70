"""Soft word matching: each sentence's contextual word-piece vectors, matched word by word.

A question word counts as matched by a sentence when some word piece of the sentence has a close
contextual vector (BERTScore-style recall), so "annoyed" finds "angered" and "team" finds
"delegation" where BM25 sees nothing. Only content word pieces are kept (no stop words,
punctuation or special tokens), stored as float16 and memory-mapped at load. An encoder that
cannot give token vectors (a test fake) yields empty token lists, and the soft match is then
zero everywhere.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.embedder import Encoder
from index.lexical import STOP_WORDS


@dataclass(frozen=True)
class Tokens:
    """Content word-piece ids and their unit vectors for one text."""

    ids: np.ndarray
    vectors: np.ndarray


EMPTY = Tokens(np.zeros(0, dtype=np.int32), np.zeros((0, 0), dtype=np.float32))
SOFT_COLUMNS = ("soft", "soft_uniform", "soft_context", "soft_min", "soft_share")
STRONG = 0.8  # a question piece this close to a sentence piece is the same word in context
RESIDENT_BYTES = 16 << 20  # token vectors up to this size (~1,300 sentences) load as float32


@runtime_checkable
class TokenEncoder(Protocol):
    """An encoder that also gives each text's word-piece vectors in the same forward pass:
    `index.embedder.Embedder` (torch) and `index.onnx_encoder.OnnxEncoder` (no torch)."""

    @property
    def tokenizer(self) -> Any:
        """The word-piece vocabulary (`convert_ids_to_tokens`, `vocab_size`)."""

    def encode_tokens(
        self, texts: Sequence[str], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Sentence vectors, and per text its kept word-piece ids and their unit vectors."""
        ...


@lru_cache(maxsize=4)
def _content_mask(tokenizer: Any) -> np.ndarray:
    vocab = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    return np.array(
        [
            not (v.startswith("[") or v in STOP_WORDS or not any(c.isalnum() for c in v))
            for v in vocab
        ]
    )


def encode_with_tokens(encoder: Encoder, texts: Sequence[str]) -> tuple[np.ndarray, list[Tokens]]:
    """Sentence vectors and content-token vectors from one forward pass (empty tokens from an
    encoder that gives none, such as a test's fake)."""
    if not texts or not isinstance(encoder, TokenEncoder):
        return encoder.encode(texts), [EMPTY for _ in texts]
    vectors, pieces = encoder.encode_tokens(texts, keep=_content_mask(encoder.tokenizer))
    return vectors, [Tokens(ids, vecs) for ids, vecs in pieces]


class SentenceTokens:
    """All sentences' token vectors, concatenated, with per-sentence offsets and word-piece IDF."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, offsets: np.ndarray) -> None:
        self.ids, self.vectors, self.offsets = ids, vectors, offsets
        n = len(offsets) - 1
        owner = np.repeat(np.arange(n), np.diff(offsets))
        pairs = np.unique(np.stack([ids.astype(np.int64), owner]), axis=1) if len(ids) else ids
        uniq, df = np.unique(pairs[0], return_counts=True) if len(ids) else (ids, ids)
        self._df = dict(zip(uniq.tolist(), df.tolist(), strict=True))
        self.n = n

    @classmethod
    def from_list(cls, tokens: Sequence[Tokens], dim: int) -> SentenceTokens:
        """Concatenate per-sentence tokens."""
        lengths = [len(t.ids) for t in tokens]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        parts = [t.vectors for t in tokens if len(t.ids)]
        vectors = np.vstack(parts).astype(np.float16) if parts else np.zeros((0, dim), np.float16)
        ids = np.concatenate([t.ids for t in tokens]) if tokens else np.zeros(0)
        return cls(ids.astype(np.int32), vectors, offsets)

    def get(self, i: int) -> Tokens:
        """The tokens of sentence `i`."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return Tokens(self.ids[a:b], self.vectors[a:b].astype(np.float32))

    def _rows(self, index: np.ndarray) -> np.ndarray:
        # np.asarray drops the memmap subclass, whose per-access bookkeeping costs more than
        # the read itself for a story's few hundred rows; the data stays mapped.
        return np.asarray(self.vectors)[index].astype(np.float32, copy=False)

    def idf(self, ids: np.ndarray) -> np.ndarray:
        """IDF of word pieces over sentences; an unseen piece counts as the rarest."""
        df = np.array([self._df.get(int(i), 0) for i in ids], dtype=np.float32)
        return np.log(1 + (self.n - df + 0.5) / (df + 0.5)).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write ids and offsets to `path` (.npz) and the vectors beside it (`vectors_path`)."""
        with Path(path).open("wb") as handle:
            np.savez(handle, ids=self.ids, offsets=self.offsets)
        with vectors_path(path).open("wb") as handle:
            np.save(handle, np.ascontiguousarray(self.vectors, dtype=np.float16))

    @classmethod
    def load(cls, path: Path) -> SentenceTokens:
        """Read what `save` wrote; the vectors stay on disk (memory-mapped) until a query reads
        its candidates' rows, since they are several times the size of the sentence vectors."""
        try:
            with Path(path).open("rb") as handle, np.load(handle) as data:
                ids, offsets = data["ids"], data["offsets"]
            vectors = np.load(vectors_path(path), mmap_mode="r")
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path} is not a token file: {exc}") from exc
        if vectors.ndim != 2 or len(vectors) != len(ids) or len(offsets) < 1:
            raise ValueError(f"{path} and its vectors are out of step")
        if vectors.nbytes <= RESIDENT_BYTES:
            # A story-sized index: float32 in memory spares every query the float16 conversion,
            # which numpy does element by element (half of a seed-story ranking's time).
            vectors = np.asarray(vectors, dtype=np.float32)
        return cls(ids, vectors, offsets)

    def soft_match(
        self, question: Tokens, candidates: np.ndarray, neighbours: np.ndarray | None = None
    ) -> np.ndarray:
        """Per candidate, how well its word pieces cover the question's (columns SOFT_COLUMNS).

        Each question piece's best cosine with any piece of the sentence, then: the IDF-weighted
        and the plain mean over question pieces (BERTScore recall), the same IDF-weighted mean
        with the sentence's paragraph neighbours' pieces also counted (`neighbours[i]` = previous
        and next sentence of sentence i in its paragraph, -1 for none), the worst-covered piece,
        and the IDF share of pieces matched nearly exactly (cosine > STRONG).
        """
        out = np.zeros((len(candidates), len(SOFT_COLUMNS)), dtype=np.float32)
        if len(question.ids) == 0 or len(candidates) == 0 or len(self.ids) == 0:
            return out
        context = np.zeros((len(candidates), 0), dtype=np.int64)
        if neighbours is not None:
            context = neighbours[candidates]
        rows = np.unique(np.concatenate([candidates, context[context >= 0]]))
        best = self._best(question, rows)  # question pieces x rows; NaN for a row without pieces
        at = np.searchsorted(rows, candidates)
        own = best[:, at]
        nonempty = ~np.isnan(own[0])
        if not nonempty.any():
            return out
        own = np.nan_to_num(own, nan=-1.0)
        around = own.copy()
        for column in context.T:
            valid = column >= 0
            theirs = best[:, np.searchsorted(rows, np.where(valid, column, rows[0]))]
            around = np.where(valid, np.fmax(around, theirs), around)
        weights = self.idf(question.ids)
        weights = weights / float(weights.sum())
        out[:, 0] = weights @ own
        out[:, 1] = own.mean(axis=0)
        out[:, 2] = weights @ around
        out[:, 3] = own.min(axis=0)
        out[:, 4] = weights @ (own > STRONG)
        out[~nonempty] = 0.0
        return out

    def _best(self, question: Tokens, rows: np.ndarray) -> np.ndarray:
        """Each question piece's best cosine with the pieces of each sentence in `rows`."""
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        best = np.full((len(question.ids), len(rows)), np.nan, dtype=np.float32)
        nonempty = lengths > 0
        if not nonempty.any():
            return best
        seg = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        # Row numbers of every sentence's pieces, without a Python loop over sentences.
        index = np.arange(int(lengths.sum())) + np.repeat(starts - seg, lengths)
        sims = question.vectors @ self._rows(index).T
        best[:, nonempty] = np.maximum.reduceat(sims, seg[nonempty], axis=1)
        return best


def vectors_path(path: Path) -> Path:
    """`tokens.npz` → `tokens.vectors.npy`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.vectors.npy")
