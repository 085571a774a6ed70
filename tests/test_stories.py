"""Stories: ids from file names, labels that tell same-titled stories apart, lookups."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from index.articles import Article
from index.stories import Catalog, display_date, slug


def article(file: str, title: str, published: str | None = None, **more: str) -> Article:
    return Article(
        id=file,
        title=title,
        url=None,
        published=published,
        updated=more.get("updated"),
        body=more.get("body", "Text."),
        content_hash=file,
    )


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("2025-04-23-london-talks.txt", "2025-04-23-london-talks"),
        ("World/Big News!.md", "world-big-news"),
        ("Ünïcode nouvelles.md", "ünïcode-nouvelles"),
        ("no_suffix", "no-suffix"),
        ("!!!.txt", "story"),
    ],
)
def test_a_story_id_is_a_slug_of_its_file_name(file: str, expected: str) -> None:
    assert slug(file) == expected


def test_ids_do_not_change_when_the_content_does() -> None:
    before = Catalog([article("a.txt", "Old title", body="One.")], [1])
    after = Catalog([article("a.txt", "New title", body="One. Two. Three.")], [3])
    assert before.stories[0].id == after.stories[0].id == "a"


def test_files_that_share_a_slug_get_distinct_ids() -> None:
    catalog = Catalog([article("x.md", "X"), article("x.txt", "X"), article("X.TXT", "X")], [1] * 3)
    assert [s.id for s in catalog] == ["x", "x-txt", "x-2"]


def test_same_titles_are_labelled_by_date_else_by_id() -> None:
    catalog = Catalog(
        [
            article("2025-04-23-london-talks.txt", "London talks", "2025-04-23"),
            article("2025-04-24-london-talks.md", "London  TALKS", "2025-04-24"),
            article("talks-copy.md", "London talks", "2025-04-24"),
            article("fire.txt", "Harbour fire", "2025-03-10"),
        ],
        [16, 4, 4, 4],
    )
    labels = [s.label for s in catalog]
    assert labels == [
        "London talks, 23 Apr 2025",
        "London  TALKS, 2025-04-24-london-talks",
        "London talks, talks-copy",
        "Harbour fire",
    ]
    assert len(set(labels)) == len(labels)


def test_find_by_id_file_number_or_unique_words() -> None:
    catalog = Catalog(
        [
            article("2025-04-23-london-talks.txt", "London talks"),
            article("2025-05-02-budget-vote.md", "Parliament passes the 2026 budget"),
            article("2025-04-24-london-talks.md", "London talks"),
        ],
        [16, 4, 4],
    )
    first, budget, second = catalog.stories
    assert catalog.find("2025-04-23-london-talks") == [first]
    assert catalog.find("2025-05-02-budget-vote.md") == [budget]
    assert catalog.find("3") == [second]
    assert catalog.find("BUDGET") == [budget]
    assert catalog.find("london") == [first, second]
    assert catalog.find("sourdough") == [] and catalog.find("9") == [] and catalog.find(" ") == []
    # A number past the list is a whole number of an id or title (a year), never a piece of one.
    assert catalog.find("0") == [] and catalog.find("05") == [budget]
    assert catalog.find("2025") == [first, budget, second] and catalog.find("2026") == [budget]


def test_latest_is_the_most_recently_updated() -> None:
    catalog = Catalog(
        [
            article("a.md", "A", "2025-05-01"),
            article("b.md", "B", "2025-04-01", updated="2025-05-03T10:00:00Z"),
            article("c.md", "C"),
        ],
        [1, 1, 1],
    )
    assert catalog.latest().id == "b"  # type: ignore[union-attr]
    assert catalog.latest([catalog.stories[0], catalog.stories[2]]).id == "a"  # type: ignore[union-attr]
    assert Catalog([], []).latest() is None


def test_dates_are_shown_as_a_reader_writes_them() -> None:
    assert display_date("2025-04-23") == "23 Apr 2025"
    assert display_date("2025-04-24 18:00:00+00:00") == "24 Apr 2025"
    assert display_date("spring 2025") == "spring 2025"
    assert display_date(None) is None


def test_the_newsroom_catalog_counts_each_storys_sentences(newsroom_engine: Engine) -> None:
    stories = {s.file: s for s in Catalog.of(newsroom_engine.store)}
    assert stories["2025-04-23-london-talks.txt"].sentences == 16
    assert stories["2025-03-10-harbour-fire.txt"].sentences == 4
    assert sum(s.sentences for s in stories.values()) == len(newsroom_engine.store.sentences)
