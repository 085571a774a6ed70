"""Following the newsroom's pages and feeds: fetch what changed, write it as a story file.

Each configured source (index/sources.py) is fetched with a conditional request (ETag,
Last-Modified: a 304 costs the newsroom nothing), a timeout per read and a deadline for the
whole fetch and for the source's poll, bounded retries with backoff and a size limit. A page
becomes one story; a feed's entries become one story each — the entry's own page when it is on
the feed's host (read by the same HTML reader as a `.html` file), else the entry's content as
the feed gives it. A story is written as `stories/web/<host>/<slug>.html`, its
name made from the URL (so its id stays the same across edits), and only when the text storybot
reads from it changed. Redirects are followed only on the same host: a page that redirects
elsewhere is refused, as is any URL not in sources.yaml.

What storybot wrote is recorded in `stories/.watch.json` (with each source's validators); a
file there that storybot did not write is never overwritten. Each story file belongs to one
source, recorded there too: the first to write it, except that a configured page always owns its
own URL's story; another source claiming it (a feed listing that URL, perhaps from another host)
is refused by name. Every URL fetched or recorded passes `index.sources.check_url` first. A
failing source is reported with its URL and the reason, and the others go on.
"""

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
from urllib.parse import urljoin, urlsplit

import httpx

from index.articles import parse_article
from index.errors import BadArticle, StorybotError, os_reason
from index.sources import Source, check_url

STATE_FILE = ".watch.json"
WEB_DIR = "web"
MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_FEED_ENTRIES = 30
MAX_REDIRECTS = 5
_SLUG = re.compile(r"[^a-z0-9]+")
_RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchFailed(StorybotError):
    """A source could not be fetched or read; the message says why, in words."""


@dataclass(frozen=True)
class Limits:
    """How patient and how trusting fetching is."""

    timeout: float = 10.0  # seconds for a connection or one read
    deadline: float = 30.0  # seconds for a whole fetch: tries, waits, redirects and body
    per_source: float = 120.0  # seconds for a source's poll: a feed and its entries' pages
    retries: int = 2
    backoff: float = 1.0  # seconds before the first retry, doubled after each
    max_bytes: int = MAX_PAGE_BYTES


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: 200 with its body, or 304 (not modified)."""

    status: int
    body: bytes = b""
    etag: str | None = None
    modified: str | None = None


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


def fetchable(url: str) -> str:
    """`url` if storybot may fetch it (`index.sources.check_url`), else FetchFailed saying why:
    what a hostile page or feed hands over (a redirect, an entry's link) is checked like a
    configured source before anything is done with it."""
    try:
        return check_url(url)
    except ValueError as exc:
        raise FetchFailed(str(exc)) from None


def _redirect_target(response: httpx.Response) -> str:
    """Where a redirect points, if `fetchable`; else FetchFailed naming it."""
    given = response.headers.get("location", "").strip()
    try:
        return fetchable(urljoin(str(response.request.url), given))
    except ValueError:  # urljoin: an unclosed [ of an IPv6 address
        raise FetchFailed(f"redirects to {given[:200]!r}, which is not a URL") from None
    except FetchFailed as exc:
        raise FetchFailed(f"redirects to {exc}") from None


def _check_redirect(response: httpx.Response) -> None:
    """A response hook: httpx reads a redirect's Location before the caller sees the response
    (even when not following it), and one that is no URL (`javascript:…`) raised from inside
    httpx. Checked here first, it fails as any other unusable redirect does."""
    if response.has_redirect_location:
        _redirect_target(response)


def _same_host(a: str, b: str) -> bool:
    """Whether two URLs that passed `fetchable` are on one host (name and port)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.port) == (pb.hostname, pb.port)


def fetch(
    client: httpx.Client,
    url: str,
    etag: str | None = None,
    modified: str | None = None,
    limits: Limits = Limits(),
    sleep: Callable[[float], None] = time.sleep,
    until: float | None = None,
) -> Fetched:
    """GET `url` conditionally, retrying what may pass; FetchFailed with the reason otherwise.

    The whole fetch — its tries, the waits between them, redirects and the body — ends by
    `limits.deadline` seconds from now (or `until`, a `time.monotonic()` time, if sooner): the
    per-read timeout alone let a server dripping a byte every 2 s hold a watch for hours.
    """
    fetchable(url)
    started = time.monotonic()
    until = min(until or math.inf, started + limits.deadline)
    delay = limits.backoff
    for attempt in range(limits.retries + 1):
        try:
            return _fetch_once(client, url, etag, modified, limits, (until, until - started))
        except _Retry as exc:
            tries = f"after {attempt + 1} {'try' if attempt == 0 else 'tries'}"
            if attempt == limits.retries or time.monotonic() + delay >= until:
                raise FetchFailed(f"{exc} ({tries})") from None
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class _Retry(Exception):
    """A failure worth another try (a timeout, a refused connection, a 5xx, a 429)."""


def _fetch_once(
    client: httpx.Client,
    url: str,
    etag: str | None,
    modified: str | None,
    limits: Limits,
    deadline: tuple[float, float],
) -> Fetched:
    """One try of `fetch`; `deadline` is when it must end and how long the fetch was given."""
    until, allowed = deadline
    headers = {"Accept": "text/html,application/xhtml+xml,application/rss+xml,*/*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        # Each wait (connect, a read) is cut to what is left, so the deadline also bounds a
        # server that stops sending altogether.
        timeout = min(limits.timeout, until - time.monotonic())
        if timeout <= 0:
            raise FetchFailed(_late(allowed, 0))
        try:
            with client.stream("GET", target, headers=headers, timeout=timeout) as resp:
                if resp.has_redirect_location:
                    location = _redirect_target(resp)
                    if not _same_host(location, url):
                        raise FetchFailed(
                            f"redirects to {location}, another host; only the configured "
                            "host is fetched (list the new address in sources.yaml)"
                        )
                    target = location
                    continue
                if resp.status_code == 304:
                    return Fetched(304, etag=etag, modified=modified)
                if resp.status_code in _RETRY_STATUS:
                    raise _Retry(f"HTTP {resp.status_code}")
                if resp.status_code != 200:
                    raise FetchFailed(f"HTTP {resp.status_code} {resp.reason_phrase}".strip())
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                    raise FetchFailed(_too_big(int(declared), limits.max_bytes))
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise FetchFailed(_too_big(len(body), limits.max_bytes))
                    if time.monotonic() > until:
                        raise FetchFailed(_late(allowed, len(body)))
                return Fetched(
                    200,
                    bytes(body),
                    etag=resp.headers.get("etag"),
                    modified=resp.headers.get("last-modified"),
                )
        except httpx.TimeoutException:
            raise _Retry(f"no answer within {timeout:.3g} s") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise _Retry(f"the connection broke off ({exc.__class__.__name__})") from None
        except httpx.ConnectError as exc:
            raise _Retry(f"cannot connect ({exc})") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{exc.__class__.__name__}: {exc}") from None
        except (httpx.InvalidURL, ValueError) as exc:  # httpx refusing what check_url allowed
            raise FetchFailed(f"cannot fetch {target} or follow its answer ({exc})") from None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _late(allowed: float, received: int) -> str:
    got = f"; {received / 1024:.1f} kB had come" if received else ""
    return f"no complete answer within {allowed:.3g} s{got}"


def _too_big(size: int, limit: int) -> str:
    return f"is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.1f} MiB"


class Watcher:
    """Polls sources into a stories folder, remembering validators and what it wrote."""

    def __init__(
        self,
        stories: Path,
        client: httpx.Client | None = None,
        limits: Limits = Limits(),
        sleep: Callable[[float], None] = time.sleep,
        sources: Iterable[Source] = (),
    ) -> None:
        self.stories = Path(stories)
        # The configured pages' own stories: theirs, whoever claimed the file first.
        self.pages = {story_name(s.url): s.url for s in sources if not s.feed}
        self.client = client or httpx.Client(
            follow_redirects=False,
            headers={"User-Agent": "storybot (+news follower)"},
            event_hooks={"response": [_check_redirect]},
        )
        self.limits, self.sleep = limits, sleep
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
                on_host = bool(link) and _same_host(link, source.url)
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
