"""The pages and feeds a newsroom points storybot at: `stories/sources.yaml`, human-editable.

    # storybot watch polls these; `storybot add URL [--feed]` appends to the list.
    sources:
      - url: https://news.example/2025/04/23/london-talks
      - url: https://news.example/world/rss.xml
        feed: true
        every: 2m        # how often to poll: 90, 90s, 5m, 1h (default 5m)

Only what is listed here is ever fetched. Every problem is reported with the file, the line and
what to write instead; nothing is fetched from a file that does not validate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from index.errors import StorybotError

SOURCES_FILE = "sources.yaml"
DEFAULT_EVERY = 300.0
MIN_EVERY = 30.0  # politeness: nobody's newsroom wants a bot polling every second
_KEYS = {"url", "feed", "every"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_HEADER = (
    "# Pages and feeds `storybot watch` polls; only these are ever fetched.\n"
    "# `storybot add URL [--feed]` appends here. Per source: url, feed: true for RSS/Atom,\n"
    "# every: how often to poll (90s, 5m, 1h; default 5m).\n"
    "sources:\n"
)


class BadSources(StorybotError):
    """sources.yaml cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class Source:
    """One configured page or feed."""

    url: str
    feed: bool = False
    every: float = DEFAULT_EVERY


def parse_every(value: object) -> float:
    """`90`, `"90s"`, `"5m"`, `"1h"` → seconds; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(value)
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def format_every(seconds: float) -> str:
    """Seconds as sources.yaml writes them: `300` → `5m`, `90` → `90s`, `7200` → `2h`."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def check_url(url: object) -> str:
    """A fetchable http(s) URL, or ValueError saying what is wrong with it.

    The one check every URL storybot fetches or records goes through: a configured source, a
    redirect's target, a feed entry's link. Fetchable means an http(s) scheme, a host name that
    is one (labels of 1-63 characters), a port that is one (1-65535), no user name or password
    (they would be printed with the URL), and no whitespace or control characters.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("a url is required")
    url = url.strip()
    shown = url if len(url) <= 200 else url[:200] + "…"
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"{shown!r} has a space or a control character in it")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed [ of an IPv6 address
        raise ValueError(f"{shown!r} is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{shown!r} must start with http:// or https://")
    if "@" in parts.netloc:  # said without the URL: it holds a password
        raise ValueError(
            f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}… carries a user name or "
            "password; storybot fetches only public pages"
        )
    if not parts.hostname:
        raise ValueError(f"{shown!r} has no host")
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise ValueError(f"{shown!r}: {parts.hostname!r} is not a host name") from None
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        given = parts.netloc.rpartition(":")[2]
        what = "is out of range (1-65535)" if given.isdigit() else "is not a number"
        raise ValueError(f"{shown!r}: port {given} {what}")
    return url


def load_sources(stories: Path) -> list[Source]:
    """The sources listed in `stories/sources.yaml`; none when the file does not exist."""
    return read_sources(Path(stories) / SOURCES_FILE)


def read_sources(path: Path) -> list[Source]:
    """The sources listed in a sources file; none when it does not exist."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSources(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise BadSources(f"{path}{where}: not valid YAML ({exc.__class__.__name__})") from exc
    if root is None:
        return []
    data = yaml.safe_load(text)
    entries = data.get("sources") if isinstance(data, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise BadSources(f"{path}: `sources:` must be a list of entries, each `- url: …`")
    lines = _entry_lines(root)
    out: list[Source] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries):
        where = f"{path} line {lines[number]}" if number < len(lines) else str(path)
        out.append(_source(entry, where))
        if out[-1].url in seen:
            raise BadSources(f"{where}: {out[-1].url} is listed twice (line {seen[out[-1].url]})")
        seen[out[-1].url] = lines[number] if number < len(lines) else 0
    return out


def _entry_lines(root: yaml.Node) -> list[int]:
    """1-based line of each entry of `sources:` (for error messages)."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "sources" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _source(entry: object, where: str) -> Source:
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict):
        raise BadSources(f"{where}: each source is `- url: https://…` (optionally feed, every)")
    unknown = sorted(str(k) for k in entry if k not in _KEYS)
    if unknown:
        raise BadSources(
            f"{where}: unknown key {', '.join(unknown)}; a source has url, feed and every"
        )
    try:
        url = check_url(entry.get("url"))
    except ValueError as exc:
        raise BadSources(f"{where}: {exc}") from exc
    feed = entry.get("feed", False)
    if not isinstance(feed, bool):
        raise BadSources(f"{where}: feed must be true or false, not {feed!r}")
    try:
        every = check_every(entry.get("every", DEFAULT_EVERY))
    except BadSources as exc:
        raise BadSources(f"{where}: {exc}") from None
    return Source(url, feed, every)


def check_every(value: object) -> float:
    """A poll interval (`90`, `90s`, `5m`, `1h`) in seconds, or BadSources saying what to write
    instead."""
    try:
        every = parse_every(value)
    except ValueError:
        raise BadSources(f"every must be a duration such as 90s, 5m or 1h, not {value!r}") from None
    if every < MIN_EVERY:
        raise BadSources(f"every is {every:g} s; poll at most every {MIN_EVERY:g} s")
    return every


def add_source(stories: Path, url: str, feed: bool = False, every: str | None = None) -> Source:
    """Append a source to sources.yaml (created if missing), keeping the editor's comments.

    `every` is written as given (`5m`), so the file reads as the editor typed it.
    Raises BadSources if the URL is not fetchable, already listed, `every` is no duration or
    too short, or the file does not validate.
    """
    try:
        url = check_url(url)
    except ValueError as exc:
        raise BadSources(str(exc)) from exc
    if every is not None:
        every = every.strip()
        check_every(every)
    path = Path(stories) / SOURCES_FILE
    existing = load_sources(stories)
    if any(s.url == url for s in existing):
        raise BadSources(f"{url} is already in {path}")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if not text.strip():
        text = _HEADER
    elif not existing and "sources:" not in text:
        text = text.rstrip("\n") + "\nsources:\n"
    elif not text.endswith("\n"):
        text += "\n"
    text += f"  - url: {yaml.safe_dump(url, default_style=None).splitlines()[0]}\n"
    if feed:
        text += "    feed: true\n"
    if every is not None:
        text += f"    every: {every}\n"
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    try:
        added = read_sources(tmp)  # the file as it will be, checked before it replaces the old
    except BadSources:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return next(s for s in added if s.url == url)
