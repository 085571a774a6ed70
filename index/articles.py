"""Articles: one story file each, with its title, link, dates and exact body text.

`.txt` files are all body; `.md` files may open with YAML front matter (`title`, `url`,
`published`, `updated`) and the body is the text after it. Offsets everywhere in storybot are
character offsets into `Article.body`. A file that cannot be read is reported, never fatal.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from index.errors import BadArticle

SUFFIXES = (".txt", ".md")
MAX_BYTES = 20 * 1024 * 1024
MAX_FIELD_CHARS = 500
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_ ]*")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Article:
    """One story: `id` is its path relative to the stories folder, `body` its exact text."""

    id: str
    title: str
    url: str | None
    published: str | None
    updated: str | None
    body: str
    content_hash: str


@dataclass(frozen=True)
class Problem:
    """A story file that was skipped, and why, in words for the editor."""

    path: str
    reason: str


def title_from_name(name: str) -> str:
    """`2025-04-23-london-talks.txt` → `London talks`."""
    stem = Path(name).stem
    stem = _DATE_PREFIX.sub("", stem)
    words = re.sub(r"[-_]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else Path(name).stem


def _date_from_name(name: str) -> str | None:
    match = _DATE_PREFIX.match(Path(name).stem)
    return match.group(1) if match else None


def _split_front_matter(text: str, rel: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise BadArticle(f"{rel}: malformed front matter ({exc.__class__.__name__})") from exc
    if not isinstance(meta, dict):
        raise BadArticle(f"{rel}: front matter is not a mapping of keys to values")
    return meta, text[match.end() :]


def _text_field(meta: dict[str, object], key: str, rel: str) -> str | None:
    value = meta.get(key)
    if value is None or value == "":
        return None
    # A list or mapping is no title, and printing one can be ruinous: a YAML alias "billion
    # laughs" is a few lines of front matter whose text runs to gigabytes.
    if not isinstance(value, str | int | float | datetime.date):
        raise BadArticle(f"{rel}: front matter field {key!r} must be text, not a list or mapping")
    text = str(value).strip()
    if len(text) > MAX_FIELD_CHARS:
        raise BadArticle(f"{rel}: front matter field {key!r} is over {MAX_FIELD_CHARS} characters")
    return text


def parse_article(rel: str, raw: bytes) -> Article:
    """Build an Article from a file's bytes, or raise BadArticle saying what is wrong."""
    if not raw.strip():
        raise BadArticle(f"{rel}: the file is empty")
    if b"\x00" in raw[:8192]:
        raise BadArticle(f"{rel}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadArticle(f"{rel}: not UTF-8 text (bad byte at position {exc.start})") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, object] = {}
    body = text
    if rel.endswith(".md"):
        meta, body = _split_front_matter(text, rel)
    if not body.strip():
        raise BadArticle(f"{rel}: has no body text")
    url = _text_field(meta, "url", rel)
    if url and not re.match(r"^https?://", url):
        raise BadArticle(f"{rel}: url must start with http:// or https://")
    return Article(
        id=rel,
        title=_text_field(meta, "title", rel) or title_from_name(rel),
        url=url,
        published=_text_field(meta, "published", rel) or _date_from_name(rel),
        updated=_text_field(meta, "updated", rel),
        body=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def story_files(folder: Path) -> list[Path]:
    """Every `.txt` and `.md` file under `folder`, in a stable order; hidden files skipped."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def load_articles(folder: Path, max_bytes: int = MAX_BYTES) -> tuple[list[Article], list[Problem]]:
    """Read every story under `folder`; bad files come back as problems, the rest as articles."""
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in story_files(folder):
        rel = path.relative_to(folder).as_posix()
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise BadArticle(
                    f"{rel}: too large ({size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB)"
                )
            articles.append(parse_article(rel, path.read_bytes()))
        except BadArticle as exc:
            problems.append(Problem(rel, str(exc).removeprefix(f"{rel}: ")))
        except OSError as exc:
            problems.append(Problem(rel, f"cannot be read ({exc.strerror or exc})"))
    return articles, problems
