"""The store: build → save → load round trips, manifest checks, damage detection, safe swaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine
from bot.settings import BotSettings
from index.articles import load_articles
from index.builder import build_index, build_lock
from index.embedder import Embedder
from index.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.search import search
from index.store import FORMAT_VERSION, current_build, load_store
from support import FakeEmbedder

QUESTIONS = ["Who is Steve Witkoff?", "Why did Rubio cancel?", "What does Kyiv want first?"]


# The real-model build of the seed story is the session's (conftest.seed_engine): built once.
def test_round_trip_returns_identical_results(
    seed_settings: BotSettings, seed_engine: Engine, embedder: Embedder
) -> None:
    first = load_store(seed_settings.index, expect_model=embedder.name)
    second = load_store(seed_settings.index, expect_model=embedder.name)
    assert first.manifest["model"] == "all-MiniLM-L6-v2"
    assert first.manifest["dim"] == 384
    for question in QUESTIONS:
        a, b = search(first, embedder, question), search(second, embedder, question)
        assert [h.index for h in a.hits] == [h.index for h in b.hits]
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits])
        assert a.confidence == pytest.approx(b.confidence)


def test_loaded_vectors_equal_freshly_encoded_ones(
    seed_settings: BotSettings, seed_engine: Engine, embedder: Embedder
) -> None:
    store = load_store(seed_settings.index)
    saved = store.sentence_index.reconstruct_n(0, store.sentence_index.ntotal)
    fresh = embedder.encode([s.text for s in store.sentences])
    assert np.allclose(saved, fresh, atol=1e-5)


class Counting:
    """The real embedder, counting the texts each kind of forward pass is given."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.name, self.dim = embedder, embedder.name, embedder.dim
        self.tokenizer = embedder.tokenizer
        self.encoded: list[str] = []
        self.with_tokens: list[str] = []

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.encoded += texts
        return self.embedder.encode(texts)

    def encode_tokens(
        self, texts: Sequence[str], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        self.with_tokens += texts
        return self.embedder.encode_tokens(texts, keep)


def test_one_forward_pass_gives_a_sentence_its_vector_and_its_word_pieces(
    seed_settings: BotSettings, embedder: Embedder, tmp_path: Path
) -> None:
    counting = Counting(embedder)
    build_index(load_articles(seed_settings.stories)[0], tmp_path / "index", counting)
    store = load_store(tmp_path / "index")
    texts = [s.text for s in store.sentences]
    assert sorted(counting.with_tokens) == sorted(set(texts)), "each sentence once"
    assert not set(counting.encoded) & set(texts), "and not again on its own"
    assert len(counting.encoded) == len(store.passages)
    saved = store.sentence_index.reconstruct_n(0, store.sentence_index.ntotal)
    assert np.allclose(saved, embedder.encode(texts), atol=1e-5)
    assert all(len(store.tokens.get(i).ids) for i in range(len(texts)))


def test_manifest_records_format_model_hashes_and_checksums(
    stories_dir: Path, tmp_path: Path
) -> None:
    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "index", FakeEmbedder())
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["format"] == FORMAT_VERSION
    assert manifest["model"] == "fake-bow"
    assert manifest["dim"] == 64
    assert manifest["articles"] == {a.id: a.content_hash for a in articles}
    assert set(manifest["checksums"]) >= {"sentences.faiss", "articles.json"}
    assert manifest["built_at"].endswith("Z")


def test_missing_index_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="storybot index"):
        load_store(tmp_path / "nothing")


def test_model_mismatch_is_refused(stories_dir: Path, tmp_path: Path) -> None:
    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "index", FakeEmbedder())
    with pytest.raises(IndexMismatch, match="fake-bow"):
        load_store(tmp_path / "index", expect_model="all-MiniLM-L6-v2")


def test_truncated_file_fails_its_checksum(stories_dir: Path, tmp_path: Path) -> None:
    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "index", FakeEmbedder())
    target = tmp_path / "index" / "sentences.faiss"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match=r"sentences\.faiss"):
        load_store(tmp_path / "index")


def test_rebuild_swaps_atomically_and_reuses_unchanged_vectors(
    stories_dir: Path, tmp_path: Path
) -> None:
    encoder = FakeEmbedder()
    articles, _ = load_articles(stories_dir)
    first = build_index(articles, tmp_path / "index", encoder)
    (stories_dir / "extra.txt").write_text("A brand new sentence about grain exports.\n")
    articles, _ = load_articles(stories_dir)
    second = build_index(articles, tmp_path / "index", encoder)
    assert first.embedded == first.sentences + first.passages
    assert second.embedded == 2  # one new sentence and its passage
    assert current_build(tmp_path / "index") == second.path
    assert load_store(tmp_path / "index").manifest["counts"]["articles"] == 2


def test_failed_build_keeps_the_last_good_index(stories_dir: Path, tmp_path: Path) -> None:
    class Exploding(FakeEmbedder):
        def encode(self, texts, progress=False):  # type: ignore[no-untyped-def]
            raise RuntimeError("power cut")

    articles, _ = load_articles(stories_dir)
    good = build_index(articles, tmp_path / "index", FakeEmbedder())
    (stories_dir / "extra.txt").write_text("Something new.\n")
    articles, _ = load_articles(stories_dir)
    with pytest.raises(RuntimeError):
        build_index(articles, tmp_path / "index", Exploding())
    assert current_build(tmp_path / "index") == good.path
    assert load_store(tmp_path / "index").manifest["counts"]["articles"] == 1


def test_two_builds_cannot_run_at_once(stories_dir: Path, tmp_path: Path) -> None:
    articles, _ = load_articles(stories_dir)
    with build_lock(tmp_path / "index"), pytest.raises(IndexBusy):
        build_index(articles, tmp_path / "index", FakeEmbedder())


def test_neighbours_stay_within_a_paragraph(seed_engine: Engine) -> None:
    store = seed_engine.store
    sentences = list(store.sentences)
    for i, (previous, following) in enumerate(store.neighbours):
        same = [
            j
            for j in (i - 1, i + 1)
            if 0 <= j < len(sentences)
            and (sentences[j].article, sentences[j].paragraph)
            == (sentences[i].article, sentences[i].paragraph)
        ]
        assert [j for j in (previous, following) if j >= 0] == same
    # The seed story has paragraphs of two sentences, so some sentences have a neighbour.
    assert (store.neighbours >= 0).any()


def test_saved_bm25_and_spans_are_reused_only_at_their_versions(
    stories_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Versions, not hashes of source files: a comment edit no longer rebuilds, a bump does.
    import index.previous
    import index.store

    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "index", FakeEmbedder())
    build = current_build(tmp_path / "index")
    assert build is not None
    manifest = json.loads((build / "manifest.json").read_text())
    assert (manifest["lexical"], manifest["splitter"]) == (
        index.store.LEXICAL_VERSION,
        index.store.SPLITTER_VERSION,
    )
    loads: list[Path] = []
    real = index.store.load_lexical
    monkeypatch.setattr(index.store, "load_lexical", lambda f: loads.append(f) or real(f))
    load_store(tmp_path / "index")
    assert loads == [build]
    assert index.previous.previous_spans(build)
    monkeypatch.setattr(index.store, "LEXICAL_VERSION", index.store.LEXICAL_VERSION + 1)
    monkeypatch.setattr(index.previous, "SPLITTER_VERSION", index.store.SPLITTER_VERSION + 1)
    store = load_store(tmp_path / "index")
    assert loads == [build]  # not read again: rebuilt from the sentences
    assert store.sentence_bm25.scores(["rubio"]).max() > 0
    assert index.previous.previous_spans(build) == {}
