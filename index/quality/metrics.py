"""Metrics: ranking and abstention scores over a labelled question set.

A ranking is given as the 0-based position of the first gold sentence among the hits, or None
when no gold sentence was listed: `[0, 2, None]` → P@1 1/3, MRR (1 + 1/3 + 0)/3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def first_gold(hits: Sequence[bool]) -> int | None:
    """Position of the first True in a hit list (`[False, True]` → 1), None if there is none."""
    for position, gold in enumerate(hits):
        if gold:
            return position
    return None


def precision_at_1(ranks: Sequence[int | None]) -> float:
    """Share of questions whose first hit is gold."""
    return float(np.mean([r == 0 for r in ranks])) if ranks else 0.0


def mrr(ranks: Sequence[int | None], k: int = 10) -> float:
    """Mean reciprocal rank of the first gold hit, counting only the top `k`."""
    if not ranks:
        return 0.0
    return float(np.mean([1.0 / (r + 1) if r is not None and r < k else 0.0 for r in ranks]))


def recall_at(ranks: Sequence[int | None], k: int = 5) -> float:
    """Share of questions with a gold hit in the top `k`."""
    return float(np.mean([r is not None and r < k for r in ranks])) if ranks else 0.0


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    values = np.concatenate([pos, neg])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # Average the ranks of tied values (Mann-Whitney U).
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))
