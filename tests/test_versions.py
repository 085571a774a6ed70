"""Story versions: close edits are "changed", new text is "added", history outlives old builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answer import cite
from index.articles import load_articles
from index.builder import KEEP_BUILDS, build_index
from index.errors import IndexCorrupt
from index.store import current_build, load_store
from index.versions import (
    HISTORY_FILE,
    History,
    build_time,
    diff,
    load_history,
    served_history,
)
from support import FakeEmbedder

FIRST = "The fire started at noon. Two people died. Firefighters are at the scene.\n"


def write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")


def rebuild(stories: Path, index: Path) -> History:
    articles, problems = load_articles(stories)
    assert not problems
    build_index(articles, index, FakeEmbedder())
    build = current_build(index)
    assert build is not None
    history = load_history(build)
    assert history is not None
    return history


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (["Two people died."], ["Three people died."], [("changed", "Two people died.")]),
        (["Two people died."], ["Two people died.", "Rain fell."], [("added", None)]),
        (["Two people died."], ["The mayor resigned on Friday."], [("added", None)]),
        (["A b.", "Two people died."], ["Two  people\ndied.", "A b."], []),
    ],
)
def test_diff_tells_close_edits_from_new_sentences(
    old: list[str], new: list[str], expected: list[tuple[str, str | None]]
) -> None:
    assert [(c.status, c.previous) for c in diff("a.txt", old, new)] == expected


def test_diff_uses_each_removed_sentence_once_best_match_first() -> None:
    old = ["Two people died in the fire."]
    new = ["Two people died in the blaze.", "Three people died in the fire."]
    changes = diff("a.txt", old, new)
    assert [c.status for c in changes] == ["added", "changed"]
    assert changes[1].previous == old[0]


def test_first_build_has_nothing_to_compare(tmp_path: Path) -> None:
    write(tmp_path / "s", "fire.txt", FIRST)
    history = rebuild(tmp_path / "s", tmp_path / "idx")
    assert history.previous is None
    assert history.changes_since(history.build) == []


def test_edit_is_reported_since_the_previous_build_and_rebuilds_without_edits_keep_it(
    tmp_path: Path,
) -> None:
    stories, index = tmp_path / "s", tmp_path / "idx"
    write(stories, "fire.txt", FIRST)
    first = rebuild(stories, index)
    write(stories, "fire.txt", FIRST.replace("Two people", "Three people") + "\nRoads are shut.\n")
    second = rebuild(stories, index)
    again = rebuild(stories, index)
    assert second.previous == first.build
    assert again.previous == first.build, "an identical rebuild is not an update"
    changes = again.changes_since(again.previous or "")
    assert [(c.status, c.text, c.previous) for c in changes] == [
        ("changed", "Three people died.", "Two people died."),
        ("added", "Roads are shut.", None),
    ]
    assert again.changes_since(second.build) == []
    assert again.revised == {changes[0].key: "Two people died."}


def test_history_outlives_pruned_builds_and_new_articles_are_all_added(tmp_path: Path) -> None:
    stories, index = tmp_path / "s", tmp_path / "idx"
    write(stories, "fire.txt", FIRST)
    first = rebuild(stories, index)
    for n in range(KEEP_BUILDS + 1):
        write(stories, "fire.txt", FIRST + f"\nUpdate number {n} was issued.\n")
        latest = rebuild(stories, index)
    write(stories, "flood.txt", "The river rose. Homes were evacuated.\n")
    latest = rebuild(stories, index)
    assert not (index.parent / "idx.builds" / first.build).exists()
    changes = latest.changes_since(first.build)
    assert [(c.article, c.status, c.text) for c in changes] == [
        ("fire.txt", "added", f"Update number {KEEP_BUILDS} was issued."),
        ("flood.txt", "added", "The river rose."),
        ("flood.txt", "added", "Homes were evacuated."),
    ]


def test_a_build_from_before_history_json_is_read_from_its_articles(tmp_path: Path) -> None:
    stories, index = tmp_path / "s", tmp_path / "idx"
    write(stories, "fire.txt", FIRST)
    first = rebuild(stories, index)
    build = current_build(index)
    assert build is not None
    (build / HISTORY_FILE).unlink()
    write(stories, "fire.txt", FIRST.replace("at noon", "at about noon"))
    history = rebuild(stories, index)
    changes = history.changes_since(first.build)
    assert [(c.status, c.previous) for c in changes] == [("changed", "The fire started at noon.")]


def test_a_damaged_history_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "s", "fire.txt", FIRST)
    rebuild(tmp_path / "s", tmp_path / "idx")
    build = current_build(tmp_path / "idx")
    assert build is not None
    data = json.loads((build / HISTORY_FILE).read_text(encoding="utf-8"))
    data["articles"]["fire.txt"]["versions"][0]["sentences"][0] = "Nothing happened."
    (build / HISTORY_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="checksum"):
        served_history(build)


def test_build_time_reads_build_ids() -> None:
    assert build_time("20260105-093000.123456789") == "5 Jan 2026, 09:30 UTC"
    assert build_time("not-a-build") == "not-a-build"


def test_answers_get_earlier_wordings_from_the_build_without_reading_the_history(
    tmp_path: Path,
) -> None:
    stories, index = tmp_path / "s", tmp_path / "idx"
    write(stories, "fire.txt", FIRST)
    rebuild(stories, index)
    write(stories, "fire.txt", FIRST.replace("Two people", "Three people"))
    history = rebuild(stories, index)
    (index / HISTORY_FILE).unlink()  # only "what's new" reads it
    store = load_store(index)
    assert store.revised == history.revised
    changed = next(i for i, s in enumerate(store.sentences) if s.text == "Three people died.")
    citation = cite(store, changed, 1.0)
    assert (citation.status, citation.previous) == ("changed", "Two people died.")
