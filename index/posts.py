"""Channel posts as story files: `stories/telegram/<channel id>/<message id>.txt`.

A post's text (or a photo's caption) is stored verbatim after a front matter block — `title`
its first line, `published` the post's date, `updated` its last edit, `url` its t.me link — so
the story's body is exactly the text Telegram shows, and a sentence's offsets in the story are
its offsets in the post. A file's name comes from the two ids alone, never from the post's text.

What storybot wrote is recorded beside the posts, in `stories/telegram/<channel>/.posts.json`:
each post's file hash, its version (the time of its last edit) and the spans of its formatting
entities, which a reply quoting the post must reproduce (`bot/telegram/quotes.py`). A file there
that storybot did not write, or that someone edited since, is never overwritten; an older version
of a post (an edit and the post handled out of order, by two workers) never replaces a newer one.
Writes hold a lock file, so two workers storing posts of one channel at once both keep their
records. This module knows nothing of Telegram's objects: the bot turns a message into a `Post`.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from index.articles import parse_article
from index.errors import BadArticle, NotOurs
from index.front_matter import MAX_FIELD_CHARS

TELEGRAM_DIR = "telegram"
RECORD_FILE = ".posts.json"
LOCK_FILE = ".posts.lock"

Span = tuple[int, int]  # (offset, length) in UTF-16 code units, as Telegram counts
Saved = Literal["new", "updated", "unchanged", "older"]


@dataclass(frozen=True)
class Post:
    """One channel post as storybot stores it: the ids, the plain text (entities dropped), its
    dates and link, and the UTF-16 spans of the formatting a quote of it must reproduce."""

    channel: int
    message_id: int
    text: str
    date: datetime.datetime
    edited: datetime.datetime | None = None
    url: str | None = None
    spans: tuple[Span, ...] = ()

    @property
    def version(self) -> float:
        """When this version of the post was made: its last edit, else its posting."""
        return (self.edited or self.date).timestamp()


def post_file(channel: int, message_id: int) -> str:
    """The story file of a post, relative to the stories folder: from the ids alone.

    >>> post_file(-1009876543210, 12)
    'telegram/-1009876543210/12.txt'
    """
    if type(channel) is not int or type(message_id) is not int or message_id <= 0:
        raise ValueError(f"not a channel post's ids: {channel!r}, {message_id!r}")
    return f"{TELEGRAM_DIR}/{channel}/{message_id}.txt"


def title_of(text: str) -> str:
    """A post's title: its first line with text, spaces collapsed, cut at a word to fit.

    >>> title_of("\\n  Bridge  reopens in May \\nThe city said so on Monday.")
    'Bridge reopens in May'
    """
    line = next((" ".join(line.split()) for line in text.split("\n") if line.strip()), "")
    if len(line) <= MAX_FIELD_CHARS:
        return line
    cut = line[: MAX_FIELD_CHARS - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _stamp(moment: datetime.datetime) -> str:
    """`2026-12-01 11:53:00+00:00`: the form the other stories' front matter uses."""
    return moment.astimezone(datetime.UTC).isoformat(sep=" ")


def story_text(post: Post) -> str:
    """The story file's text: front matter, then the post's text exactly as Telegram shows it."""
    fields: dict[str, str] = {"title": title_of(post.text), "published": _stamp(post.date)}
    if post.edited is not None:
        fields["updated"] = _stamp(post.edited)
    if post.url:
        fields["url"] = post.url
    # safe_dump quotes whatever YAML would read as something else ("yes", a date, a `---`).
    meta = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=1_000_000)
    return f"---\n{meta}---\n{post.text}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ChannelPosts:
    """The posts of one stories folder's channels: stored, and read back for quoting."""

    def __init__(self, stories: Path) -> None:
        self.stories = Path(stories)
        self.root = self.stories / TELEGRAM_DIR

    def _folder(self, channel: int) -> Path:
        folder = self.root / str(channel)
        for part in (self.root, folder):
            if part.is_symlink():
                raise NotOurs(
                    f"{part} is a symbolic link; storybot stores channel posts only in a folder "
                    "of its own (move the link away)"
                )
        return folder

    @contextmanager
    def _locked(self, channel: int) -> Iterator[Path]:
        folder = self._folder(channel)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield folder
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _records(folder: Path) -> dict[str, Any]:
        try:
            data = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def save(self, post: Post) -> Saved:
        """Store `post` as its story file: "new", "updated", "unchanged" (the same text: nothing
        written, so nothing to rebuild) or "older" (a newer version is stored already).

        Raises NotOurs when the file is in the way: storybot did not write it, or someone has
        edited it since (an editor's fix is never overwritten), or a link stands in for it.
        """
        rel = post_file(post.channel, post.message_id)
        data = story_text(post).encode("utf-8")
        try:
            parse_article(rel, data)
        except BadArticle as exc:  # text storybot could not read back (a NUL byte, say)
            raise NotOurs(f"{rel}: not stored, {str(exc).removeprefix(f'{rel}: ')}") from exc
        with self._locked(post.channel) as folder:
            path = self.stories / rel
            records = self._records(folder)
            key = str(post.message_id)
            mine = records.get(key)
            mine = mine if isinstance(mine, dict) else None
            existed = path.exists() or path.is_symlink()
            if existed:
                if path.is_symlink() or mine is None:
                    raise NotOurs(
                        f"{path} is in the way: storybot did not write it; move it away to "
                        "store this post"
                    )
                stored = path.read_bytes()
                if _digest(stored) != mine.get("sha256"):
                    raise NotOurs(
                        f"{path} was edited since storybot stored the post; the edit is kept "
                        "and later versions of the post are not stored until the file is moved"
                    )
            if mine is not None and post.version < float(mine.get("version", 0)):
                return "older"
            record = {"sha256": _digest(data), "version": post.version, "spans": post.spans}
            if mine is not None and existed and parse_article(rel, stored).body == post.text:
                # Only the formatting changed (or the same update came twice): the story reads
                # the same, so it is left as it is, and only what a quote must match is noted.
                records[key] = {**record, "sha256": mine["sha256"]}
                self._write(folder / RECORD_FILE, json.dumps(records).encode())
                return "unchanged"
            self._write(path, data)
            records[key] = record
            self._write(folder / RECORD_FILE, json.dumps(records).encode())
        return "updated" if existed else "new"

    def stored(self, channel: int, message_id: int) -> tuple[str, tuple[Span, ...]] | None:
        """The post's text as last stored and its formatting spans, or None (never stored, or
        the file is gone or no longer storybot's)."""
        try:
            folder = self._folder(channel)
            mine = self._records(folder).get(str(message_id))
            path = self.stories / post_file(channel, message_id)
            if not isinstance(mine, dict) or path.is_symlink():
                return None
            data = path.read_bytes()
            if _digest(data) != mine.get("sha256"):
                return None
            body = parse_article(post_file(channel, message_id), data).body
        except (OSError, NotOurs, BadArticle, ValueError):
            return None
        spans = tuple((int(o), int(n)) for o, n in mine.get("spans", []))
        return body, spans
