"""BM25: scores against a direct Okapi formula, saved flat arrays that load memory-mapped."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from index.articles import load_articles
from index.lexical import BM25, tokenize, words
from index.splitter import split_article
from support import SEED_STORIES


@pytest.fixture(scope="module")
def docs() -> list[list[str]]:
    """The seed story's sentences, tokenised."""
    articles, _ = load_articles(SEED_STORIES)
    return [tokenize(s.text) for a in articles for s in split_article(a)]


def okapi(docs: list[list[str]], query: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """BM25 written out term by term, the oracle."""
    avg = sum(map(len, docs)) / len(docs)
    out = np.zeros(len(docs))
    for term in set(query):
        df = sum(term in d for d in docs)
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, doc in enumerate(docs):
            tf = doc.count(term)
            out[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avg))
    return out


QUERIES = ["Who is Steve Witkoff?", "Why did Rubio cancel his talks?", "ceasefire Kyiv Kyiv", "zzz"]


def test_words_split_at_anything_but_letters_digits_and_inner_apostrophes() -> None:
    assert words("Rubio’s team_mates met O'Neil in the U.S. (2025)") == [
        "rubio's", "team", "mates", "met", "o'neil", "in", "the", "u", "s", "2025",
    ]  # fmt: skip


def test_tokenize_drops_stop_words_and_strips_light_suffixes() -> None:
    assert tokenize("Rubio's talks in the U.S. were cancelled") == ["rubio", "talk", "u", "cancell"]


@pytest.mark.parametrize("question", QUERIES)
def test_scores_match_the_okapi_formula(docs: list[list[str]], question: str) -> None:
    query = tokenize(question)
    assert np.allclose(BM25.fit(docs).scores(query), okapi(docs, query), rtol=1e-5, atol=1e-6)


def test_coverage_is_the_share_of_query_idf_a_document_holds(docs: list[list[str]]) -> None:
    bm25 = BM25.fit(docs)
    query = ["witkoff", "rubio", "neverseenword"]
    idf = {t: bm25.idf(t) for t in query}
    assert idf["neverseenword"] > idf["witkoff"] > 0  # unseen counts as the rarest
    expected = [sum(idf[t] for t in query if t in d) / sum(idf.values()) for d in docs]
    assert np.allclose(bm25.coverage(query), expected, atol=1e-6)
    assert bm25.coverage([]).sum() == 0


def test_saved_index_loads_memory_mapped_with_identical_scores(
    docs: list[list[str]], tmp_path: Path
) -> None:
    built = BM25.fit(docs)
    built.save(tmp_path / "bm25.json", tmp_path / "bm25.npy")
    loaded = BM25.load(tmp_path / "bm25.json", tmp_path / "bm25.npy")
    assert isinstance(loaded.postings, np.memmap)
    assert loaded.n_docs == len(docs) and loaded.row == built.row
    for question in QUERIES:
        query = tokenize(question)
        assert np.array_equal(loaded.scores(query), built.scores(query))
        assert np.array_equal(loaded.coverage(query), built.coverage(query))
    # Postings are term runs of ascending document ids, 8 bytes a pair.
    assert loaded.postings.dtype.itemsize == 8
    witkoff = loaded.ids[
        loaded.indptr[loaded.row["witkoff"]] : loaded.indptr[loaded.row["witkoff"] + 1]
    ]
    assert list(witkoff) == [i for i, d in enumerate(docs) if "witkoff" in d]


def test_offsets_out_of_step_with_postings_are_refused(
    docs: list[list[str]], tmp_path: Path
) -> None:
    built = BM25.fit(docs)
    built.save(tmp_path / "bm25.json", tmp_path / "bm25.npy")
    np.save(tmp_path / "bm25.npy", built.postings[:-1])
    with pytest.raises(ValueError, match="offsets"):
        BM25.load(tmp_path / "bm25.json", tmp_path / "bm25.npy")


def test_an_empty_index_scores_nothing(tmp_path: Path) -> None:
    empty = BM25.fit([])
    empty.save(tmp_path / "e.json", tmp_path / "e.npy")
    loaded = BM25.load(tmp_path / "e.json", tmp_path / "e.npy")
    assert loaded.scores(["talk"]).shape == (0,) and loaded.df("talk") == 0
