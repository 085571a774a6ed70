"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from index.quality.metrics import auroc, first_gold, mrr, precision_at_1, recall_at


def test_first_gold_is_the_position_of_the_first_gold_hit() -> None:
    assert first_gold([False, False, True, True]) == 2
    assert first_gold([True]) == 0
    assert first_gold([False, False]) is None
    assert first_gold([]) is None


def test_precision_at_1_counts_gold_first_hits() -> None:
    assert precision_at_1([0, 2, None, 0]) == pytest.approx(0.5)
    assert precision_at_1([]) == 0.0


def test_mrr_averages_reciprocal_ranks_and_ignores_ranks_past_k() -> None:
    # 1/1 + 1/3 + 0 (missing) + 0 (rank 11 is past k=10), over 4 questions
    assert mrr([0, 2, None, 10], k=10) == pytest.approx((1 + 1 / 3) / 4)
    assert mrr([9], k=10) == pytest.approx(0.1)


def test_recall_at_k_counts_gold_within_the_top_k() -> None:
    assert recall_at([0, 4, 5, None], k=5) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("positive", "negative", "expected"),
    [
        ([0.9, 0.8], [0.1, 0.2], 1.0),
        ([0.1, 0.2], [0.9, 0.8], 0.0),
        ([0.5], [0.5], 0.5),
        # pairs: (0.8>0.3) (0.8>0.6) (0.4>0.3) (0.4<0.6) → 3 of 4
        ([0.8, 0.4], [0.3, 0.6], 0.75),
        # one tie counts half: (0.5 vs 0.5) .5, (0.5>0.2) 1, (0.9>0.5) 1, (0.9>0.2) 1 → 3.5/4
        ([0.5, 0.9], [0.5, 0.2], 0.875),
    ],
)
def test_auroc_matches_pair_counting(
    positive: list[float], negative: list[float], expected: float
) -> None:
    assert auroc(positive, negative) == pytest.approx(expected)


def test_auroc_is_undefined_without_both_classes() -> None:
    assert math.isnan(auroc([0.1], []))
