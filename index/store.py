"""The store: everything a query needs, saved in one folder with a manifest, swapped in atomically.

Layout of an index folder (`var/index` by default) — a symlink to the build that serves:

    var/index -> index.builds/20260101-120000-123/
        manifest.json   format, model, dim, counts, params, per-article hashes, file checksums
        articles.json   every article's metadata and body (offsets point into these bodies)
        sentences.json  [article number, paragraph, start, end] per sentence
        passages.json   [article number, paragraph, first, last] per passage
        sentences.faiss / passages.faiss   inner-product FAISS indexes of normalised vectors
        tokens.npz, tokens.vectors.npy   each sentence's content word-piece vectors (tokens.py)
        history.json    each article's recent versions, for "what's new" (index/versions.py)

A build writes a new folder beside the old ones and then atomically repoints the symlink, so a
reader sees either the old index or the new one, never half of one; a killed build leaves only
an unused folder behind. Loading verifies format, model and checksums before anything is served.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index import lexical as lexical_module
from index.articles import Article
from index.embedder import Encoder
from index.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.lexical import BM25, tokenize
from index.passages import Passage, make_passages, passage_text
from index.previous import previous_spans, split_all, splitter_fingerprint
from index.splitter import Sentence
from index.tokens import SentenceTokens, Tokens, sentence_tokens, text_key
from index.vectors import FLAT_MAX, choose_index, is_exact, make_index, ready
from index.versions import record, save_history

# Bump it whenever sentence_input or passage_input change: a rebuild reuses old vectors keyed by
# what the *current* inputs would be, so only a format change keeps stale vectors out.
FORMAT_VERSION = 4
KEEP_BUILDS = 3
LEXICAL_FILE = "lexical.pkl"
DATA_FILES = (
    "articles.json",
    "sentences.json",
    "passages.json",
    "sentences.faiss",
    "passages.faiss",
    "tokens.npz",
    "tokens.vectors.npy",
)


@dataclass
class Store:
    """A loaded index: articles, sentences, passages, their vectors and lexical indexes."""

    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    sentences: list[Sentence]
    passages: list[Passage]
    sentence_index: faiss.Index
    passage_index: faiss.Index
    tokens: SentenceTokens
    passage_of: np.ndarray = field(init=False)
    sentence_bm25: BM25 = field(init=False)
    passage_bm25: BM25 = field(init=False)
    lexical: tuple[BM25, BM25] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.passage_of = np.zeros(len(self.sentences), dtype=np.int64)
        for number, passage in enumerate(self.passages):
            self.passage_of[passage.first : passage.last] = number
        if self.lexical is None:  # saved by the build; rebuilt only for older builds
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


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI to print."""

    path: Path
    articles: int
    sentences: int
    passages: int
    embedded: int
    reused: int
    seconds: float


def sentence_input(sentence: Sentence, article: Article) -> str:
    """What the embedder sees for a sentence: the sentence itself.

    (Adding the title and the previous sentence was measured and lost on SQuAD dev; see
    docs/evaluation.md.)
    """
    return sentence.text


def passage_input(passage: Passage, sentences: list[Sentence], article: Article) -> str:
    """What the embedder sees for a passage: the article title, then the passage text."""
    return f"{article.title}. {passage_text(passage, sentences)}"


def lexical_indexes(sentences: list[Sentence], passages: list[Passage]) -> tuple[BM25, BM25]:
    """BM25 over the sentences and over the passages."""
    return (
        BM25([tokenize(s.text) for s in sentences]),
        BM25([tokenize(passage_text(p, sentences)) for p in passages]),
    )


def lexical_fingerprint() -> str:
    """Hash of the lexical code: a saved BM25 is used only by the code that wrote it."""
    return hashlib.sha1(Path(str(lexical_module.__file__)).read_bytes()).hexdigest()[:16]


def _load_lexical(build: Path, manifest: dict[str, Any]) -> tuple[BM25, BM25] | None:
    path = build / LEXICAL_FILE
    if manifest.get("lexical") != lexical_fingerprint() or not path.exists():
        return None
    with path.open("rb") as handle:
        loaded: tuple[BM25, BM25] = pickle.load(handle)
    return loaded


def _stored_vectors(store: Store, kind: str, index: faiss.Index) -> np.ndarray:
    """A build's exact vectors: from a flat index, or from the float16 copy kept beside IVF."""
    name = {"s": "sentences", "p": "passages"}[kind]
    copy = store.path / f"{name}.f16.npy"
    spec = store.manifest.get("vector_index", {}).get(name, {})
    if is_exact(spec) or _sha256(copy) != store.manifest["checksums"].get(copy.name):
        return index.reconstruct_n(0, index.ntotal)
    return np.load(copy).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())


def _flat_index(vectors: np.ndarray, dim: int) -> faiss.Index:
    index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def _builds_dir(index_dir: Path) -> Path:
    return index_dir.parent / f"{index_dir.name}.builds"


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock, or raise IndexBusy if another build holds it."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir.parent / f"{index_dir.name}.lock"
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy(f"another build of {index_dir} is running") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _previous_vectors(
    index_dir: Path, model: str
) -> tuple[dict[str, np.ndarray], dict[str, Tokens]]:
    """Text hash → vector (and sentence → token vectors) from the serving index, for reuse."""
    try:
        old = load_store(index_dir, expect_model=model)
    except (IndexNotBuilt, IndexMismatch, IndexCorrupt):
        return {}, {}
    cache: dict[str, np.ndarray] = {}
    tokens = {text_key(s.text): old.tokens.get(i) for i, s in enumerate(old.sentences)}
    s_texts = [sentence_input(s, old.articles[s.article]) for s in old.sentences]
    p_texts = [passage_input(p, old.sentences, old.articles[p.article]) for p in old.passages]
    for kind, index, texts in (
        ("s", old.sentence_index, s_texts),
        ("p", old.passage_index, p_texts),
    ):
        if index.ntotal:
            vectors = _stored_vectors(old, kind, index)
            for text, vector in zip(texts, vectors, strict=True):
                cache[_text_key(kind, text)] = vector
    return cache, tokens


def _text_key(kind: str, text: str) -> str:
    return kind + hashlib.sha1(text.encode()).hexdigest()


def _embed_cached(
    kind: str, texts: list[str], encoder: Encoder, cache: dict[str, np.ndarray], progress: bool
) -> tuple[np.ndarray, int]:
    """Embed texts, taking vectors from the cache where the exact text was embedded before."""
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    missing = [i for i, t in enumerate(texts) if _text_key(kind, t) not in cache]
    for i, text in enumerate(texts):
        hit = cache.get(_text_key(kind, text))
        if hit is not None:
            vectors[i] = hit
    if not missing:
        return vectors, 0
    # Each distinct text is embedded once: boilerplate lines repeat across an archive.
    distinct = list(dict.fromkeys(texts[i] for i in missing))
    fresh = dict(zip(distinct, encoder.encode(distinct, progress=progress), strict=True))
    vectors[missing] = np.array([fresh[texts[i]] for i in missing], dtype=np.float32)
    return vectors, len(distinct)


def build_index(
    articles: list[Article],
    index_dir: Path,
    encoder: Encoder,
    passage_sentences: int = 5,
    params: dict[str, Any] | None = None,
    progress: bool = False,
    on_stage: Callable[[str], None] | None = None,
    flat_max: int = FLAT_MAX,
) -> BuildReport:
    """Split, embed and save `articles` as a new build, then atomically make it the served one."""
    started = time.perf_counter()
    say = on_stage or (lambda _msg: None)
    index_dir = Path(index_dir)
    with build_lock(index_dir):
        ordered = sorted(articles, key=lambda a: a.id)
        by_id = {a.id: a for a in ordered}
        sentences = split_all(ordered, previous_spans(current_build(index_dir)))
        passages = make_passages(sentences, passage_sentences)
        say(f"{len(ordered)} articles, {len(sentences)} sentences, {len(passages)} passages")
        cache, token_cache = _previous_vectors(index_dir, encoder.name)
        s_texts = [sentence_input(s, by_id[s.article]) for s in sentences]
        p_texts = [passage_input(p, sentences, by_id[p.article]) for p in passages]
        s_vectors, s_new = _embed_cached("s", s_texts, encoder, cache, progress)
        p_vectors, p_new = _embed_cached("p", p_texts, encoder, cache, progress)
        tokens, _ = sentence_tokens([s.text for s in sentences], encoder, token_cache)

        builds = _builds_dir(index_dir)
        builds.mkdir(parents=True, exist_ok=True)
        now = time.time_ns()
        build_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now / 1e9)) + f".{now % 10**9:09d}"
        tmp = builds / f".tmp-{build_id}"
        tmp.mkdir()
        article_no = {a.id: n for n, a in enumerate(ordered)}
        _write_json(tmp / "articles.json", [asdict(a) for a in ordered])
        _write_json(
            tmp / "sentences.json",
            [[article_no[s.article], s.paragraph, s.start, s.end] for s in sentences],
        )
        _write_json(
            tmp / "passages.json",
            [[article_no[p.article], p.paragraph, p.first, p.last] for p in passages],
        )
        specs = {"sentences": choose_index(len(s_vectors), flat_max)}
        specs["passages"] = choose_index(len(p_vectors), flat_max)
        for name, vectors in (("sentences", s_vectors), ("passages", p_vectors)):
            faiss.write_index(
                make_index(vectors, encoder.dim, specs[name]), str(tmp / f"{name}.faiss")
            )
            if not is_exact(specs[name]):  # the next rebuild reuses vectors from this copy
                np.save(tmp / f"{name}.f16.npy", vectors.astype(np.float16))
        with (tmp / LEXICAL_FILE).open("wb") as handle:
            pickle.dump(lexical_indexes(sentences, passages), handle, protocol=5)
        tokens.save(tmp / "tokens.npz")
        save_history(record(build_id, ordered, sentences, current_build(index_dir)), tmp)
        manifest = {
            "format": FORMAT_VERSION,
            "build_id": build_id,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": encoder.name,
            "dim": encoder.dim,
            "passage_sentences": passage_sentences,
            "counts": {
                "articles": len(ordered),
                "sentences": len(sentences),
                "passages": len(passages),
            },
            "articles": {a.id: a.content_hash for a in ordered},
            "params": params or {},
            "vector_index": specs,
            "lexical": lexical_fingerprint(),
            "splitter": splitter_fingerprint(),
            "checksums": {name: _sha256(tmp / name) for name in _written(tmp)},
        }
        _write_json(tmp / "manifest.json", manifest)
        final = builds / build_id
        tmp.rename(final)
        _point_to(index_dir, final)
        _prune(builds, keep=final)
    return BuildReport(
        path=final,
        articles=len(ordered),
        sentences=len(sentences),
        passages=len(passages),
        embedded=s_new + p_new,
        reused=len(s_texts) + len(p_texts) - s_new - p_new,
        seconds=time.perf_counter() - started,
    )


def _written(tmp: Path) -> list[str]:
    """Every data file of a build folder being written (all but the manifest)."""
    return sorted(p.name for p in tmp.iterdir() if p.name != "manifest.json")


def _point_to(index_dir: Path, build: Path) -> None:
    """Atomically make `index_dir` a symlink to `build` (replacing a plain folder if needed)."""
    if index_dir.exists() and not index_dir.is_symlink():
        shutil.rmtree(index_dir)
    # The build lock is held, so any link left here is from a build killed before its swap.
    for stale in index_dir.parent.glob(f".{index_dir.name}.link-*"):
        stale.unlink(missing_ok=True)
    link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    link.symlink_to(os.path.relpath(build, index_dir.parent))
    os.replace(link, index_dir)


def _prune(builds: Path, keep: Path) -> None:
    """Drop all but the newest few builds, and any temp folder a killed build left behind."""
    finished = sorted(p for p in builds.iterdir() if not p.name.startswith("."))
    for old in finished[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in builds.glob(".tmp-*"):
        if tmp.name != f".tmp-{os.getpid()}":
            shutil.rmtree(tmp, ignore_errors=True)


def current_build(index_dir: Path) -> Path | None:
    """The build folder the index path points at now, or None if there is none."""
    index_dir = Path(index_dir)
    if not (index_dir / "manifest.json").exists():
        return None
    return index_dir.resolve()


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the served index, or IndexNotBuilt / IndexCorrupt."""
    path = Path(index_dir) / "manifest.json"
    if not path.exists():
        raise IndexNotBuilt(f"no index at {index_dir}; run `storybot index` to build it")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"the index manifest at {path} is unreadable: {exc}") from exc
    return manifest


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
        if verify and _sha256(path) != manifest.get("checksums", {}).get(name):
            raise IndexCorrupt(
                f"the index file {name} at {index_dir} fails its checksum (damaged or "
                "truncated); rebuild it with `storybot index`"
            )
    if LEXICAL_FILE in manifest.get("checksums", {}):
        path = build / LEXICAL_FILE
        if not path.exists() or (verify and _sha256(path) != manifest["checksums"][LEXICAL_FILE]):
            raise IndexCorrupt(
                f"the index file {LEXICAL_FILE} at {index_dir} is missing or damaged"
            )
    try:
        raw_articles = json.loads((build / "articles.json").read_text(encoding="utf-8"))
        articles = [Article(**a) for a in raw_articles]
        raw_sentences = json.loads((build / "sentences.json").read_text(encoding="utf-8"))
        raw_passages = json.loads((build / "passages.json").read_text(encoding="utf-8"))
        sentence_index = faiss.read_index(str(build / "sentences.faiss"))
        passage_index = faiss.read_index(str(build / "passages.faiss"))
        specs = manifest.get("vector_index", {})
        ready(sentence_index, specs.get("sentences", {}))
        ready(passage_index, specs.get("passages", {}))
        lexical = _load_lexical(build, manifest)
        tokens = SentenceTokens.load(build / "tokens.npz")
    except (OSError, ValueError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise IndexCorrupt(f"the index at {index_dir} cannot be read: {exc}") from exc
    sentences = [
        Sentence(articles[a].id, para, start, end, articles[a].body[start:end])
        for a, para, start, end in raw_sentences
    ]
    passages = [Passage(articles[a].id, para, first, last) for a, para, first, last in raw_passages]
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
    )
