"""Tuning: fit the ranking weights, the confidence models and both thresholds on a dev set.

Only the dev set is read (SQuAD 2.0 `dev.json`; never `test.json`). Four fits, all plain numpy /
scipy on the same candidate features the bot computes at question time:

1. ranking weights — a linear listwise (softmax) model over each answerable question's
   candidates, maximising the probability of its gold sentences;
2. P(on topic) — logistic regression, in-story questions (answerable or not) against off-topic
   ones: each dev question asked of the *other* dev article, which never covers it;
3. P(answered | on topic) — logistic regression, answerable against unanswerable questions;
   for both, the signal subset with the best 5-fold cross-validated AUROC on dev is kept;
4. thresholds — `related_threshold` is the dev quantile of P(on topic) that calls at most
   `related_quantile` of in-story questions off topic; `threshold` is the dev quantile of
   `confidence` that declines at most `max_false_decline` of answerable questions. By default
   both are 0: "below every dev question that should pass" (docs/evaluation.md says why).

The candidate pool (how many dense and BM25 top sentences are scored) is the one of POOLS whose
fitted ranker has the best dev P@1.

`features` restricts the ranking to a subset of FEATURES (the others get weight 0), for the
ablation tables in docs/evaluation.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from index.embedder import Encoder
from index.errors import BadEvalSet
from index.quality.evalsets import EvalQuestion, EvalSet, eval_store, is_gold
from index.quality.metrics import auroc
from index.search import FEATURES, candidate_features, probability, signals
from index.soft_match import encode_with_tokens
from index.store import Store

POOLS = (64, 256)
TOPIC_SETS = (
    ("dense_max", "dense_passage_max"),
    ("dense_max", "dense_passage_max", "soft_max"),
    ("dense_max", "dense_passage_max", "coverage_max", "soft_max"),
)
ANSWER_SETS = (
    ("dense_passage_max",),
    ("dense_max", "dense_passage_max"),
    ("score", "dense_max", "dense_passage_max"),
    ("score", "margin", "dense", "dense_passage", "dense_max", "dense_passage_max"),
    ("score", "margin", "dense", "dense_passage", "coverage", "soft", "dense_max", "soft_max"),
)


@dataclass(frozen=True)
class Example:
    """One question's candidates: feature rows and which candidates are gold."""

    question: EvalQuestion
    features: np.ndarray
    gold: np.ndarray


def examples(
    store: Store, encoder: Encoder, questions: list[EvalQuestion], pool: int
) -> list[Example]:
    """Candidate features of each question against the store (the bot's own computation)."""
    vectors, tokens = encode_with_tokens(encoder, [q.question for q in questions])
    out = []
    for question, vector, qtokens in zip(questions, vectors, tokens, strict=True):
        cand, features = candidate_features(store, vector, question.question, qtokens, pool)
        gold = np.array([is_gold(store.sentences[int(c)], question) for c in cand], dtype=bool)
        out.append(Example(question, features.astype(np.float64), gold))
    return out


def fit_ranker(
    data: list[Example], l2: float = 1e-3, features: tuple[str, ...] = FEATURES
) -> np.ndarray:
    """Weights maximising the softmax probability of the gold candidates (mean over questions)."""
    usable = [e for e in data if e.gold.any()]
    mask = np.array([name in features for name in FEATURES], dtype=np.float64)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        w = w * mask
        for e in usable:
            s = e.features @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pg = p[e.gold].sum()
            total -= np.log(pg)
            grad -= (p[e.gold] / pg) @ e.features[e.gold] - p @ e.features
        return total / len(usable) + l2 * w @ w, mask * (grad / len(usable) + 2 * l2 * w)

    result = minimize(loss, mask.copy(), jac=True, method="L-BFGS-B")
    return np.asarray(result.x) * mask


def top1(data: list[Example], weights: np.ndarray) -> float:
    """Share of answerable examples whose best-scored candidate is gold (P@1 on dev)."""
    hits = [e.gold[int(np.argmax(e.features @ weights))] for e in data if e.question.answerable]
    return float(np.mean(hits)) if hits else 0.0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression on standardised columns; returns raw-scale (w, b)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    balance = np.where(y, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-np.clip(z @ b, -50, 50)))
        ll = -(balance * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).mean()
        reg = np.r_[b[:-1], 0.0]
        return ll + l2 * reg @ reg, z.T @ (balance * (p - y)) / len(y) + 2 * l2 * reg

    b = np.asarray(minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x)
    w = b[:-1] / scale
    return w, float(b[-1] - w @ mean)


def cv_auroc(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Mean held-out AUROC of `fit_logistic` over k folds."""
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    scores = []
    for k in range(folds):
        train, held = fold != k, fold == k
        w, b = fit_logistic(x[train], y[train])
        z = x[held] @ w + b
        scores.append(auroc(z[y[held]].tolist(), z[~y[held]].tolist()))
    return float(np.mean(scores))


def choose_model(
    rows: list[dict[str, float]], y: np.ndarray, subsets: tuple[tuple[str, ...], ...]
) -> tuple[dict[str, Any], dict[tuple[str, ...], float]]:
    """The signal subset with the best cross-validated AUROC (a later subset must beat an
    earlier one by 0.001), refitted on all rows; and every subset's cross-validated AUROC."""
    scores = {
        names: cv_auroc(np.array([[r[n] for n in names] for r in rows]), y) for names in subsets
    }
    best = subsets[0]
    for names in subsets[1:]:
        if scores[names] > scores[best] + 1e-3:
            best = names
    w, b = fit_logistic(np.array([[r[n] for n in best] for r in rows]), y)
    model: dict[str, Any] = {
        "weights": {n: round(float(v), 5) for n, v in zip(best, w, strict=True)},
        "bias": round(b, 5),
    }
    return model, scores


def tune(
    combined: list[Example],
    off_topic: list[Example],
    max_false_decline: float = 0.0,
    related_quantile: float | None = None,
    pool: int = 64,
    features: tuple[str, ...] = FEATURES,
) -> dict[str, Any]:
    """All parameters from dev examples (`combined`: every dev question against the dev stories;
    `off_topic`: every dev question against an article that does not hold it)."""
    w = fit_ranker(combined, features=features)
    weights = {n: round(float(v), 5) for n, v in zip(FEATURES, w, strict=True)}
    wv = np.array(list(weights.values()))
    rows = [signals(e.features @ wv, e.features) for e in combined]
    away = [signals(e.features @ wv, e.features) for e in off_topic]
    y_topic = np.array([True] * len(rows) + [False] * len(away))
    topic, topic_scores = choose_model(rows + away, y_topic, TOPIC_SETS)
    y_answer = np.array([e.question.answerable for e in combined])
    answer, answer_scores = choose_model(rows, y_answer, ANSWER_SETS)
    topic_cv, answer_cv = (
        topic_scores[tuple(topic["weights"])],
        answer_scores[tuple(answer["weights"])],
    )
    related_quantile = max_false_decline if related_quantile is None else related_quantile
    on_topic = np.array([probability(topic, r) for r in rows])
    confidence = on_topic * np.array([probability(answer, r) for r in rows])
    return {
        "pool": pool,
        "weights": weights,
        "topic": topic,
        "answer": answer,
        "related_threshold": round(float(np.quantile(on_topic, related_quantile)), 5),
        "threshold": round(float(np.quantile(confidence[y_answer], max_false_decline)), 5),
        "fitted": {
            "on": "SQuAD 2.0 dev.json",
            "rules": {
                "threshold": f"declines at most {max_false_decline:.1%} of answerable dev "
                "questions",
                "related_threshold": f"calls at most {related_quantile:.1%} of in-story dev "
                "questions off topic",
            },
            "cv_auroc": {"topic": round(topic_cv, 4), "answer": round(answer_cv, 4)},
        },
    }


def tune_on(
    dev: EvalSet,
    cache_dir: Path,
    encoder: Encoder,
    params: dict[str, Any],
    passage_sentences: int = 5,
    max_false_decline: float = 0.0,
    features: tuple[str, ...] = FEATURES,
) -> dict[str, Any]:
    """Build (or reuse) the dev indexes and fit every parameter on them."""
    if len(dev.articles) < 2:
        raise BadEvalSet(f"{dev.name}: tuning needs at least two stories for off-topic examples")
    store = eval_store(dev, cache_dir, encoder, params, passage_sentences)
    scored = []
    for size in POOLS:
        data = examples(store, encoder, list(dev.questions), size)
        scored.append((top1(data, fit_ranker(data, features=features)), -size, data))
    _, negative_pool, combined = max(scored, key=lambda t: (t[0], t[1]))
    pool = -negative_pool
    off_topic: list[Example] = []
    for article in dev.articles:
        alone = EvalSet(f"{dev.name}-one", (article,), ())
        single = eval_store(alone, cache_dir, encoder, params, passage_sentences)
        elsewhere = [q for q in dev.questions if q.story != article.id]
        off_topic += examples(single, encoder, elsewhere, pool)
    return tune(combined, off_topic, max_false_decline, pool=pool, features=features)


def write_params(params: dict[str, Any], path: Path) -> None:
    """Write parameters as the readable JSON that `index/params.json` holds."""
    Path(path).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
