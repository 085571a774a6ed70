"""Vector indexes by size, saved BM25, and rebuilds that redo only what changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from corpus import generate
from index.articles import load_articles
from index.builder import build_index
from index.errors import IndexCorrupt
from index.search import search
from index.store import Store, load_store
from index.vectors import IndexSpec, choose_index, choose_indexes
from support import FakeEmbedder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated corpus of about 60 articles, 1,200 sentences, seeded (tests/corpus.py)."""
    return generate(1200, tmp_path_factory.mktemp("corpus"), seed=7)


# Built once per module: every test here only reads them.
@pytest.fixture(scope="module")
def flat(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The corpus indexed as it is at its size: exact (flat) vectors."""
    folder = tmp_path_factory.mktemp("flat") / "index"
    build_index(load_articles(corpus)[0], folder, FakeEmbedder())
    return load_store(folder)


@pytest.fixture(scope="module")
def ivf(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The corpus indexed as if it were large: IVF-SQ8 sentence vectors (over 100 of them)."""
    folder = tmp_path_factory.mktemp("ivf") / "index"
    build_index(load_articles(corpus)[0], folder, FakeEmbedder(), flat_max=100)
    return load_store(folder)


def test_index_type_follows_corpus_size() -> None:
    assert choose_index(1000).exact
    big = choose_index(1_000_000)
    assert big.type == "ivf-sq8" and 1 <= big.nprobe < big.nlist
    assert IndexSpec.from_json(big.to_json()) == big
    assert IndexSpec.from_json({}) == IndexSpec()  # builds from before IVF
    with pytest.raises(ValueError, match="unknown vector index type"):
        IndexSpec.from_json({"type": "hnsw"})


def test_ivf_is_recorded_and_recalls_what_exact_search_finds(flat: Store, ivf: Store) -> None:
    store = ivf
    assert flat.manifest["vector_index"]["sentences"] == {"type": "flat"}
    spec = store.manifest["vector_index"]["sentences"]
    assert spec["type"] == "ivf-sq8" and spec["nlist"] > 1
    assert (
        store.sentence_index.ntotal == store.manifest["counts"]["sentences"] == len(flat.sentences)
    )
    vectors = flat.sentence_index.reconstruct_n(0, flat.sentence_index.ntotal)
    assert np.allclose(
        store.sentence_index.reconstruct_batch(np.arange(50)), vectors[:50], atol=0.02
    )
    queries = vectors[:: max(1, len(vectors) // 50)]
    truth, _ = flat.sentence_index.search(queries, 10)
    _, found = store.sentence_index.search(queries, 10)
    # Tie-aware recall@10: a found sentence counts if it is as close as the 10th exact one.
    true_scores = np.take_along_axis(queries @ vectors.T, found, axis=1)
    recall = np.mean(true_scores >= truth[:, -1:] - 1e-4)
    assert recall >= 0.95


def test_ivf_and_flat_builds_answer_alike(flat: Store, ivf: Store) -> None:
    encoder = FakeEmbedder()
    question = flat.sentences[40].text
    assert search(flat, encoder, question).hits[0].index == 40
    assert search(ivf, encoder, question).hits[0].index == 40


def test_rebuild_after_one_changed_article_embeds_and_splits_only_it(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = Path(shutil.copytree(corpus, tmp_path / "corpus"))  # edited below: a copy of its own
    articles, _ = load_articles(corpus)
    build_index(articles, tmp_path / "index", FakeEmbedder(), flat_max=100)
    changed = sorted(corpus.iterdir())[3]
    changed.write_text(changed.read_text() + "\nA brand new closing line about grain exports.\n")
    articles, _ = load_articles(corpus)
    split_calls: list[str] = []
    import index.previous as previous

    real_split = previous.split_article
    monkeypatch.setattr(
        previous, "split_article", lambda a: split_calls.append(a.id) or real_split(a)
    )
    encoder = FakeEmbedder()
    report = build_index(articles, tmp_path / "index", encoder, flat_max=100)
    assert split_calls == [changed.name]
    # The new sentence, the passage it joined (and its word pieces, where the build keeps them).
    assert encoder.texts <= 4, encoder.texts
    assert 0 < report.embedded < 10 and report.reused > 1000
    build_index(articles, tmp_path / "fresh", FakeEmbedder())
    rebuilt, fresh = load_store(tmp_path / "index"), load_store(tmp_path / "fresh")
    expected = fresh.sentence_index.reconstruct_n(0, fresh.sentence_index.ntotal)
    got = rebuilt.sentence_index.reconstruct_batch(np.arange(len(expected)))
    assert np.allclose(got, expected, atol=0.02)
    assert [s.text for s in rebuilt.sentences] == [s.text for s in fresh.sentences]


@pytest.mark.parametrize("name", ["sentences.bm25.npy", "passages.bm25.json"])
def test_bm25_is_saved_with_the_build_and_checked(
    stories_dir: Path, tmp_path: Path, name: str
) -> None:
    articles, _ = load_articles(stories_dir)
    build_index(articles, tmp_path / "index", FakeEmbedder())
    store = load_store(tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert name in manifest["checksums"]
    assert store.sentence_bm25.n_docs == len(store.sentences)
    assert store.passage_bm25.n_docs == len(store.passages)
    (tmp_path / "index" / name).write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match=re.escape(name)):
        load_store(tmp_path / "index")


def test_passages_are_quantised_when_sentences_are(
    corpus: Path, flat: Store, tmp_path: Path
) -> None:
    build_index(load_articles(corpus)[0], tmp_path / "big", FakeEmbedder(), flat_max=500)
    small, big = flat, load_store(tmp_path / "big")
    assert len(big.passages) < 500 < len(big.sentences)
    assert small.manifest["vector_index"]["passages"] == {"type": "flat"}
    assert big.manifest["vector_index"]["passages"]["type"] == "ivf-sq8"
    exact = small.passage_index.reconstruct_n(0, small.passage_index.ntotal)
    decoded = big.passage_index.reconstruct_batch(np.arange(len(exact)))
    assert np.allclose(decoded, exact, atol=0.02)
    # 8-bit codes: a quarter of the flat index's bytes, plus the coarse centroids.
    flat_bytes = len(faiss.serialize_index(small.passage_index))
    assert len(faiss.serialize_index(big.passage_index)) < 0.5 * flat_bytes


def test_choose_indexes_quantises_passages_only_beside_quantised_sentences() -> None:
    assert choose_indexes(40_000, 10_000)["passages"].exact
    specs = choose_indexes(100_000, 27_000)
    assert specs["sentences"].type == specs["passages"].type == "ivf-sq8"
    assert specs["passages"].nlist < specs["sentences"].nlist
