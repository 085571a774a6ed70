"""Articles: one story file each, with its title, link, dates and the exact text it quotes.

One reader per format, chosen by the file's suffix (`docs/formats.md` says what each keeps):
`.txt` is plain text, `.md`/`.markdown` is rendered by `index/markdown_text.py`, `.html`/`.htm`
is a news page read by `index/html_text.py`. A `.txt` or Markdown story may open with YAML front
matter (`index/front_matter.py`). `Article.body` is the plain text a reader of the page sees, and
offsets everywhere in storybot are character offsets into it. A file that cannot be read is
reported by name, never fatal; a file in Windows-1252 (Word's curly quotes) is read, with a
warning.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from index.errors import BadArticle
from index.front_matter import MAX_FIELD_CHARS, split_front_matter
from index.html_text import read_page
from index.markdown_text import markdown_blocks
from index.plain_text import compose

log = logging.getLogger(__name__)

MARKDOWN = (".md", ".markdown")
HTML = (".html", ".htm")
SUFFIXES = (".txt", *MARKDOWN, *HTML)
# Story-like files storybot cannot read: reported, so an editor's story never vanishes silently.
UNREAD = (".doc", ".docx", ".odt", ".rtf", ".pdf", ".pages", ".epub", ".xhtml")
MAX_BYTES = 20 * 1024 * 1024
# Of the letters in a file read as Windows-1252, at most this share may be non-ASCII: Western
# European text has a few (é, ß, curly quotes are not letters), text in another 8-bit encoding
# (KOI8-R, cp1251, ISO-8859-7) read as cp1252 is mostly accented gibberish.
MAX_CP1252_FOREIGN = 0.3
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_ ]*")
_WEB_URL = re.compile(r"^https?://")


@dataclass(frozen=True)
class Article:
    """One story: `id` is its path relative to the stories folder, `body` the plain text its
    reader sees (what sentences quote and offsets index), `content_hash` the hash of what was
    read from the file (fields and body)."""

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


def decode(raw: bytes, rel: str) -> str:
    """UTF-8 (a BOM allowed) or, with a warning, Windows-1252; newlines as `\\n`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        western = _windows_1252(raw)
        if western is None:
            raise BadArticle(
                f"{rel}: not UTF-8 text (bad byte at position {exc.start}), and not "
                "Windows-1252 either; save it as UTF-8"
            ) from exc
        log.warning("%s: not UTF-8; read as Windows-1252 (cp1252). Save it as UTF-8.", rel)
        text = western
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _windows_1252(raw: bytes) -> str | None:
    """`raw` read as Windows-1252, or None where it has bytes that code page lacks or reads as
    mostly accented letters."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    letters = [c for c in text if c.isalpha()]
    foreign = sum(not c.isascii() for c in letters)
    return None if foreign > MAX_CP1252_FOREIGN * len(letters) else text


@dataclass(frozen=True)
class _Read:
    """What a format's reader found in a file (None where the file does not say)."""

    title: str | None
    url: str | None
    published: str | None
    updated: str | None
    body: str


def _read_text(rel: str, text: str, markdown: bool) -> _Read:
    meta, body = split_front_matter(text, rel)
    title = meta.text("title", rel)
    if markdown:
        title, body = compose(markdown_blocks(body), title)
    url = meta.text("url", rel)
    if url and not _WEB_URL.match(url):
        raise BadArticle(
            f"{rel}: line {meta.lines['url']}: url must start with http:// or https://"
        )
    return _Read(title, url, meta.text("published", rel), meta.text("updated", rel), body)


def _read_html(text: str) -> _Read:
    page = read_page(text)
    # The page's metadata was not written for storybot: what is unusable is left out, not refused.
    given = page.title if page.title and len(page.title) <= MAX_FIELD_CHARS else None
    title, body = compose(page.blocks, given)
    url = page.url if page.url and _WEB_URL.match(page.url) else None
    return _Read(title, url, page.published, page.updated, body)


def parse_article(rel: str, raw: bytes) -> Article:
    """Build an Article from a file's bytes, or raise BadArticle saying what is wrong."""
    if not raw.strip():
        raise BadArticle(f"{rel}: the file is empty")
    if b"\x00" in raw:  # anywhere: one past the first 8 KB reached replies
        raise BadArticle(f"{rel}: looks like a binary file, not text (it has NUL bytes)")
    text = decode(raw, rel)
    suffix = Path(rel).suffix.lower()
    read = _read_html(text) if suffix in HTML else _read_text(rel, text, suffix in MARKDOWN)
    if not read.body.strip():
        raise BadArticle(f"{rel}: has no body text")
    title = read.title or title_from_name(rel)
    published = read.published or _date_from_name(rel)
    # The hash is of what was read, not of the bytes: when a reader comes to read a file
    # differently the index is rebuilt, and an edit that changes nothing read does not.
    fields = (title, read.url, published, read.updated, read.body)
    digest = hashlib.sha256("\x00".join(f or "" for f in fields).encode("utf-8")).hexdigest()
    return Article(rel, title, read.url, published, read.updated, read.body, digest)


def story_files(folder: Path) -> list[Path]:
    """Every story file under `folder` (SUFFIXES and UNREAD), in a stable order; hidden files
    and folders skipped."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in (*SUFFIXES, *UNREAD)
        and (path.is_file() or path.is_symlink())  # a dangling link too: it is reported
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _check_link(path: Path, folder: Path, rel: str) -> None:
    """BadArticle for a symlink that leads nowhere or out of the stories folder: a link to
    /etc/passwd must not become a story anyone can ask the bot to quote."""
    if not path.is_symlink():
        return
    target = path.resolve()
    if not target.exists():
        raise BadArticle(f"{rel}: is a link to {target}, which does not exist")
    if not target.is_relative_to(folder.resolve()):
        raise BadArticle(
            f"{rel}: is a link to {target}, outside the stories folder; storybot reads only "
            "files inside it (copy the story in instead)"
        )
    if not target.is_file():
        raise BadArticle(f"{rel}: is a link to {target}, which is not a file")


def load_articles(folder: Path, max_bytes: int = MAX_BYTES) -> tuple[list[Article], list[Problem]]:
    """Read every story under `folder`; bad files come back as problems, the rest as articles."""
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in story_files(folder):
        rel = path.relative_to(folder).as_posix()
        try:
            if not rel.isprintable():
                rel = rel.encode("unicode_escape").decode("ascii")  # said on one line
                raise BadArticle(
                    f"{rel}: the file name has a line break or another control character, "
                    "which would break every line that names it; rename the file"
                )
            _check_link(path, folder, rel)
            if path.suffix.lower() in UNREAD:
                raise BadArticle(
                    f"{rel}: {path.suffix} files are not read; save the story as .txt, .md or .html"
                )
            size = path.stat().st_size
            if size > max_bytes:
                mib = f"{size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB"
                raise BadArticle(f"{rel}: too large ({mib})")
            articles.append(parse_article(rel, path.read_bytes()))
        except BadArticle as exc:
            problems.append(Problem(rel, str(exc).removeprefix(f"{rel}: ")))
        except OSError as exc:
            problems.append(Problem(rel, f"cannot be read ({exc.strerror or exc})"))
    return articles, problems
