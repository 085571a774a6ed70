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
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np

FLAT_MAX = 50_000
TRAIN_PER_LIST = 64


@dataclass(frozen=True)
class IndexSpec:
    """Which FAISS index holds a kind of vector: exact ("flat") or IVF with 8-bit codes, with
    its number of lists and how many a search probes. Saved in the manifest as JSON."""

    type: Literal["flat", "ivf-sq8"] = "flat"
    nlist: int = 0
    nprobe: int = 0

    @property
    def exact(self) -> bool:
        """Whether `reconstruct` gives back the vectors exactly as they were added."""
        return self.type == "flat"

    def to_json(self) -> dict[str, Any]:
        """The manifest's form: `{"type": "flat"}`, or the IVF type with its list counts."""
        if self.exact:
            return {"type": "flat"}
        return {"type": self.type, "nlist": self.nlist, "nprobe": self.nprobe}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexSpec:
        """A manifest entry (missing: flat, as builds before IVF were); ValueError if unknown."""
        kind = data.get("type", "flat")
        if kind == "flat":
            return cls()
        if kind == "ivf-sq8":
            return cls("ivf-sq8", int(data["nlist"]), int(data["nprobe"]))
        raise ValueError(f"unknown vector index type {kind!r}")


def choose_index(n: int, flat_max: int = FLAT_MAX) -> IndexSpec:
    """The index spec for `n` vectors: flat, or IVF-SQ8 with its list counts."""
    if n <= flat_max:
        return IndexSpec()
    nlist = max(1, min(int(2 * math.sqrt(n)), n // 40))  # k-means wants ~40 points a list
    return IndexSpec("ivf-sq8", nlist, min(nlist, max(16, nlist // 16)))


def choose_indexes(
    n_sentences: int, n_passages: int, flat_max: int = FLAT_MAX
) -> dict[str, IndexSpec]:
    """Specs of both indexes. Passages are quantised whenever sentences are, though there are
    ~4x fewer of them: at 100k sentences their flat index would be a fifth of the bot's memory."""
    sentences = choose_index(n_sentences, flat_max)
    passage_max = flat_max if sentences.exact else 0
    return {"sentences": sentences, "passages": choose_index(n_passages, passage_max)}


def make_index(vectors: np.ndarray, dim: int, spec: IndexSpec) -> faiss.Index:
    """A filled inner-product index of `vectors` (rows L2-normalised) as `spec` says."""
    index: faiss.Index
    if spec.exact:
        index = faiss.IndexFlatIP(dim)
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            dim,
            spec.nlist,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        # A seeded sample keeps builds of the same corpus identical; k-means needs ~40 per list.
        rng = np.random.default_rng(0)
        size = min(len(vectors), TRAIN_PER_LIST * spec.nlist)
        sample = vectors[np.sort(rng.choice(len(vectors), size, replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    ready(index, spec)
    return index


def ready(index: faiss.Index, spec: IndexSpec) -> None:
    """Set search-time parameters and allow `reconstruct` (IVF needs a direct map for it)."""
    if not spec.exact:
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = spec.nprobe
        ivf.make_direct_map()
