"""Search: hybrid dense + lexical retrieval of the sentence that answers a question.

Each candidate sentence gets a few signals — its own cosine to the question, its passage's cosine,
and BM25 for both, normalised by the question's total IDF so they read as "share of the question's
rare words matched" — combined with weights fitted on the SQuAD dev set (`index/params.json`).
`confidence` is a logistic answerability score of the best candidate; the threshold that turns it
into answered/declined was fitted on dev too and travels in the index manifest.
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
from index.splitter import Sentence
from index.store import Store

FEATURES = ("dense", "dense_passage", "bm25", "bm25_passage")
CONFIDENCE_FEATURES = ("score", "dense", "bm25", "bm25_passage", "margin")


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


def candidate_features(
    store: Store, qvec: np.ndarray, qtokens: list[str], pool: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate sentence ids and their feature rows (columns in FEATURES order)."""
    n = len(store.sentences)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES)), dtype=np.float32)
    query = qvec.reshape(1, -1).astype(np.float32)
    k_s = min(pool, n)
    k_p = min(max(pool // 4, 8), len(store.passages))
    _, s_ids = store.sentence_index.search(query, k_s)
    _, p_ids = store.passage_index.search(query, k_p)
    idf_total = sum(store.sentence_bm25.idf(t) for t in set(qtokens)) or 1.0
    bm25_s = store.sentence_bm25.scores(qtokens) / idf_total
    bm25_p = store.passage_bm25.scores(qtokens) / idf_total

    ids = set(int(i) for i in s_ids[0] if i >= 0)
    if qtokens:
        ids.update(int(i) for i in np.argsort(-bm25_s)[:k_s] if bm25_s[i] > 0)
        for p in np.argsort(-bm25_p)[:k_p]:
            if bm25_p[p] > 0:
                passage = store.passages[int(p)]
                ids.update(range(passage.first, passage.last))
    for p in p_ids[0]:
        if p >= 0:
            passage = store.passages[int(p)]
            ids.update(range(passage.first, passage.last))
    cand = np.array(sorted(ids), dtype=np.int64)

    dense = _cosines(store.sentence_index, cand, query)
    passage_ids = store.passage_of[cand]
    dense_p = _cosines(store.passage_index, np.unique(passage_ids), query)
    dense_p_map = dict(zip(np.unique(passage_ids).tolist(), dense_p.tolist(), strict=True))
    features = np.column_stack(
        [
            dense,
            np.array([dense_p_map[int(p)] for p in passage_ids], dtype=np.float32),
            bm25_s[cand],
            bm25_p[passage_ids],
        ]
    ).astype(np.float32)
    return cand, features


def _cosines(index: Any, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros(0, dtype=np.float32)
    vectors = np.vstack([index.reconstruct(int(i)) for i in ids])
    return (vectors @ query[0]).astype(np.float32)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def confidence_inputs(scores: np.ndarray, features: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The answerability signals of the best candidate (CONFIDENCE_FEATURES order)."""
    top = order[0]
    margin = float(scores[top] - scores[order[1]]) if len(order) > 1 else float(scores[top])
    return np.array(
        [scores[top], features[top, 0], features[top, 2], features[top, 3], margin],
        dtype=np.float32,
    )


def rank(
    store: Store, qvec: np.ndarray, question: str, k: int = 10, params: dict[str, Any] | None = None
) -> SearchResult:
    """Rank sentences for an already-encoded question."""
    p = _params(store, params)
    qtokens = tokenize(question)
    cand, features = candidate_features(store, qvec, qtokens, int(p.get("pool", 64)))
    if len(cand) == 0:
        return SearchResult(question, [], 0.0, False, False)
    weights = np.array([p["weights"][name] for name in FEATURES], dtype=np.float32)
    scores = features @ weights
    order = np.argsort(-scores, kind="stable")
    signals = confidence_inputs(scores, features, order)
    conf_w = np.array([p["confidence"]["weights"][n] for n in CONFIDENCE_FEATURES])
    confidence = _logistic(float(signals @ conf_w) + float(p["confidence"]["bias"]))
    hits = [Hit(int(cand[i]), store.sentences[int(cand[i])], float(scores[i])) for i in order[:k]]
    return SearchResult(
        question=question,
        hits=hits,
        confidence=confidence,
        answered=confidence >= float(p["threshold"]),
        related=confidence >= float(p["related_threshold"]),
    )


def search(
    store: Store,
    encoder: Encoder,
    question: str,
    k: int = 10,
    params: dict[str, Any] | None = None,
) -> SearchResult:
    """Encode the question and rank the store's sentences for it."""
    qvec = encoder.encode([question])[0]
    return rank(store, qvec, question, k=k, params=params)
