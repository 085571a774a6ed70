"""Building: split, embed and save articles as a new build, then swap it in atomically.

A build takes the index's lock, reuses what the serving build already computed (sentence spans of
unchanged articles, vectors by text hash), writes everything into a temp folder beside the old
builds, renames it into place and repoints the index symlink with one `os.replace`. A build
killed at any moment leaves the previous index serving; the next build cleans up after it.

Beside the index path `DIR` a build keeps `DIR.builds/` (the builds) and `DIR.lock`. It replaces
`DIR` only when `DIR` is something a build made (`check_replaceable`), and its cleanup removes
only what a build made, so pointing `--index` at the wrong folder is an error, never a deletion.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from index.articles import Article, Problem, load_articles
from index.embedder import Encoder
from index.errors import (
    CannotWrite,
    EmptyCorpus,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexNotBuilt,
    NotAnIndex,
    os_reason,
)
from index.lexical import lexical_indexes, save_lexical
from index.manifest import MANIFEST, manifest_or_none, read_manifest, sha256_file, write_json
from index.passages import Passage, make_passages, passage_text
from index.previous import previous_spans, split_all
from index.search import default_params
from index.soft_match import SentenceTokens, Tokens, encode_with_tokens
from index.splitter import Sentence, text_key
from index.store import (
    FORMAT_VERSION,
    LEXICAL_VERSION,
    REVISIONS_FILE,
    SPLITTER_VERSION,
    current_build,
    load_store,
    stored_vectors,
)
from index.vectors import FLAT_MAX, choose_indexes, make_index
from index.versions import record, save_history

KEEP_BUILDS = 3
PROGRESS_CHUNK = 256  # texts per encode call under a progress bar: whole batches, fine steps
_CHOOSE = "choose a new or empty folder for the index (--index or STORYBOT_INDEX)"
_CHOOSE_WRITABLE = "choose an index folder storybot can write (--index or STORYBOT_INDEX)"


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


def _builds_dir(index_dir: Path) -> Path:
    return index_dir.parent / f"{index_dir.name}.builds"


def _lock_path(index_dir: Path) -> Path:
    return index_dir.parent / f"{index_dir.name}.lock"


def sentence_input(sentence: Sentence, article: Article) -> str:
    """What the embedder sees for a sentence: the sentence itself (whose word pieces are also
    what soft matching compares a question's with: one forward pass gives both).

    (Adding the title and the previous sentence was measured and lost on SQuAD dev; see
    docs/evaluation.md.) Changing this or `passage_input` needs a FORMAT_VERSION bump.
    """
    return sentence.text


def passage_input(passage: Passage, sentences: Sequence[Sentence], article: Article) -> str:
    """What the embedder sees for a passage: the article title, then the passage text."""
    return f"{article.title}. {passage_text(passage, sentences)}"


def _build_files(folder: Path) -> list[Path] | None:
    """The entries of `folder` when it is empty or holds one build's files and nothing else.

    A build's files are its manifest and those its checksums name (every file the build wrote),
    so removing the entries returned never removes anything a build did not make.
    """
    entries = list(folder.iterdir())
    if not entries:
        return entries
    manifest = manifest_or_none(folder)
    checksums = manifest.get("checksums") if manifest else None
    if not isinstance(checksums, dict):
        return None
    names = {MANIFEST, *checksums}
    ours = all(e.name in names and not e.is_symlink() and e.is_file() for e in entries)
    return entries if ours else None


def _refusal(index_dir: Path) -> str | None:
    """Why a build must not replace what is at `index_dir` (or build beside it), or None."""
    if index_dir.name in ("", ".."):  # ".", "..", "/": no name to put DIR.builds/DIR.lock by
        return f"the index path {str(index_dir)!r} must name a folder of its own; {_CHOOSE}"
    builds, lock = _builds_dir(index_dir), _lock_path(index_dir)
    try:
        if index_dir.is_symlink():
            target = index_dir.parent / index_dir.readlink()
            # Replacing a link never touches its target, but only a link to a build is ours.
            into_builds = target.resolve().parent == builds.resolve()
            if not into_builds and not (target.is_dir() and manifest_or_none(target)):
                return f"{index_dir} links to {target}, not to a storybot index build; {_CHOOSE}"
        elif index_dir.is_dir():
            if _build_files(index_dir) is None:
                return (
                    f"{index_dir} is a folder that is not a storybot index (it holds other "
                    f"files), so it was left untouched; {_CHOOSE}"
                )
        elif index_dir.exists():
            return f"{index_dir} is a file, not a storybot index; {_CHOOSE}"
        if builds.exists() and not builds.is_dir():
            return f"{builds} (where builds are kept) is not a folder; {_CHOOSE}"
        if lock.is_dir():
            return f"{lock} (the build lock file) is a folder; {_CHOOSE}"
    except OSError as exc:
        return f"cannot tell whether {index_dir} is a storybot index ({exc}); {_CHOOSE}"
    return None


def is_replaceable(index_dir: Path) -> bool:
    """Whether a build may make `index_dir` its symlink: nothing is there, or an empty folder,
    a link to a build, or a folder holding one build's files and nothing else."""
    return _refusal(Path(index_dir)) is None


def check_replaceable(index_dir: Path) -> None:
    """Raise NotAnIndex unless a build may replace what is at `index_dir` (is_replaceable)."""
    reason = _refusal(Path(index_dir))
    if reason is not None:
        raise NotAnIndex(reason)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock, or raise IndexBusy if another build holds it."""
    lock_path = _lock_path(index_dir)
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a")
    except OSError as exc:
        raise CannotWrite(
            f"cannot write the build lock {lock_path} ({os_reason(exc)}); {_CHOOSE_WRITABLE}"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy(f"another build of {index_dir} is running") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_running(index_dir: Path) -> bool:
    """Whether a build of `index_dir` holds its lock now (in any process). Reading the lock
    needs no write access, so this works beside an index storybot may not write."""
    try:
        handle = _lock_path(Path(index_dir)).open("rb")
    except OSError:  # no lock file: no build has run here yet
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _previous_vectors(
    index_dir: Path, model: str
) -> tuple[dict[str, np.ndarray], dict[str, Tokens]]:
    """Text hash → vector (and sentence text hash → its word-piece vectors) from the serving
    index, for reuse."""
    try:
        old = load_store(index_dir, expect_model=model)
    except (IndexNotBuilt, IndexMismatch, IndexCorrupt):
        return {}, {}
    cache: dict[str, np.ndarray] = {}
    s_texts = [sentence_input(s, old.articles[s.article]) for s in old.sentences]
    tokens = {text_key(text): old.tokens.get(i) for i, text in enumerate(s_texts)}
    p_texts = [passage_input(p, old.sentences, old.articles[p.article]) for p in old.passages]
    for kind, index, texts in (
        ("s", old.sentence_index, s_texts),
        ("p", old.passage_index, p_texts),
    ):
        if index.ntotal:
            vectors = stored_vectors(old, kind, index)
            for text, vector in zip(texts, vectors, strict=True):
                cache[_text_key(kind, text)] = vector
    return cache, tokens


def _text_key(kind: str, text: str) -> str:
    return kind + text_key(text)  # "s" and "p": a passage may read like a sentence


def counted(n: int, noun: str) -> str:
    """`counted(1, "article")` → `1 article`; `counted(1234, "sentence")` → `1,234 sentences`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _tell(message: str) -> None:
    """A stage line on stderr, written so that it never tears a progress bar."""
    tqdm.write(message, file=sys.stderr)
    sys.stderr.flush()  # ahead of what stdout prints next, even where stderr is buffered


def _encode(
    texts: list[str],
    encode: Callable[[list[str]], Any],
    label: str,
    noun: str,
    progress: bool,
    say: Callable[[str], None],
) -> list[Any]:
    """`encode(chunk)` for each chunk of `texts`, labelled `label`: under a progress bar when
    `progress` and stderr is a terminal, else as one stage line."""
    bar = tqdm(
        total=len(texts),
        desc=label,
        unit=f" {noun}s",
        file=sys.stderr,
        disable=None if progress else True,  # None: a bar only when stderr is a terminal
    )
    if bar.disable:
        say(label)
    with bar:
        parts = []
        for start in range(0, len(texts), PROGRESS_CHUNK):
            chunk = texts[start : start + PROGRESS_CHUNK]
            parts.append(encode(chunk))
            bar.update(len(chunk))
    return parts


def _from_cache(kind: str, texts: list[str], cache: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """The cached vector of each text, one row per text."""
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        vectors[i] = cache[_text_key(kind, text)]
    return vectors


def _embed_passages(
    texts: list[str],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    progress: bool,
    say: Callable[[str], None],
) -> tuple[np.ndarray, int]:
    """Passage vectors, taken from the cache where the exact text was embedded before;
    returns them and how many texts were embedded."""
    # Each distinct text is embedded once: boilerplate lines repeat across an archive.
    new = [t for t in dict.fromkeys(texts) if _text_key("p", t) not in cache]
    if new:
        label = f"Embedding {counted(len(new), 'passage')}"
        parts = _encode(new, encoder.encode, label, "passage", progress, say)
        for text, vector in zip(new, np.concatenate(parts), strict=True):
            cache[_text_key("p", text)] = vector
    return _from_cache("p", texts, cache, encoder.dim), len(new)


def _embed_sentences(
    texts: list[str],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    token_cache: dict[str, Tokens],
    progress: bool,
    say: Callable[[str], None],
) -> tuple[np.ndarray, SentenceTokens, int]:
    """Sentence vectors and their word-piece vectors (for soft matching), taken from the caches
    where the exact text was embedded before; returns both and how many texts were embedded.

    One forward pass gives a sentence both, its vector being the mean of its word pieces'
    (`sentence_input` is the sentence's text): two passes took a third of a build's time.
    """
    new = [
        t
        for t in dict.fromkeys(texts)
        if _text_key("s", t) not in cache or text_key(t) not in token_cache
    ]
    if new:
        label = f"Embedding {counted(len(new), 'sentence')} and their word pieces"
        parts = _encode(new, partial(encode_with_tokens, encoder), label, "sentence", progress, say)
        fresh = np.concatenate([vectors for vectors, _ in parts])
        pieces = [one for _, tokens in parts for one in tokens]
        for text, vector, piece in zip(new, fresh, pieces, strict=True):
            cache[_text_key("s", text)] = vector
            token_cache[text_key(text)] = piece
    tokens = SentenceTokens.from_list([token_cache[text_key(t)] for t in texts], encoder.dim)
    return _from_cache("s", texts, cache, encoder.dim), tokens, len(new)


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
    """Split, embed and save `articles` as a new build, then atomically make it the served one.

    Each stage is told to `on_stage` (or, with `progress`, to stderr) as one line; with
    `progress`, embedding shows labelled progress bars on a terminal.
    """
    started = time.perf_counter()
    say = on_stage or (_tell if progress else lambda _msg: None)
    index_dir = Path(index_dir)
    # Before the lock, so a refused path gets no DIR.lock or DIR.builds beside it either.
    check_replaceable(index_dir)
    with build_lock(index_dir):
        ordered = sorted(articles, key=lambda a: a.id)
        by_id = {a.id: a for a in ordered}
        sentences = split_all(ordered, previous_spans(current_build(index_dir)))
        passages = make_passages(sentences, passage_sentences)
        say(
            f"{counted(len(ordered), 'article')}: {counted(len(sentences), 'sentence')}, "
            f"{counted(len(passages), 'passage')}"
        )
        cache, token_cache = _previous_vectors(index_dir, encoder.name)
        s_texts = [sentence_input(s, by_id[s.article]) for s in sentences]
        p_texts = [passage_input(p, sentences, by_id[p.article]) for p in passages]
        s_vectors, tokens, s_new = _embed_sentences(
            s_texts, encoder, cache, token_cache, progress, say
        )
        p_vectors, p_new = _embed_passages(p_texts, encoder, cache, progress, say)

        builds = _builds_dir(index_dir)
        now = time.time_ns()
        build_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now / 1e9)) + f".{now % 10**9:09d}"
        tmp, final = builds / f".tmp-{build_id}", builds / build_id
        say(f"Saving build {build_id}")
        try:
            builds.mkdir(parents=True, exist_ok=True)
            _remove_temporaries(builds)  # a killed or failed build's: they only take space
            tmp.mkdir()
            article_no = {a.id: n for n, a in enumerate(ordered)}
            write_json(tmp / "articles.json", [asdict(a) for a in ordered])
            write_json(
                tmp / "sentences.json",
                [[article_no[s.article], s.paragraph, s.start, s.end] for s in sentences],
            )
            write_json(
                tmp / "passages.json",
                [[article_no[p.article], p.paragraph, p.first, p.last] for p in passages],
            )
            specs = choose_indexes(len(s_vectors), len(p_vectors), flat_max)
            for name, vectors in (("sentences", s_vectors), ("passages", p_vectors)):
                _write_index(make_index(vectors, encoder.dim, specs[name]), tmp / f"{name}.faiss")
                if not specs[name].exact:  # the next rebuild reuses vectors from this copy
                    np.save(tmp / f"{name}.f16.npy", vectors.astype(np.float16))
            save_lexical(lexical_indexes(sentences, passages), tmp)
            tokens.save(tmp / "tokens.npz")
            history = record(build_id, ordered, sentences, current_build(index_dir))
            save_history(history, tmp)
            # Answers need only this map; the whole history stays on disk for "what's new".
            write_json(tmp / REVISIONS_FILE, history.revised)
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
                "vector_index": {name: spec.to_json() for name, spec in specs.items()},
                "lexical": LEXICAL_VERSION,
                "splitter": SPLITTER_VERSION,
                "checksums": {name: sha256_file(tmp / name) for name in _written(tmp)},
            }
            write_json(tmp / MANIFEST, manifest)
            tmp.rename(final)
            _point_to(index_dir, final)
        except BaseException as exc:
            # What this build wrote goes (a full disk would fail every retry while it stayed);
            # the index still points to the build it served.
            wrote = _size(tmp) + _size(final)
            shutil.rmtree(tmp, ignore_errors=True)
            served = current_build(index_dir)
            if served != final:
                shutil.rmtree(final, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _unwritable(builds, exc, wrote, served) from None
            raise
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


def _write_index(index: faiss.Index, path: Path) -> None:
    """faiss.write_index, failing as Python's writes do: FAISS reports a failed write as a
    RuntimeError quoting its C++ source, which said nothing of the full disk behind it."""
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        free = shutil.disk_usage(path.parent).free
        needed = index.ntotal * index.d * 4  # at most: a flat index's vectors
        reason = errno.ENOSPC if free < needed else errno.EIO
        raise OSError(reason, os.strerror(reason), str(path)) from exc


def _unwritable(builds: Path, exc: OSError, wrote: int, served: Path | None) -> CannotWrite:
    """The one line for a build that could not be written (its own files already removed)."""
    still = f"the index still serves build {served.name}" if served else "no index was made"
    if exc.errno == errno.ENOSPC:
        return CannotWrite(
            f"disk full: {builds} ran out of space {wrote / 2**20:.1f} MiB into writing the "
            f"build; what it wrote was removed, and {still}"
        )
    return CannotWrite(f"cannot write {exc.filename or builds} ({os_reason(exc)}); {still}")


def _size(folder: Path) -> int:
    """Bytes in the files of `folder` (0 when it is not there)."""
    return sum(f.stat().st_size for f in folder.glob("*") if f.is_file()) if folder.is_dir() else 0


def _remove_temporaries(builds: Path) -> None:
    """Remove the `.tmp-*` folders killed or failed builds left (the lock is held, so none is
    a running build's)."""
    for tmp in builds.glob(".tmp-*"):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)


def _written(tmp: Path) -> list[str]:
    """Every data file of a build folder being written (all but the manifest)."""
    return sorted(p.name for p in tmp.iterdir() if p.name != MANIFEST)


def _point_to(index_dir: Path, build: Path) -> None:
    """Atomically make `index_dir` a symlink to `build` (replacing an empty or build folder)."""
    check_replaceable(index_dir)  # again: the path may have changed while the build ran
    if not index_dir.is_symlink() and index_dir.is_dir() and not _remove_build(index_dir):
        raise NotAnIndex(f"{index_dir} changed during the build and was left as it is; {_CHOOSE}")
    # The build lock is held, so any link left here is from a build killed before its swap.
    prefix = f".{index_dir.name}.link-"
    for stale in index_dir.parent.iterdir():
        if stale.name.startswith(prefix) and stale.is_symlink():
            stale.unlink(missing_ok=True)
    link = index_dir.parent / f"{prefix}{os.getpid()}"
    link.symlink_to(os.path.relpath(build, index_dir.parent))
    os.replace(link, index_dir)


def _remove_build(folder: Path) -> bool:
    """Remove a folder that is empty or holds only one build's files; False (and keep it, if
    only partly emptied) when it holds anything else."""
    files = _build_files(folder)
    if files is None:
        return False
    # The manifest goes last: a removal cut short leaves a folder still recognised as a build.
    for path in sorted(files, key=lambda p: p.name == MANIFEST):
        path.unlink(missing_ok=True)
    try:
        folder.rmdir()  # fails, rather than deletes, if a file appeared meanwhile
    except OSError:
        return False
    return True


def _is_build(path: Path) -> bool:
    """A finished build folder: a real folder named by its own manifest's build id."""
    if path.name.startswith(".") or path.is_symlink() or not path.is_dir():
        return False
    manifest = manifest_or_none(path)
    return manifest is not None and manifest.get("build_id") == path.name


def _prune(builds: Path, keep: Path) -> None:
    """Drop all but the newest few builds, and any temp folder a killed build left behind.

    Only what builds made goes: finished builds holding nothing but their own files, and
    `.tmp-*` folders (the lock is held, so none belongs to a running build).
    """
    finished = sorted(p for p in builds.iterdir() if _is_build(p))
    for old in finished[:-KEEP_BUILDS]:
        if old != keep:
            with suppress(OSError):  # best effort: a build left here is only disk space
                _remove_build(old)
    _remove_temporaries(builds)


def index_is_current(stories: Path, index_dir: Path, model: str | None = None) -> bool:
    """True when the served index exists and was built from exactly the current story files,
    by this code's index format, retrieval parameters and (if given) model."""
    try:
        manifest = read_manifest(index_dir)
    except (IndexNotBuilt, IndexCorrupt):
        return False
    if manifest.get("format") != FORMAT_VERSION or manifest.get("params") != default_params():
        return False
    if model is not None and manifest.get("model") != model:
        return False
    articles, _ = load_articles(stories)
    return manifest.get("articles") == {a.id: a.content_hash for a in articles}


def build_stories(
    stories: Path,
    index_dir: Path,
    encoder: Encoder,
    passage_sentences: int = 5,
    progress: bool = False,
) -> tuple[BuildReport, list[Problem]]:
    """Index a stories folder with the shipped retrieval parameters; the report and the story
    files that were skipped. EmptyCorpus when no story can be read."""
    articles, problems = load_articles(stories)
    if not articles:
        if not stories.is_dir():  # else "no readable stories" sends the editor to the wrong fix
            raise EmptyCorpus(f"no such folder: {stories} (the stories folder)")
        raise EmptyCorpus(f"no readable stories (.txt, .md, .markdown, .html, .htm) in {stories}")
    report = build_index(
        articles,
        index_dir,
        encoder,
        passage_sentences=passage_sentences,
        params=default_params(),
        progress=progress,
    )
    return report, problems
