"""Fitting how the reader's scores are used, on dev.json only (never test.json).

Each dev question is ranked by the retriever and its best `MAX_TOP` hits read by the reader
once; then, on those numbers:

1. `top` (how many hits the reader re-scores) and `retriever` (the weight of the retriever's
   score added to the reader's logit) — the pair with the best dev P@1, MRR breaking ties, the
   smaller `top` winning a tie (every re-scored hit costs a model call's share);
2. P(right) — the chance that the sentence the bot would quote answers the question: a logistic
   model of the chosen hit's signals (its combined score, its margin over the next, the reader's
   own logit, the retriever's P(answered)), with the signal set chosen by cross-validated AUROC.
   It learns from dev's answerable questions (right when the chosen sentence is gold), SQuAD
   2.0's unanswerable ones (written against the very paragraph, the hardest case) and the same
   answerable questions asked with their answering paragraphs taken out (what a reader's
   "not in the story" question looks like: the story is on topic, the fact is missing). For
   those, the hits of the gold paragraphs are dropped from the ranked list, and the retriever's
   P(answered) is that of the whole story (an approximation: it was computed with the answer
   present, so it errs towards answering, the safe side for a fit that must hold risk down);
   and the answerable questions asked of dev's other article instead of their own (a story
   about something close that does not hold the fact), ranked and read afresh there;
3. `threshold` on confidence = P(on topic) × P(right): the lowest at which at most `max_risk`
   of the dev replies presented as answers would be wrong (answerable and unanswerable dev
   questions as they come: 386 and 320, about newsqa's mix of answerable and not-in-story).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Encoder
from index.quality.evalsets import EvalSet, is_gold, ranked, ranked_elsewhere
from index.quality.metrics import auroc, first_gold, recall_at
from index.quality.train_config import MAX_RISK
from index.quality.tuning import choose_model
from index.reader import Reader, reader_text, right_features
from index.search import probability

MAX_TOP = 10
TOPS = (4, 6, 8, 10)
RETRIEVER_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)
RIGHT_SETS: tuple[tuple[str, ...], ...] = (
    ("best",),
    ("best", "margin"),
    ("best", "margin", "logit"),
    ("best", "margin", "retriever"),
    ("best", "margin", "logit", "retriever"),
    ("best", "margin", "type"),
    ("best", "margin", "logit", "type"),
    ("best", "margin", "logit", "retriever", "type"),
)


@dataclass(frozen=True)
class Scored:
    """One dev question's best hits: retriever scores, reader logits, which are gold, and
    which hits belong to a paragraph holding a gold sentence."""

    question: str
    sentences: tuple[str, ...]
    answerable: bool
    topic: float
    retriever_answerable: float
    retrieved: np.ndarray
    logits: np.ndarray
    gold: np.ndarray
    gold_paragraph: np.ndarray
    synthetic: bool = False


def score_set(
    evalset: EvalSet,
    cache_dir: Path,
    encoder: Encoder,
    reader: Reader,
    top: int = MAX_TOP,
    elsewhere: bool = False,
) -> list[Scored]:
    """Retrieve and read every question of the set; with `elsewhere`, each answerable one
    asked of the set's other articles instead (`ranked_elsewhere`), as synthetic "not in the
    story" questions of a story about something close."""
    out = []
    asked = ranked_elsewhere if elsewhere else ranked
    for store, question, result in asked(evalset, cache_dir, encoder, top):
        hits = result.hits
        texts = [reader_text(store, h.index) for h in hits]
        gold = np.array([is_gold(h.sentence, question) for h in hits], dtype=bool)
        places = [(h.sentence.article, h.sentence.paragraph) for h in hits]
        golden = {p for p, g in zip(places, gold, strict=True) if g}
        out.append(
            Scored(
                question=question.question,
                sentences=tuple(h.sentence.text for h in hits),
                answerable=question.answerable and not elsewhere,
                topic=result.topic,
                retriever_answerable=result.answerable,
                retrieved=np.array([h.score for h in hits], dtype=np.float64),
                logits=reader.logits(question.question, texts).astype(np.float64),
                gold=gold,
                gold_paragraph=np.array([p in golden for p in places], dtype=bool),
                synthetic=elsewhere,
            )
        )
    return out


def without_answer(item: Scored) -> Scored | None:
    """The answerable question asked with its answering paragraphs taken out (None when too
    few hits are left to read)."""
    keep = ~item.gold_paragraph
    if not item.answerable or keep.sum() < 2:
        return None
    return replace(
        item,
        sentences=tuple(t for t, k in zip(item.sentences, keep, strict=True) if k),
        answerable=False,
        retrieved=item.retrieved[keep],
        logits=item.logits[keep],
        gold=item.gold[keep],
        gold_paragraph=item.gold_paragraph[keep],
        synthetic=True,
    )


def combined(item: Scored, top: int, weight: float) -> np.ndarray:
    """Re-scored hits (the first `top`), as `reread` computes them."""
    return item.logits[:top] + weight * item.retrieved[:top]


def chosen(item: Scored, top: int, weight: float) -> tuple[int, dict[str, float]]:
    """The hit the bot would quote and its P(right) signals."""
    scores = combined(item, top, weight)
    best = int(np.argmax(scores))
    signals = right_features(
        scores,
        item.logits[:top],
        best,
        item.retriever_answerable,
        item.question,
        item.sentences[best],
    )
    return best, signals


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


def recall_at_cut(scored: list[Scored], top: int) -> float:
    """The share of answerable questions with a gold sentence among the `top` hits read: the
    most reading that many can get right."""
    return recall_at([first_gold(list(s.gold)) for s in scored if s.answerable], top)


def risk_threshold(confidence: np.ndarray, right: np.ndarray, max_risk: float) -> float:
    """The lowest confidence at which the replies at or above it are at most `max_risk`
    wrong (every reply above the highest confidence when none is)."""
    for t in np.unique(confidence):
        shown = confidence >= t
        if (~right[shown]).mean() <= max_risk:
            return float(t)
    return float(confidence.max()) + 1e-6


def _share(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 4) if len(flags) else None


def fit(
    scored: list[Scored], max_risk: float = MAX_RISK, elsewhere: list[Scored] | None = None
) -> dict[str, Any]:
    """Every parameter `reader.reread` reads, from scored dev questions (and, to learn
    P(right) from, the same questions asked of another article: `elsewhere`)."""
    grid = [
        (ranking_figures(scored, top, w), -top, w, top) for top in TOPS for w in RETRIEVER_WEIGHTS
    ]
    (p1, mrr), _, weight, top = max(grid, key=lambda g: (g[0], g[1]))
    # Reading more candidates: the best P@1 at each cut beside the recall it is bounded by.
    by_top = {
        str(t): {
            "recall": round(recall_at_cut(scored, t), 4),
            "p_at_1": round(max(g[0][0] for g in grid if g[3] == t), 4),
        }
        for t in TOPS
    }
    removed = [s for s in map(without_answer, scored) if s is not None]
    other = list(elsewhere or [])
    learn = scored + removed + other
    picks = [chosen(s, top, weight) for s in learn]
    rows = [features for _, features in picks]
    right = np.array(
        [s.answerable and bool(s.gold[i]) for s, (i, _) in zip(learn, picks, strict=True)]
    )
    model, cv = choose_model(rows, right, RIGHT_SETS)
    confidence = np.array(
        [s.topic * probability(model, r) for s, r in zip(learn, rows, strict=True)]
    )
    natural = np.array([not s.synthetic for s in learn])
    threshold = risk_threshold(confidence[natural], right[natural], max_risk)
    shown = confidence >= threshold
    answerable = np.array([s.answerable for s in learn])
    return {
        "top": top,
        "retriever": weight,
        "right": model,
        "threshold": round(threshold, 5),
        "dev": {
            "p_at_1": round(p1, 4),
            "mrr": round(mrr, 4),
            "by_top": by_top,
            "auroc_right": round(auroc(list(confidence[right]), list(confidence[~right])), 4),
            # The same on dev's own questions alone (the synthetic ones are easier).
            "auroc_right_dev": round(
                auroc(list(confidence[right & natural]), list(confidence[~right & natural])), 4
            ),
            "cv_auroc": {"+".join(n): round(v, 4) for n, v in cv.items()},
            "risk": round(float((~right[shown & natural]).mean()), 4),
            "coverage": round(
                float((right & shown & natural).sum() / (answerable & natural).sum()), 4
            ),
            "removed_paragraph_answered": _share(shown[len(scored) : len(scored) + len(removed)]),
            "other_article_answered": _share(shown[len(scored) + len(removed) :]),
            "questions": int(natural.sum()),
            "without_answer": len(removed),
            "other_article": len(other),
        },
        "rule": f"threshold: at most {max_risk:.0%} of dev answers wrong (P(right) fitted on "
        "dev, dev without the answering paragraphs and dev asked of the other article)",
    }
