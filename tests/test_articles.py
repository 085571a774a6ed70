"""Loading stories: titles, front matter, and bad files reported by name while the rest load."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.articles import load_articles, title_from_name
from support import HUGE_STORY_BYTES, write_bad_stories


@pytest.mark.parametrize(
    ("name", "title"),
    [("2025-04-23-london-talks.txt", "London talks"), ("ceasefire_deal.md", "Ceasefire deal")],
)
def test_title_comes_from_the_file_name(name: str, title: str) -> None:
    assert title_from_name(name) == title


def test_bad_files_are_reported_by_name_and_the_rest_load(stories_dir: Path) -> None:
    (stories_dir / "latin1.txt").write_bytes("Caf\xe9 news.".encode("latin-1"))
    (stories_dir / "empty.txt").write_text("   \n")
    (stories_dir / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (stories_dir / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody text.\n")
    (stories_dir / "notes.csv").write_text("ignored, not a story")
    articles, problems = load_articles(stories_dir)
    assert [a.id for a in articles] == ["2025-04-23-london-talks.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {"latin1.txt", "empty.txt", "binary.txt", "broken.md"}
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "front matter" in reasons["broken.md"]


def test_oversized_file_is_skipped(stories_dir: Path) -> None:
    (stories_dir / "huge.txt").write_text("word " * 2000)
    articles, problems = load_articles(stories_dir, max_bytes=5000)
    assert [p.path for p in problems] == ["huge.txt"]
    assert len(articles) == 1


def test_every_kind_of_bad_file_is_reported_without_reading_the_huge_one(
    stories_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = write_bad_stories(stories_dir)
    read: list[str] = []
    real_read_bytes = Path.read_bytes

    def recording_read_bytes(path: Path) -> bytes:
        read.append(path.name)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", recording_read_bytes)
    articles, problems = load_articles(stories_dir)
    assert [a.id for a in articles] == ["2025-04-23-london-talks.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    assert (stories_dir / "huge.txt").stat().st_size == HUGE_STORY_BYTES
    assert "huge.txt" not in read, "a file too large to index is rejected by its size alone"


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("title: [a, list]", "'title' must be text"),
        ("url: {a: mapping}", "'url' must be text"),
        (f"title: {'x' * 501}", "'title' is over 500 characters"),
    ],
)
def test_front_matter_fields_must_be_short_text(
    stories_dir: Path, front_matter: str, reason: str
) -> None:
    (stories_dir / "odd.md").write_text(f"---\n{front_matter}\n---\nBody text.\n")
    _, problems = load_articles(stories_dir)
    assert [p.path for p in problems] == ["odd.md"]
    assert reason in problems[0].reason
