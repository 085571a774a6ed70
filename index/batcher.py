"""Micro-batching: questions encoded at the same moment by different threads share one model call.

`Coalescer` needs no timer: a caller that finds the model idle runs at once with everything
queued so far (alone, when the bot is quiet: no added latency); callers arriving while it runs
queue up and go together in the next call. Under a burst the batches form by themselves, and a
batch of 8 short questions costs the ONNX model about half of 8 single calls on 2 cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from index.onnx_encoder import OnnxEncoder

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T, R]):
    item: T
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


class Coalescer(Generic[T, R]):
    """Calls `run(items) -> results` for items submitted concurrently, batching them."""

    def __init__(self, run: Callable[[list[T]], list[R]], max_batch: int = 32) -> None:
        self._run, self._max = run, max_batch
        self._cond = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._busy = False
        self.calls = 0

    def __call__(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
            while not slot.done and self._busy:
                self._cond.wait()
            if slot.done:
                return self._result(slot)
            self._busy = True
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
        try:
            results = self._run([s.item for s in batch])
            for s, result in zip(batch, results, strict=True):
                s.result = result
        except BaseException as exc:  # every waiter gets the model's error, not a hang
            for s in batch:
                s.error = exc
        with self._cond:
            for s in batch:
                s.done = True
            self._busy = False
            self.calls += 1
            self._cond.notify_all()
        return self._result(slot)

    @staticmethod
    def _result(slot: _Slot[T, R]) -> R:
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]


class BatchingOnnxEncoder(OnnxEncoder):
    """The ONNX query encoder whose one-text calls from concurrent threads are batched."""

    def __init__(self, folder: Any, threads: int = 1, **options: Any) -> None:
        # Concurrent questions, not intra-op threads, keep the cores busy: one thread per model
        # call costs ~25% less CPU a question than two (measured in docs/benchmarks.md).
        super().__init__(folder, threads=threads, **options)
        self._keep: np.ndarray | None = None
        self._single = Coalescer(self._run_batch)

    def _run_batch(
        self, texts: list[str]
    ) -> list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        assert self._keep is not None
        vectors, tokens = super().encode_tokens(texts, self._keep)
        return list(zip(vectors, tokens, strict=True))

    def encode_tokens(
        self, texts: Sequence[str], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """As `OnnxEncoder.encode_tokens`; a single text joins whatever batch is forming."""
        if len(texts) != 1 or (self._keep is not None and keep is not self._keep):
            return super().encode_tokens(texts, keep)
        self._keep = keep
        vector, tokens = self._single(texts[0])
        return vector.reshape(1, -1), [tokens]
