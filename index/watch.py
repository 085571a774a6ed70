"""Following the newsroom's pages and feeds: what changed becomes a story file.

Each configured source (index/sources.py) is fetched by `index/fetch.py` (conditional requests,
a timeout per read, a deadline per fetch, retries, a size limit, same-host redirects), and a
source's whole poll has a deadline too. A page becomes one story; a feed's entries become one
story each — the entry's own page when it is on the feed's host (read by the same HTML reader
as a `.html` file), else the entry's content as the feed gives it. A story is written as
`stories/web/<host>/<slug>.html`, its name made from the URL (so its id stays the same across
edits), and only when the text storybot reads from it changed.

What storybot wrote is recorded in `stories/.watch.json` (with each source's validators); a
file there that storybot did not write is never overwritten. Each story file belongs to one
source, recorded there too: the first to write it, except that a configured page always owns its
own URL's story; another source claiming it (a feed listing that URL, perhaps from another host)
is refused by name. A failing source is reported with its URL and the reason, and the others go
on."""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from index.articles import parse_article
from index.errors import BadArticle, StorybotError, os_reason
from index.fetch import (
    Fetched,
    FetchFailed,
    Limits,
    check_redirect,
    fetch,
    fetchable,
    same_host,
)
from index.sources import Source

STATE_FILE = ".watch.json"
WEB_DIR = "web"
MAX_FEED_ENTRIES = 30
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Report:
    """What one source's poll did."""

    url: str
    status: str  # "changed", "unchanged", "not modified" or "failed"
    detail: str = ""
    written: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the source answered (anything but a failure)."""
        return self.status != "failed"


def story_name(url: str) -> str:
    """The story file a URL is written to, relative to the stories folder (stable per URL)."""
    parts = urlsplit(url)
    host = _SLUG.sub("-", (parts.hostname or "site").lower()).strip("-")
    path = _SLUG.sub("-", f"{parts.path} {parts.query}".lower()).strip("-")[:80] or "index"
    digest = hashlib.sha1(url.encode()).hexdigest()[:6]
    return f"{WEB_DIR}/{host}/{path}-{digest}.html"


class Watcher:
    """Polls sources into a stories folder, remembering validators and what it wrote."""

    def __init__(
        self,
        stories: Path,
        client: httpx.Client | None = None,
        limits: Limits | None = None,
        sleep: Callable[[float], None] = time.sleep,
        sources: Iterable[Source] = (),
    ) -> None:
        self.stories = Path(stories)
        # The configured pages' own stories: theirs, whoever claimed the file first.
        self.pages = {story_name(s.url): s.url for s in sources if not s.feed}
        self.client = client or httpx.Client(
            follow_redirects=False,
            headers={"User-Agent": "storybot (+news follower)"},
            event_hooks={"response": [check_redirect]},
        )
        self.limits, self.sleep = limits or Limits(), sleep
        self._until = math.inf  # when the poll of the current source must end
        self.state = self._load_state()

    def _load_state(self) -> dict[str, Any]:
        path = self.stories / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.setdefault("validators", {})
        data.setdefault("files", {})
        data.setdefault("entries", {})  # feed URL: its entries' pages on its host, last read
        return data

    def _save_state(self) -> None:
        """Write the state; StorybotError, leaving the old file whole, when it cannot be."""
        path = self.stories / STATE_FILE
        try:
            _write_whole(path, json.dumps(self.state, indent=1, sort_keys=True).encode("utf-8"))
        except OSError as exc:
            raise StorybotError(f"cannot save {path} ({os_reason(exc)})") from None

    def poll(self, sources: Iterable[Source]) -> list[Report]:
        """Poll each source once; every source gets a report, a failure stops none of the rest."""
        reports = []
        try:
            for source in sources:
                self._until = time.monotonic() + self.limits.per_source
                try:
                    reports.append(self._poll(source))
                except FetchFailed as exc:
                    reports.append(Report(source.url, "failed", str(exc)))
        except BaseException:
            # Also when Ctrl-C stops a poll half way: a story written but not recorded as
            # storybot's would be refused as someone else's file on every later poll.
            with suppress(StorybotError):
                self._save_state()
            raise
        self._save_state()
        return reports

    def _get(self, url: str) -> Fetched:
        if time.monotonic() >= self._until:
            raise FetchFailed(
                f"not asked: the source's poll took its {self.limits.per_source:g} s; "
                "the next poll asks again"
            )
        seen = self.state["validators"].get(url, {})
        fetched = fetch(
            self.client,
            url,
            seen.get("etag"),
            seen.get("modified"),
            self.limits,
            self.sleep,
            until=self._until,
        )
        if fetched.status == 200 and (fetched.etag or fetched.modified):
            self.state["validators"][url] = {"etag": fetched.etag, "modified": fetched.modified}
        return fetched

    def _poll(self, source: Source) -> Report:
        fetched = self._get(source.url)
        if fetched.status == 304 and source.feed:
            # The feed is as it was, but a developing story's page is often edited without its
            # entry changing: the entries' pages are asked again (a 304 each if not edited).
            return self._poll_entry_pages(source)
        if fetched.status == 304:
            return Report(source.url, "not modified")
        if not source.feed:
            written = self._store(source.url, fetched.body, source.url)
            return Report(source.url, "changed" if written else "unchanged", written=written)
        return self._poll_feed(source, fetched.body)

    def _poll_feed(self, source: Source, body: bytes) -> Report:
        import feedparser  # only a feed needs it

        feed = feedparser.parse(body)
        entries = list(feed.entries)[:MAX_FEED_ENTRIES]
        # feedparser reads what it can of a broken feed ("bozo"); it is refused only when
        # nothing useful came of it.
        broken = f"is not a readable feed ({getattr(feed, 'bozo_exception', 'not RSS or Atom')})"
        if feed.bozo and not entries:
            raise FetchFailed(broken)
        written: list[str] = []
        problems: list[str] = []
        pages: list[str] = []  # the entries' pages on its host, asked again after a 304
        # Each story of this poll: what it was made of (None: a fetched page) and its entry's id.
        seen: dict[str, tuple[bytes | None, str]] = {}
        for entry in entries:
            link = str(entry.get("link") or "").strip()
            guid = str(entry.get("id") or "").strip()
            try:
                if link:
                    fetchable(link)  # also off-host: the link becomes the story's name and URL
                key = link or guid or str(entry.get("title") or "") or source.url
                on_host = bool(link) and same_host(link, source.url)
                page = None if on_host else _entry_page(entry)
                if key in seen:
                    if seen[key][0] == page:
                        continue  # the same story listed twice: stored once
                    key = _other_key(key, guid, seen)
                seen[key] = (page, guid)
                self._claim(story_name(key), source.url)
                if page is None:
                    pages.append(link)
                    fetched = self._get(link)
                    if fetched.status == 304:
                        continue
                    written += self._store(link, fetched.body, source.url)
                else:
                    written += self._store(key, page, source.url)
            except FetchFailed as exc:
                problems.append(f"{link or entry.get('title', 'an entry')}: {exc}")
        self.state["entries"][source.url] = pages
        detail = "; ".join(problems)
        if problems and not written and len(problems) == len(entries):
            return Report(source.url, "failed", broken if feed.bozo else detail)
        return Report(source.url, "changed" if written else "unchanged", detail, written)

    def _poll_entry_pages(self, source: Source) -> Report:
        """Ask again for the on-host pages of the feed's entries as it last read them."""
        written: list[str] = []
        problems: list[str] = []
        for link in self.state["entries"].get(source.url, []):
            try:
                fetched = self._get(link)
                if fetched.status == 200:
                    written += self._store(link, fetched.body, source.url)
            except FetchFailed as exc:
                problems.append(f"{link}: {exc}")
        status = "changed" if written else "not modified"
        return Report(source.url, status, "; ".join(problems), written)

    def _store(self, url: str, body: bytes, source: str) -> list[str]:
        """Write the story for `url` if what storybot reads from it changed; [name] or []."""
        name = story_name(url)
        self._claim(name, source)
        try:
            article = parse_article(name, body)
        except BadArticle as exc:
            raise FetchFailed(f"has no article text storybot can read ({exc})") from None
        path = self.stories / name
        mine = self.state["files"].get(name)
        if path.exists() and mine is None:
            raise FetchFailed(
                f"would overwrite {path}, which storybot watch did not write; move it away"
            )
        if mine is not None and mine.get("hash") == article.content_hash and path.exists():
            return []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_whole(path, body)
        except OSError as exc:
            raise FetchFailed(f"cannot write {path} ({os_reason(exc)})") from None
        self.state["files"][name] = {"source": source, "url": url, "hash": article.content_hash}
        return [name]

    def _claim(self, name: str, source: str) -> None:
        """FetchFailed unless `source` may write the story file `name`: a story comes from one
        source, the first to write it, except that a page source always owns its own URL's story
        (so a feed listing that URL, perhaps from another host, never replaces the page)."""
        mine = self.state["files"].get(name) or {}
        owner = self.pages.get(name) or mine.get("source")
        if owner is not None and owner != source:
            raise FetchFailed(
                f"{self.stories / name} is the story of {owner}; a story comes from one source"
            )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_whole(path: Path, data: bytes) -> None:
    """Write `path` through a temporary file renamed over it: readers never see half of it, and
    a failed write (a full disk) leaves the old file and no temporary one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _other_key(key: str, guid: str, seen: dict[str, tuple[bytes | None, str]]) -> str:
    """The story key of an entry whose link (or id) an earlier entry of the feed has, with other
    text: its own id beside the link (a live blog's updates share the page's link), so neither
    is lost; FetchFailed, naming it, when no id tells the two apart."""
    other = f"{key}#{guid}"
    if not guid or guid in (key, seen[key][1]) or other in seen:
        raise FetchFailed(
            "listed again in the feed, with other text and nothing telling the two apart "
            "(no other guid); the first is kept"
        )
    return other


def _entry_page(entry: Any) -> bytes:
    """A feed entry as a small HTML page the HTML reader reads like any other."""
    content = entry.get("content") or []
    body = content[0].get("value", "") if content else entry.get("summary", "")
    title = html.escape(str(entry.get("title") or ""))
    meta = []
    if entry.get("link"):
        meta.append(f'<link rel="canonical" href="{html.escape(str(entry["link"]))}">')
    if entry.get("published"):
        when = html.escape(str(entry["published"]))
        meta.append(f'<meta property="article:published_time" content="{when}">')
    page = (
        f"<!doctype html><html><head><title>{title}</title>{''.join(meta)}</head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )
    return page.encode("utf-8")


def watch(
    watcher: Watcher,
    sources: list[Source],
    on_poll: Callable[[list[Report]], None],
    say: Callable[[str], None] = print,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    poll: Callable[[Sequence[Source]], list[Report]] | None = None,
) -> None:
    """Poll each source on its own interval until `stop()`, saying one line for each poll that
    changed a story or failed (see `worth_saying`); `on_poll` gets each round's reports (the
    caller rebuilds the index when they wrote stories). `poll` polls a round's sources (by
    default `watcher.poll`)."""
    poll = poll or watcher.poll
    due = dict.fromkeys(range(len(sources)), clock())
    while not stop():
        now = clock()
        ready = [i for i, at in due.items() if at <= now]
        if ready:
            reports = poll([sources[i] for i in ready])
            for i in ready:
                due[i] = now + sources[i].every
            for report in reports:
                if worth_saying(report):
                    say(describe(report))
            on_poll(reports)
        watcher.sleep(max(0.05, min(min(due.values()) - clock(), 1.0)))


def worth_saying(report: Report) -> bool:
    """Whether a poll is news to the operator: a story written, a failure, or a problem with
    some of a feed's entries. A 304 or an unchanged page is not; a quiet watch stays quiet."""
    return bool(report.written or not report.ok or report.detail)


def describe(report: Report) -> str:
    """One line for a source's poll."""
    if report.status == "failed":
        return f"{report.url}: failed: {report.detail}"
    if report.written:
        n = len(report.written)
        line = f"{report.url}: {n} {'story' if n == 1 else 'stories'} updated"
    else:
        line = f"{report.url}: {report.status}"
    return f"{line} ({report.detail})" if report.detail else line
