"""Fitting how the reader's scores are used, on dev.json only (never test.json).

Each dev question is ranked by the retriever and its best `MAX_TOP` hits read by the reader
once; then, on those numbers:

1. `top` (how many hits the reader re-scores) and `retriever` (the weight of the retriever's
   score added to the reader's logit) — the pair with the best dev P@1, MRR breaking ties, the
   smaller `top` winning a tie (every re-scored hit costs a model call's share);
2. P(answered) — a logistic model of the best combined score, answerable against unanswerable
   dev questions (SQuAD 2.0's unanswerables are written against the very paragraph, the
   hardest case there is);
3. `threshold` on confidence = P(on topic) × P(answered): the dev quantile that declines at
   most `max_false_decline` of answerable dev questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Encoder
from index.quality.evalsets import EvalSet, is_gold, ranked
from index.quality.metrics import auroc
from index.quality.tuning import choose_model
from index.reader import Reader, answer_features, reader_text
from index.search import probability

MAX_TOP = 10
TOPS = (4, 6, 8, 10)
RETRIEVER_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)
ANSWER_SETS: tuple[tuple[str, ...], ...] = (("reader",), ("retriever",), ("reader", "retriever"))


@dataclass(frozen=True)
class Scored:
    """One dev question's best hits: retriever scores, reader logits, which are gold."""

    answerable: bool
    topic: float
    retriever_answerable: float
    retrieved: np.ndarray
    logits: np.ndarray
    gold: np.ndarray


def score_set(
    evalset: EvalSet, cache_dir: Path, encoder: Encoder, reader: Reader, top: int = MAX_TOP
) -> list[Scored]:
    """Retrieve and read every question of the set."""
    out = []
    for store, question, result in ranked(evalset, cache_dir, encoder, top):
        hits = result.hits
        texts = [reader_text(store, h.index) for h in hits]
        out.append(
            Scored(
                answerable=question.answerable,
                topic=result.topic,
                retriever_answerable=result.answerable,
                retrieved=np.array([h.score for h in hits], dtype=np.float64),
                logits=reader.logits(question.question, texts).astype(np.float64),
                gold=np.array([is_gold(h.sentence, question) for h in hits], dtype=bool),
            )
        )
    return out


def combined(item: Scored, top: int, weight: float) -> np.ndarray:
    """Re-scored hits (the first `top`), as `reread` computes them."""
    return item.logits[:top] + weight * item.retrieved[:top]


def ranking_figures(scored: list[Scored], top: int, weight: float) -> tuple[float, float]:
    """Dev P@1 and MRR@10 with the first `top` hits re-scored (the rest keep their order)."""
    hits, rr = 0, 0.0
    answerable = [s for s in scored if s.answerable]
    for item in answerable:
        order = list(np.argsort(-combined(item, top, weight), kind="stable"))
        order += list(range(top, len(item.gold)))
        ranks = [r for r, i in enumerate(order) if item.gold[i]]
        if ranks:
            hits += ranks[0] == 0
            rr += 1.0 / (ranks[0] + 1)
    n = max(len(answerable), 1)
    return hits / n, rr / n


def fit(scored: list[Scored], max_false_decline: float = 0.0) -> dict[str, Any]:
    """Every parameter `reader.reread` reads, from scored dev questions."""
    grid = [
        (ranking_figures(scored, top, w), -top, w, top) for top in TOPS for w in RETRIEVER_WEIGHTS
    ]
    (p1, mrr), _, weight, top = max(grid, key=lambda g: (g[0], g[1]))
    rows = [
        answer_features(float(combined(s, top, weight).max()), s.retriever_answerable)
        for s in scored
    ]
    y = np.array([s.answerable for s in scored])
    model, cv = choose_model(rows, y, ANSWER_SETS)
    answered = np.array([probability(model, r) for r in rows])
    confidence = np.array([s.topic for s in scored]) * answered
    threshold = float(np.quantile(confidence[y], max_false_decline))
    return {
        "top": top,
        "retriever": weight,
        "answer": model,
        "threshold": round(threshold, 5),
        "dev": {
            "p_at_1": round(p1, 4),
            "mrr": round(mrr, 4),
            "auroc": round(auroc(list(confidence[y]), list(confidence[~y])), 4),
            "cv_auroc": {"+".join(n): round(v, 4) for n, v in cv.items()},
            "unanswerable_declined": round(float((confidence[~y] < threshold).mean()), 4),
            "answerable_declined": round(float((confidence[y] < threshold).mean()), 4),
        },
        "rule": f"threshold declines at most {max_false_decline:.0%} of answerable dev questions",
    }
