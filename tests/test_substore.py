"""Substores: a store narrowed to some stories searches exactly as an index of only those would."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine
from index.articles import load_articles
from index.builder import build_index
from index.search import rank, read, search
from index.store import Store, load_store
from index.substore import narrow
from index.summary import summarize
from support import NEWSROOM, SEED_FILE, FakeEmbedder

QUESTIONS = ["Who is Steve Witkoff?", "Where were the talks held?", "What did the budget cut?"]


def index_of(folder: Path, target: Path) -> Store:
    articles, problems = load_articles(folder)
    assert not problems
    build_index(articles, target, FakeEmbedder())
    return load_store(target)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Store]:
    """An index of the four newsroom stories, and one of the seed story alone."""
    root = tmp_path_factory.mktemp("substore")
    (root / "all").mkdir()
    (root / "one").mkdir()
    for story in [SEED_FILE, *NEWSROOM.iterdir()]:
        shutil.copy(story, root / "all" / story.name)
    shutil.copy(SEED_FILE, root / "one" / SEED_FILE.name)
    return index_of(root / "all", root / "idx-all"), index_of(root / "one", root / "idx-one")


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_substore_ranks_as_an_index_of_its_story_alone(
    stores: tuple[Store, Store], question: str
) -> None:
    full, alone = stores
    sub = narrow(full, {SEED_FILE.name})
    got, want = search(sub, FakeEmbedder(), question), search(alone, FakeEmbedder(), question)
    assert [(h.sentence, round(h.score, 5)) for h in got.hits] == [
        (h.sentence, round(h.score, 5)) for h in want.hits
    ]
    assert got.confidence == pytest.approx(want.confidence)
    assert got.answered == want.answered and got.related == want.related


def test_a_substore_holds_only_its_stories_and_their_exact_text(
    stores: tuple[Store, Store],
) -> None:
    full, _ = stores
    files = {SEED_FILE.name, "2025-03-10-harbour-fire.txt"}
    sub = narrow(full, files)
    assert set(sub.articles) == files
    assert {s.article for s in sub.sentences} == files
    assert len(sub.sentences) == sum(s.article in files for s in full.sentences)
    for i, sentence in enumerate(sub.sentences):
        assert sub.articles[sentence.article].body[sentence.start : sentence.end] == sentence.text
        assert np.allclose(
            sub.sentence_index.reconstruct(i),
            full.sentence_index.reconstruct(
                next(j for j, s in enumerate(full.sentences) if s == sentence)
            ),
        )
    for passage in sub.passages:
        assert {s.article for s in sub.sentences[passage.first : passage.last]} == {passage.article}
    summary = summarize(sub, FakeEmbedder(), None, 10)
    assert {sub.sentences[i].article for i in summary.indices} <= files


def test_narrowing_to_no_story_of_the_index_is_refused(stores: tuple[Store, Store]) -> None:
    with pytest.raises(ValueError, match="none of"):
        narrow(stores[0], {"missing.txt"})


@pytest.mark.parametrize("question", QUESTIONS[:2])
def test_with_the_real_model_the_seed_substore_answers_as_the_seed_index(
    seed_engine: Engine, newsroom_engine: Engine, question: str
) -> None:
    """Token vectors and passages are narrowed too: the soft word match, the passage signals
    and the reader see what a build of the seed story alone gives them."""
    sub = narrow(newsroom_engine.store, {SEED_FILE.name})
    query = read(seed_engine.encoder, question)
    got = rank(sub, query.vector, question, qtokens=query.tokens)
    want = rank(seed_engine.store, query.vector, question, qtokens=query.tokens)
    assert [h.sentence for h in got.hits] == [h.sentence for h in want.hits]
    assert [h.score for h in got.hits] == pytest.approx([h.score for h in want.hits], abs=1e-3)
    assert got.answered == want.answered
