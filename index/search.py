"""Search: hybrid dense + lexical retrieval of the sentence that answers a question.

Each candidate sentence gets a few signals — the cosine of the question to the sentence and to
its passage, BM25 of both and IDF coverage of the question's words (each as a share of the
question's total IDF), and soft word-by-word matches of contextual token vectors against the
sentence and against it with its paragraph neighbours (index/soft_match.py) — combined linearly with
weights fitted on the SQuAD dev set by `storybot tune` (index/quality/tuning.py,
`index/params.json`).

`confidence` = P(on topic) × P(answered | on topic), two logistic models of the best candidates'
signals, also fitted on dev. `related` (the story touches on this) compares P(on topic) with
`related_threshold`; `answered` compares `confidence` with `threshold`. Both thresholds are fitted
on dev and travel in the index manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from index.embedder import Encoder
from index.lexical import tokenize
from index.soft_match import EMPTY, SOFT_COLUMNS, Tokens, encode_with_tokens
from index.splitter import Sentence
from index.store import Store

FEATURES = (
    "dense",
    "dense_passage",
    "bm25",
    "bm25_passage",
    "coverage",
    *SOFT_COLUMNS,
)


@dataclass(frozen=True)
class Hit:
    """A candidate sentence, its position in the store and its combined score."""

    index: int
    sentence: Sentence
    score: float


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits for a question, the answerability confidence and the decision."""

    question: str
    hits: list[Hit]
    confidence: float
    answered: bool
    related: bool
    topic: float = 0.0  # P(on topic) from the retriever's signals
    answerable: float = 0.0  # P(answered | on topic) from them; confidence = topic × answerable


@lru_cache(maxsize=1)
def default_params() -> dict[str, Any]:
    """The tuned parameters shipped with the code (fitted on SQuAD dev, see docs/evaluation.md)."""
    text = resources.files("index").joinpath("params.json").read_text(encoding="utf-8")
    params: dict[str, Any] = json.loads(text)
    return params


def _params(store: Store, override: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(default_params())
    merged.update(store.params)
    if override:
        merged.update(override)
    return merged


def candidates(
    store: Store, query: np.ndarray, bm25_s: np.ndarray, bm25_p: np.ndarray, pool: int
) -> np.ndarray:
    """Sentence ids worth scoring: dense and BM25 top sentences, and the top passages' sentences.

    A story of at most `pool` sentences is scored whole.
    """
    n = len(store.sentences)
    if n <= pool:
        return np.arange(n, dtype=np.int64)
    k_p = min(max(pool // 4, 8), len(store.passages))
    _, s_ids = store.sentence_index.search(query, pool)
    _, p_ids = store.passage_index.search(query, k_p)
    ids = {int(i) for i in s_ids[0] if i >= 0}
    ids.update(int(i) for i in np.argpartition(-bm25_s, pool - 1)[:pool] if bm25_s[i] > 0)
    passages = {int(p) for p in p_ids[0] if p >= 0}
    if len(bm25_p) > k_p:
        passages.update(int(p) for p in np.argpartition(-bm25_p, k_p - 1)[:k_p] if bm25_p[p] > 0)
    for p in passages:
        ids.update(range(store.passages[p].first, store.passages[p].last))
    return np.array(sorted(ids), dtype=np.int64)


def candidate_features(
    store: Store, qvec: np.ndarray, question: str, qtokens: Tokens = EMPTY, pool: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate sentence ids and their feature rows (columns in FEATURES order)."""
    if not store.sentences:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES)), dtype=np.float32)
    query = qvec.reshape(1, -1).astype(np.float32)
    words = tokenize(question)
    idf_total = sum(store.sentence_bm25.idf(t) for t in set(words)) or 1.0
    bm25_s = store.sentence_bm25.scores(words) / idf_total
    bm25_p = store.passage_bm25.scores(words) / idf_total
    cand = candidates(store, query, bm25_s, bm25_p, pool)
    passage_ids = store.passage_of[cand]
    unique_p, inverse = np.unique(passage_ids, return_inverse=True)
    columns = [
        _cosines(store.sentence_index, cand, query),
        _cosines(store.passage_index, unique_p, query)[inverse],
        bm25_s[cand],
        bm25_p[passage_ids],
        store.sentence_bm25.coverage(words)[cand],
        *store.tokens.soft_match(qtokens, cand, store.neighbours).T,
    ]
    return cand, np.column_stack(columns).astype(np.float32)


def _cosines(index: Any, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros(0, dtype=np.float32)
    vectors = index.reconstruct_batch(ids.astype(np.int64))
    return (vectors @ query[0]).astype(np.float32)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def signals(scores: np.ndarray, features: np.ndarray) -> dict[str, float]:
    """The answerability signals of a question's candidates: the best candidate's score, its
    margin over the next, and its (and the best of all candidates') dense, passage, coverage
    and soft-match features."""
    order = np.argsort(-scores, kind="stable")
    top = order[0]
    column = {name: features[:, i] for i, name in enumerate(FEATURES)}
    margin = scores[top] - scores[order[1]] if len(order) > 1 else scores[top]
    out = {"score": scores[top], "margin": margin}
    for name in ("dense", "dense_passage", "coverage", "soft"):
        out[name] = column[name][top]
        out[f"{name}_max"] = column[name].max()
    return {k: float(v) for k, v in out.items()}


def probability(model: dict[str, Any], values: dict[str, float]) -> float:
    """A logistic model's output: `{"weights": {signal: w}, "bias": b}` applied to signals."""
    z = float(model["bias"]) + sum(float(w) * values[n] for n, w in model["weights"].items())
    return _logistic(z)


def rank(
    store: Store,
    qvec: np.ndarray,
    question: str,
    k: int = 10,
    params: dict[str, Any] | None = None,
    qtokens: Tokens = EMPTY,
) -> SearchResult:
    """Rank sentences for an already-encoded question."""
    p = _params(store, params)
    cand, features = candidate_features(store, qvec, question, qtokens, int(p.get("pool", 64)))
    if len(cand) == 0:
        return SearchResult(question, [], 0.0, False, False)
    weights = np.array([p["weights"].get(name, 0.0) for name in FEATURES], dtype=np.float32)
    scores = features @ weights
    order = np.argsort(-scores, kind="stable")
    values = signals(scores, features)
    topic = probability(p["topic"], values)
    answerable = probability(p["answer"], values)
    confidence = topic * answerable
    hits = [Hit(int(cand[i]), store.sentences[int(cand[i])], float(scores[i])) for i in order[:k]]
    return SearchResult(
        question=question,
        hits=hits,
        confidence=confidence,
        answered=confidence >= float(p["threshold"]),
        related=topic >= float(p["related_threshold"]),
        topic=topic,
        answerable=answerable,
    )


@dataclass(frozen=True)
class Query:
    """A question as the model read it: its vector and content word pieces (no store needed)."""

    text: str
    vector: np.ndarray
    tokens: Tokens


def read(encoder: Encoder, question: str) -> Query:
    """Encode a question: the model's part of a search, which runs without holding the GIL."""
    vectors, tokens = encode_with_tokens(encoder, [question])
    return Query(question, vectors[0], tokens[0])


def search(
    store: Store,
    encoder: Encoder,
    question: str,
    k: int = 10,
    params: dict[str, Any] | None = None,
) -> SearchResult:
    """Encode the question (and its word pieces) and rank the store's sentences for it."""
    query = read(encoder, question)
    return rank(store, query.vector, question, k=k, params=params, qtokens=query.tokens)
