"""Channel posts as story files (index/posts.py): named by ids, read back exactly as posted, and
never written over a file storybot did not write."""

from __future__ import annotations

import datetime
import os
import threading
from pathlib import Path

import pytest

from index.articles import load_articles, parse_article
from index.changes import folder_state
from index.errors import NotOurs
from index.posts import ChannelPosts, Post, post_file, story_text, title_of

CHANNEL = -1009876543210
POSTED = datetime.datetime(2026, 5, 2, 9, 30, tzinfo=datetime.UTC)
EDITED = POSTED + datetime.timedelta(minutes=5)
TEXT = "Bridge reopens in May\nThe city said the bridge will reopen in May. Tolls stay at 2 euros."


def post(text: str = TEXT, message_id: int = 12, edited: datetime.datetime | None = None) -> Post:
    return Post(
        CHANNEL,
        message_id,
        text,
        POSTED,
        edited,
        url=f"https://t.me/newsroom/{message_id}",
        spans=((0, 6),),
    )


def test_a_post_file_is_named_by_its_ids_alone() -> None:
    assert post_file(CHANNEL, 12) == "telegram/-1009876543210/12.txt"
    for bad in [("-100", 1), (CHANNEL, 0), (CHANNEL, True), (CHANNEL, "../x")]:
        with pytest.raises(ValueError):
            post_file(*bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "first_line",
    ["yes", "---", "title: not this", "2025-04-23", "[1, 2]", "*alias &anchor", "# Heading", "🚧"],
)
def test_the_story_reads_back_as_the_post_whatever_its_first_line(first_line: str) -> None:
    text = f"{first_line}\nThe bridge will reopen in May."
    article = parse_article(post_file(CHANNEL, 3), story_text(post(text, 3, EDITED)).encode())
    assert article.body == text, "offsets in the story are offsets in the post"
    assert article.title == first_line
    assert article.url == "https://t.me/newsroom/3"
    assert (article.published, article.updated) == (
        "2026-05-02 09:30:00+00:00",
        "2026-05-02 09:35:00+00:00",
    )


def test_a_title_is_the_first_line_with_text_cut_at_a_word() -> None:
    assert title_of("\n\n  Bridge   reopens \nmore") == "Bridge reopens"
    long = title_of("word " * 200)
    assert len(long) <= 500 and long.endswith("word…")


def test_a_post_is_stored_once_and_its_edits_replace_it(tmp_path: Path) -> None:
    posts = ChannelPosts(tmp_path)
    assert posts.save(post()) == "new"
    path = tmp_path / post_file(CHANNEL, 12)
    before = folder_state(tmp_path)
    assert posts.save(post()) == "unchanged", "the same post again (a redelivery)"
    assert folder_state(tmp_path) == before, "nothing written: nothing to rebuild"
    edited = TEXT.replace("in May", "in June")
    assert posts.save(post(edited, edited=EDITED)) == "updated"
    assert parse_article("x.txt", path.read_bytes()).body == edited
    assert posts.save(post()) == "older", "the first version, handled after the edit"
    assert parse_article("x.txt", path.read_bytes()).body == edited
    articles, problems = load_articles(tmp_path)
    assert [a.id for a in articles] == [post_file(CHANNEL, 12)] and problems == []


def test_an_edit_of_formatting_alone_writes_nothing_but_notes_the_new_spans(
    tmp_path: Path,
) -> None:
    posts = ChannelPosts(tmp_path)
    posts.save(post())
    before = folder_state(tmp_path)
    bolder = Post(CHANNEL, 12, TEXT, POSTED, EDITED, "https://t.me/newsroom/12", ((7, 7),))
    assert posts.save(bolder) == "unchanged"
    assert folder_state(tmp_path) == before
    assert posts.stored(CHANNEL, 12) == (TEXT, ((7, 7),))


def test_a_file_storybot_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / post_file(CHANNEL, 12)
    path.parent.mkdir(parents=True)
    path.write_text("An editor's own notes.")
    with pytest.raises(NotOurs, match="storybot did not write it"):
        ChannelPosts(tmp_path).save(post())
    assert path.read_text() == "An editor's own notes."
    assert ChannelPosts(tmp_path).stored(CHANNEL, 12) is None


def test_an_editors_fix_of_a_stored_post_is_kept(tmp_path: Path) -> None:
    posts = ChannelPosts(tmp_path)
    posts.save(post())
    path = tmp_path / post_file(CHANNEL, 12)
    fixed = path.read_text().replace("2 euros", "two euros")
    path.write_text(fixed)
    with pytest.raises(NotOurs, match="edited since"):
        posts.save(post(TEXT.replace("May", "June"), edited=EDITED))
    assert path.read_text() == fixed
    assert posts.stored(CHANNEL, 12) is None, "not quoted from: it is no longer the post"


def test_a_link_in_place_of_the_channels_folder_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stories = tmp_path / "stories"
    (stories / "telegram").mkdir(parents=True)
    os.symlink(elsewhere, stories / "telegram" / str(CHANNEL))
    with pytest.raises(NotOurs, match="symbolic link"):
        ChannelPosts(stories).save(post())
    assert list(elsewhere.iterdir()) == []


def test_a_post_storybot_could_not_read_back_is_not_stored(tmp_path: Path) -> None:
    with pytest.raises(NotOurs, match="binary"):
        ChannelPosts(tmp_path).save(post("Bridge\x00reopens"))
    assert not (tmp_path / post_file(CHANNEL, 12)).exists()


def test_workers_storing_posts_of_one_channel_at_once_keep_every_record(tmp_path: Path) -> None:
    # Two workers (here threads, each with its own ChannelPosts) write one channel's record.
    start = threading.Barrier(8)

    def store(first: int) -> None:
        posts = ChannelPosts(tmp_path)
        start.wait()
        for message_id in range(first, first + 10):
            posts.save(post(f"Post {message_id}\nThe bridge will reopen.", message_id))

    threads = [threading.Thread(target=store, args=(1 + 10 * n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posts = ChannelPosts(tmp_path)
    kept = [m for m in range(1, 81) if posts.stored(CHANNEL, m) is not None]
    assert len(kept) == 80
    assert all(
        posts.save(post(f"Post {m}\nThe bridge will reopen.", m)) == "unchanged" for m in kept
    )
