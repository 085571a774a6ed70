"""Tuning on synthetic candidates: the fits find the informative signals, thresholds obey rules."""

from __future__ import annotations

import numpy as np
import pytest

from index.quality.evalsets import EvalQuestion
from index.quality.tuning import Example, cv_auroc, fit_logistic, fit_ranker, tune
from index.search import FEATURES, probability, signals

SOFT = FEATURES.index("soft")


def synthetic(
    n: int, seed: int, answerable_share: float = 0.5, shift: float = 0.0
) -> list[Example]:
    """Questions whose gold candidate stands out only in the `soft` column."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        features = rng.uniform(0, 0.5, size=(20, len(FEATURES))) + shift
        answerable = i < n * answerable_share
        gold = np.zeros(20, dtype=bool)
        if answerable:
            gold[i % 20] = True
            features[i % 20, SOFT] += 0.6
            features[:, FEATURES.index("dense")] += 0.3
        anchors = (("a", 0),) if answerable else ()
        kind = "answerable" if answerable else "unanswerable"
        out.append(Example(EvalQuestion(f"q{i}", anchors, kind, "a"), features, gold))
    return out


def test_ranker_puts_weight_on_the_informative_feature() -> None:
    w = fit_ranker(synthetic(60, 0))
    assert int(np.argmax(w)) == SOFT
    data = synthetic(40, 1)
    top_is_gold = [e.gold[np.argmax(e.features @ w)] for e in data if e.gold.any()]
    assert np.mean(top_is_gold) > 0.9


def test_ranker_restricted_to_features_leaves_the_rest_at_zero() -> None:
    w = fit_ranker(synthetic(30, 0), features=("dense", "bm25"))
    assert w[SOFT] == 0.0
    assert w[FEATURES.index("dense")] != 0.0


def test_logistic_regression_separates_and_reports_raw_scale_weights() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (100, 1)), rng.normal(3, 1, (100, 1))]) * 10 + 5
    y = np.array([False] * 100 + [True] * 100)
    w, b = fit_logistic(x, y)
    assert w[0] > 0
    # The decision boundary sits between the class means (5 and 35 on the raw scale).
    assert 10 < -b / w[0] < 30
    assert cv_auroc(x, y) > 0.9


def test_tune_writes_every_parameter_and_declines_no_answerable_dev_question() -> None:
    combined = synthetic(80, 2)
    off_topic = synthetic(40, 3, answerable_share=0.0, shift=-0.3)
    params = tune(combined, off_topic, max_false_decline=0.0)
    assert set(params) >= {"weights", "topic", "answer", "threshold", "related_threshold"}
    assert set(params["weights"]) == set(FEATURES)
    w = np.array([params["weights"][n] for n in FEATURES])
    for example in combined:
        if example.question.answerable:
            values = signals(example.features @ w, example.features)
            confidence = probability(params["topic"], values) * probability(
                params["answer"], values
            )
            assert confidence >= params["threshold"] - 1e-4


@pytest.mark.parametrize("share", [0.02, 0.1])
def test_related_threshold_is_the_in_story_quantile(share: float) -> None:
    params = tune(synthetic(60, 4), synthetic(30, 5, 0.0, -0.3), related_quantile=share)
    assert 0.0 <= params["related_threshold"] <= 1.0
