"""Paths and small helpers shared by test modules (fixtures live in conftest.py)."""

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED_STORIES = ROOT / "stories"
SEED_FILE = SEED_STORIES / "2025-04-23-london-talks.txt"
DATA = Path(__file__).resolve().parent / "data"


class FakeEmbedder:
    """A deterministic bag-of-words encoder (hashed words), fast enough for store tests.

    It implements the real `index.embedder.Encoder` interface, so stores built with it are real
    FAISS stores; only the vectors are cheap.
    """

    name = "fake-bow"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.md5(word.strip(".,\"'").encode()).digest()
                out[row, digest[0] % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] /= norm or 1.0
        return out
