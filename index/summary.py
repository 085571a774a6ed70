"""Summaries: a few central, mutually different sentences, shown in story order.

Maximal marginal relevance over sentence embeddings: each pick is the sentence most relevant to
the stories (closeness to their centroid) or to a topic (hybrid search score), minus its
similarity to what was already picked; near-duplicates are never picked twice.

A topic summary lists only sentences about the topic: those whose search score is at least
ABOUT_SHARE of the best one's. So it may hold fewer than N sentences rather than be padded with
unrelated ones. (On the seed story the share splits cleanly: "Crimea" keeps the sentence naming
it, at 1.0, and the next one, "…control over the peninsula", at 0.73; the best of the rest
scores 0.52. "ceasefire" keeps its three sentences, 0.81 and up, over 0.39 for the next.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedder import Encoder
from index.limits import MAX_SENTENCES
from index.search import search
from index.store import Store

DUPLICATE_COSINE = 0.9
ABOUT_SHARE = 0.6


@dataclass(frozen=True)
class Summary:
    """Chosen sentence numbers in story order, their relevance, and whether the topic is covered."""

    topic: str | None
    indices: list[int]
    scores: list[float]
    covered: bool
    confidence: float


def _vectors(store: Store, ids: np.ndarray) -> np.ndarray:
    return np.vstack([store.sentence_index.reconstruct(int(i)) for i in ids])


def mmr(relevance: np.ndarray, vectors: np.ndarray, n: int, balance: float = 0.7) -> list[int]:
    """Positions picked by maximal marginal relevance, skipping near-duplicates."""
    picked: list[int] = []
    similarity = vectors @ vectors.T
    available = np.ones(len(relevance), dtype=bool)
    while len(picked) < n and available.any():
        redundancy = similarity[:, picked].max(axis=1) if picked else np.zeros(len(relevance))
        value = balance * relevance - (1 - balance) * redundancy
        value[~available] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        available &= similarity[best] < DUPLICATE_COSINE
        available[best] = False
    return picked


def summarize(
    store: Store, encoder: Encoder, topic: str | None = None, n: int = 5, pool: int = 40
) -> Summary:
    """Pick `n` (at most 10) sentences about `topic`, or about the stories as a whole."""
    n = max(1, min(n, MAX_SENTENCES))
    topic = topic.strip() if topic else None
    if not store.sentences:
        return Summary(topic, [], [], False, 0.0)
    if topic:
        result = search(store, encoder, topic, k=pool)
        if not result.related:
            return Summary(topic, [], [], False, result.confidence)
        best = result.hits[0].score
        about = [h for h in result.hits if h.score >= ABOUT_SHARE * best] if best > 0 else []
        about = about or result.hits[:1]
        ids = np.array([h.index for h in about], dtype=np.int64)
        scores = np.array([h.score for h in about], dtype=np.float32)
        relevance = (scores - scores.min()) / (np.ptp(scores) or 1.0)
        # Reported as a share of the best match, which says how far each is about the topic
        # (MMR's min-max relevance would report the least of two as 0).
        shown = scores / best if best > 0 else relevance
        confidence = result.confidence
    else:
        ids = np.arange(len(store.sentences), dtype=np.int64)
        if len(ids) > 5000:
            ids = np.linspace(0, len(ids) - 1, 5000).astype(np.int64)
        vectors = _vectors(store, ids)
        centroid = vectors.mean(axis=0)
        relevance = vectors @ (centroid / (np.linalg.norm(centroid) or 1.0))
        # Lead sentences carry a news story; a mild bonus for early paragraphs.
        paragraphs = np.array([store.sentences[int(i)].paragraph for i in ids])
        relevance = relevance + 0.05 / np.sqrt(paragraphs)
        shown = relevance
        confidence = 1.0
    vectors = _vectors(store, ids)
    picked = mmr(relevance, vectors, n)
    chosen = sorted(picked, key=lambda p: int(ids[p]))
    return Summary(
        topic=topic,
        indices=[int(ids[p]) for p in chosen],
        scores=[float(shown[p]) for p in chosen],
        covered=True,
        confidence=confidence,
    )


def topic_article(store: Store, encoder: Encoder, topic: str) -> str | None:
    """The article a topic is most about — the one holding its best match — or None when the
    stories do not cover it."""
    result = search(store, encoder, topic, k=1)
    return result.hits[0].sentence.article if result.related and result.hits else None
