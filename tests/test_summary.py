"""Summaries: central sentences in story order, never near-duplicates, even when asked for more."""

from __future__ import annotations

from pathlib import Path

from index.articles import load_articles
from index.builder import build_index
from index.store import load_store
from index.summary import summarize
from support import FakeEmbedder

STORY = (
    "Officials from five countries met in London on Wednesday to discuss the war.\n"
    "The meeting was downgraded after the American secretary of state cancelled his visit.\n"
    "Ukraine insists on a full and unconditional ceasefire before any territorial talks.\n"
    "An envoy is expected to travel to Moscow later this week for a separate meeting.\n"
)


def test_copies_and_close_rewrites_of_a_story_are_never_summarised_twice(tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "a.txt").write_text(STORY, encoding="utf-8")
    (stories / "b.txt").write_text(STORY, encoding="utf-8")
    (stories / "c.txt").write_text(STORY.replace("on Wednesday", "on Wednesday morning"))
    articles, _ = load_articles(stories)
    build_index(articles, tmp_path / "idx", FakeEmbedder())
    store = load_store(tmp_path / "idx")
    result = summarize(store, FakeEmbedder(), None, 10)
    texts = [store.sentences[i].text for i in result.indices]
    assert len(texts) == 4, "twelve sentences, but only four different ones"
    assert sum("met in London" in t for t in texts) == 1
    assert result.indices == sorted(result.indices), "shown in story order"
