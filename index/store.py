"""The store: everything a query needs, saved in one folder with a manifest, swapped in atomically.

Layout of an index folder (`var/index` by default) — a symlink to the build that serves:

    var/index -> index.builds/20260101-120000-123/
        manifest.json   format, model, dim, counts, params, per-article hashes, file checksums
        articles.json   every article's metadata and body (offsets point into these bodies)
        sentences.json  [article number, paragraph, start, end] per sentence
        passages.json   [article number, paragraph, first, last] per passage
        sentences.faiss / passages.faiss   inner-product FAISS indexes of normalised vectors
        sentences.f16.npy / passages.f16.npy   exact vectors beside an IVF index, for rebuilds only
        sentences.bm25.json / .npy, passages.bm25.json / .npy   BM25 terms and postings (lexical.py)
        tokens.npz, tokens.vectors.npy   each sentence's content word-piece vectors (soft_match.py)
        history.json    each article's recent versions, for "what's new" (index/versions.py)
        revisions.json  sentence id → earlier wording, for sentences an update changed

A build writes a new folder beside the old ones and then atomically repoints the symlink, so a
reader sees either the old index or the new one, never half of one; a killed build leaves only
an unused folder behind. Loading verifies format, model and checksums before anything is served.

Only what a query needs is resident: sentences and passages are integer columns
(index/tables.py), BM25 postings and token vectors are memory-mapped, and the history (tens of MB
at 100k sentences) is read only by "what's new" — answers need just `revisions.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.articles import Article
from index.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.lexical import BM25, LEXICAL_FILES, lexical_indexes, load_lexical
from index.manifest import MANIFEST, read_json, read_manifest, sha256_file
from index.soft_match import SentenceTokens
from index.tables import PassageTable, SentenceTable
from index.vectors import IndexSpec, ready

# Bump it whenever builder.sentence_input or builder.passage_input change: a rebuild reuses old
# vectors keyed by what the *current* inputs would be, so only a format change keeps stale
# vectors out.
FORMAT_VERSION = 5
# What marks the rest of a build stale, beside FORMAT_VERSION; bump one when its code changes
# what it writes. A saved BM25 is used only at the LEXICAL_VERSION that wrote it (tokenizing,
# scoring or file layout in index/lexical.py); reused sentence spans only at the
# SPLITTER_VERSION that split them (index/splitter.py). Versions, not hashes of the source, so
# that editing a comment does not quietly rebuild every index.
LEXICAL_VERSION = 1
SPLITTER_VERSION = 1
REVISIONS_FILE = "revisions.json"
DATA_FILES = (
    "articles.json",
    "sentences.json",
    "passages.json",
    "sentences.faiss",
    "passages.faiss",
    "tokens.npz",
    "tokens.vectors.npy",
    *(name for pair in LEXICAL_FILES.values() for name in pair),
    REVISIONS_FILE,
)


@dataclass
class Store:
    """A loaded index: articles, sentences, passages, their vectors and lexical indexes."""

    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    sentences: SentenceTable
    passages: PassageTable
    sentence_index: faiss.Index
    passage_index: faiss.Index
    tokens: SentenceTokens
    revised: dict[str, str] = field(default_factory=dict, repr=False)
    passage_of: np.ndarray = field(init=False)
    neighbours: np.ndarray = field(init=False)
    sentence_bm25: BM25 = field(init=False)
    passage_bm25: BM25 = field(init=False)
    lexical: tuple[BM25, BM25] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.passage_of = self.passages.owners(len(self.sentences))
        self.neighbours = paragraph_neighbours(self.sentences)
        if self.lexical is None:  # saved by the build; rebuilt when the lexical code changed
            self.lexical = lexical_indexes(self.sentences, self.passages)
        self.sentence_bm25, self.passage_bm25 = self.lexical

    @property
    def params(self) -> dict[str, Any]:
        """Retrieval and abstention parameters the index was built with."""
        return dict(self.manifest.get("params", {}))

    @property
    def build_id(self) -> str:
        """Name of the build folder this store was loaded from."""
        return str(self.manifest["build_id"])


def paragraph_neighbours(sentences: SentenceTable) -> np.ndarray:
    """(n, 2): the previous and the next sentence in each sentence's paragraph, -1 for none."""
    n = len(sentences)
    out = np.full((n, 2), -1, dtype=np.int64)
    same = (sentences.article_no[1:] == sentences.article_no[:-1]) & (
        sentences.paragraph[1:] == sentences.paragraph[:-1]
    )
    out[1:, 0] = np.where(same, np.arange(n - 1), -1)
    out[:-1, 1] = np.where(same, np.arange(1, n), -1)
    return out


def stored_vectors(store: Store, kind: str, index: faiss.Index) -> np.ndarray:
    """A build's exact vectors: from a flat index, or from the float16 copy kept beside IVF."""
    name = {"s": "sentences", "p": "passages"}[kind]
    copy = store.path / f"{name}.f16.npy"
    spec = IndexSpec.from_json(store.manifest.get("vector_index", {}).get(name, {}))
    if spec.exact or sha256_file(copy) != store.manifest["checksums"].get(copy.name):
        return index.reconstruct_n(0, index.ntotal)
    return np.load(copy).astype(np.float32)


def current_build(index_dir: Path) -> Path | None:
    """The build folder the index path points at now, or None if there is none."""
    index_dir = Path(index_dir)
    if not (index_dir / MANIFEST).exists():
        return None
    return index_dir.resolve()


def load_store(index_dir: Path, expect_model: str | None = None, verify: bool = True) -> Store:
    """Load the served index, refusing a format/model mismatch or a damaged file."""
    build = current_build(Path(index_dir))
    if build is None:
        raise IndexNotBuilt(f"no index at {index_dir}; run `storybot index` to build it")
    manifest = read_manifest(build)
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index at {index_dir} has format {manifest.get('format')}, this storybot reads "
            f"format {FORMAT_VERSION}; rebuild it with `storybot index`"
        )
    if expect_model is not None and manifest.get("model") != expect_model:
        raise IndexMismatch(
            f"the index at {index_dir} was built with model {manifest.get('model')!r}, "
            f"but the configured model is {expect_model!r}; rebuild it with `storybot index`"
        )
    for name in DATA_FILES:
        path = build / name
        if not path.exists():
            raise IndexCorrupt(f"the index at {index_dir} is missing {name}; rebuild it")
        if verify and sha256_file(path) != manifest.get("checksums", {}).get(name):
            raise IndexCorrupt(
                f"the index file {name} at {index_dir} fails its checksum (damaged or "
                "truncated); rebuild it with `storybot index`"
            )
    try:
        raw_articles = read_json(build / "articles.json")
        articles = [Article(**a) for a in raw_articles]
        del raw_articles
        sentences = SentenceTable(articles, read_json(build / "sentences.json"))
        passages = PassageTable(articles, read_json(build / "passages.json"))
        revised = read_json(build / REVISIONS_FILE)
        if not isinstance(revised, dict):
            raise ValueError(f"{REVISIONS_FILE} is not a mapping")
        sentence_index = faiss.read_index(str(build / "sentences.faiss"))
        passage_index = faiss.read_index(str(build / "passages.faiss"))
        specs = manifest.get("vector_index", {})
        ready(sentence_index, IndexSpec.from_json(specs.get("sentences", {})))
        ready(passage_index, IndexSpec.from_json(specs.get("passages", {})))
        # A saved BM25 is used only at the LEXICAL_VERSION that wrote it; else rebuilt.
        lexical = load_lexical(build) if manifest.get("lexical") == LEXICAL_VERSION else None
        tokens = SentenceTokens.load(build / "tokens.npz")
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, EOFError) as exc:
        raise IndexCorrupt(f"the index at {index_dir} cannot be read: {exc}") from exc
    if (
        sentence_index.ntotal != len(sentences)
        or passage_index.ntotal != len(passages)
        or tokens.n != len(sentences)
    ):
        raise IndexCorrupt(f"the index at {index_dir} has vectors and records out of step")
    return Store(
        path=build,
        manifest=manifest,
        articles={a.id: a for a in articles},
        sentences=sentences,
        passages=passages,
        sentence_index=sentence_index,
        passage_index=passage_index,
        lexical=lexical,
        tokens=tokens,
        revised=revised,
    )
