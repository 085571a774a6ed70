"""Vector indexes: the FAISS index type chosen by corpus size, built, recorded and made ready.

Up to `FLAT_MAX` vectors the index is exact (`IndexFlatIP`, 1.5 KB a vector at dim 384). Above
that it is IVF with 8-bit scalar quantisation ("ivf-sq8"): vectors are stored in a quarter of
the space and a question probes only the nearest `nprobe` of `nlist` clusters, which keeps
memory and search time in bounds at a million sentences. Its recall against exact search is
measured by the benchmarks (docs/benchmarks.md). Passages follow the sentences: a corpus big
enough for IVF sentences gets IVF passages too. The chosen spec goes into the manifest, and
`ready` restores the search-time settings after loading. Candidate vectors come back through
`reconstruct_batch` for both kinds (decoded from 8 bits for IVF, so cosines are near-exact).
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

FLAT_MAX = 50_000
TRAIN_PER_LIST = 64


def choose_index(n: int, flat_max: int = FLAT_MAX) -> dict[str, Any]:
    """The index spec for `n` vectors: `{"type": "flat"}` or IVF-SQ8 with its list counts."""
    if n <= flat_max:
        return {"type": "flat"}
    nlist = max(1, min(int(2 * math.sqrt(n)), n // 40))  # k-means wants ~40 points a list
    return {"type": "ivf-sq8", "nlist": nlist, "nprobe": min(nlist, max(16, nlist // 16))}


def choose_indexes(n_sentences: int, n_passages: int, flat_max: int = FLAT_MAX) -> dict[str, Any]:
    """Specs of both indexes. Passages are quantised whenever sentences are, though there are
    ~4x fewer of them: at 100k sentences their flat index would be a fifth of the bot's memory."""
    sentences = choose_index(n_sentences, flat_max)
    passage_max = flat_max if is_exact(sentences) else 0
    return {"sentences": sentences, "passages": choose_index(n_passages, passage_max)}


def make_index(vectors: np.ndarray, dim: int, spec: dict[str, Any]) -> faiss.Index:
    """A filled inner-product index of `vectors` (rows L2-normalised) as `spec` says."""
    index: faiss.Index
    if spec["type"] == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec["type"] == "ivf-sq8":
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            dim,
            int(spec["nlist"]),
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        # A seeded sample keeps builds of the same corpus identical; k-means needs ~40 per list.
        rng = np.random.default_rng(0)
        size = min(len(vectors), TRAIN_PER_LIST * int(spec["nlist"]))
        sample = vectors[np.sort(rng.choice(len(vectors), size, replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    else:
        raise ValueError(f"unknown vector index type {spec['type']!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    ready(index, spec)
    return index


def ready(index: faiss.Index, spec: dict[str, Any]) -> None:
    """Set search-time parameters and allow `reconstruct` (IVF needs a direct map for it)."""
    if spec.get("type") == "ivf-sq8":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = int(spec["nprobe"])
        ivf.make_direct_map()


def is_exact(spec: dict[str, Any]) -> bool:
    """Whether `reconstruct` gives back the vectors exactly as they were added."""
    return spec.get("type", "flat") == "flat"
