"""Record tables: integer columns that read back as the splitter's Sentence and Passage records."""

from __future__ import annotations

import pytest

from index.articles import Article, load_articles
from index.passages import make_passages
from index.splitter import Sentence, split_article
from index.tables import PassageTable, SentenceTable
from support import SEED_STORIES


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    """The seed story and a second, short article."""
    seed, _ = load_articles(SEED_STORIES)
    body = "Ships left Odesa. Grain followed.\n"
    extra = Article("b.txt", "Grain", None, None, None, body, "hash-b")
    return [*seed, extra]


def rows(articles: list[Article]) -> tuple[list[Sentence], list[list[int]]]:
    """The articles' sentences, and the rows a build saves for them."""
    sentences = [s for a in articles for s in split_article(a)]
    number = {a.id: n for n, a in enumerate(articles)}
    return sentences, [[number[s.article], s.paragraph, s.start, s.end] for s in sentences]


def test_sentence_table_reads_back_the_splitters_records(articles: list[Article]) -> None:
    sentences, saved = rows(articles)
    table = SentenceTable(articles, saved)
    assert len(table) == len(sentences) and list(table) == sentences
    assert table[3] == sentences[3] and table[-1] == sentences[-1]
    assert table[2:5] == sentences[2:5]
    assert table[-1].text == "Grain followed."
    with pytest.raises(IndexError):
        table[len(sentences)]


def test_passage_table_reads_back_passages_and_owns_every_sentence(
    articles: list[Article],
) -> None:
    sentences, _ = rows(articles)
    passages = make_passages(sentences, 3)
    number = {a.id: n for n, a in enumerate(articles)}
    table = PassageTable(
        articles, [[number[p.article], p.paragraph, p.first, p.last] for p in passages]
    )
    assert list(table) == passages and table[-1] == passages[-1]
    owner = table.owners(len(sentences))
    for n, passage in enumerate(passages):
        assert set(owner[passage.first : passage.last]) == {n}


def test_rows_naming_a_missing_article_are_refused(articles: list[Article]) -> None:
    with pytest.raises(ValueError, match="article"):
        SentenceTable(articles, [[len(articles), 1, 0, 4]])
    with pytest.raises(ValueError, match="four integers"):
        PassageTable(articles, [[0, 1, 0]])


def test_empty_tables_are_empty(articles: list[Article]) -> None:
    assert len(SentenceTable(articles, [])) == 0 and not SentenceTable(articles, [])
    assert list(PassageTable(articles, []).owners(0)) == []
