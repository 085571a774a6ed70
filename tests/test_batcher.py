"""Micro-batching: concurrent callers share model calls and each gets its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from index.batcher import Coalescer


def test_concurrent_calls_are_batched_and_answered_in_order() -> None:
    batches: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        batches.append(items)
        time.sleep(0.05)  # a busy model: callers arriving meanwhile queue up
        return [i * 10 for i in items]

    coalesce = Coalescer(run)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(coalesce, range(24)))
    assert results == [i * 10 for i in range(24)]
    assert sorted(i for b in batches for i in b) == list(range(24))
    assert len(batches) < 24 and max(len(b) for b in batches) > 1


def test_a_lone_call_runs_at_once() -> None:
    coalesce = Coalescer(lambda items: [x + 1 for x in items])
    assert coalesce(1) == 2 and coalesce.calls == 1


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_batch_runs() -> None:
    gate = threading.Event()

    def run(items: list[str]) -> list[str]:
        gate.wait(1)
        if "bad" in items:
            raise ValueError("model failed")
        return items

    coalesce = Coalescer(run)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(coalesce, "warm")
        time.sleep(0.05)
        bad = [pool.submit(coalesce, x) for x in ("bad", "ok")]
        gate.set()
        assert first.result() == "warm"
        for future in bad:
            with pytest.raises(ValueError, match="model failed"):
                future.result()
    assert coalesce("after") == "after"
