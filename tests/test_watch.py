"""Following pages and feeds over loopback: a real HTTP server whose pages change between polls.

The server (the newsroom's, which cannot exist here) speaks plain HTTP/1.1: ETag and
Last-Modified, 304 to a conditional request that matches, and on demand 404, 500, a slow answer,
a truncated body, a malformed feed, an oversized page and a redirect to another host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from index.articles import load_articles
from index.sources import BadSources, Source, add_source, load_sources
from index.watch import Limits, Watcher, describe, story_name

PAGE = """<!doctype html><html><head><title>London talks downgraded</title>
<link rel="canonical" href="https://news.example/london-talks">
<meta property="article:published_time" content="2025-04-23T09:00:00Z"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>London talks downgraded</h1>
<p>Talks in London on ending the war in Ukraine were downgraded on Wednesday after US Secretary
of State Marco Rubio pulled out at the last minute.</p>
<p>{news}</p>
<p>Officials from Ukraine, the United States, the United Kingdom, France and Germany met at
Lancaster House instead, without their foreign ministers.</p></article>
<footer>Copyright 2025 News Example. All rights reserved.</footer></body></html>"""

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>
<link>{base}/</link><description>World news</description>
<item><title>London talks downgraded</title><link>{base}/london</link>
<guid>{base}/london</guid><pubDate>Wed, 23 Apr 2025 09:00:00 GMT</pubDate></item>
<item><title>Elsewhere</title><link>https://other.example/story</link>
<description>&lt;p&gt;A wire story about the weather in Lisbon, which was sunny and warm all
week, carried in full by the feed because its page lives on another site.&lt;/p&gt;</description>
</item></channel></rss>"""


@dataclass
class Site:
    """What the fake newsroom serves now, and what it was asked."""

    pages: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # path: status, type, body
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # path, If-None-Match
    slow: float = 0.0
    base: str = ""

    def page(self, path: str, body: str, kind: str = "text/html", status: int = 200) -> None:
        self.pages[path] = (status, kind, body)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.requests.append((self.path, self.headers.get("If-None-Match")))
            if self.path == "/slow":
                time.sleep(site.slow)
            if self.path == "/away":
                self._send(302, b"", {"Location": "http://93.184.216.34/elsewhere"})
                return
            if self.path == "/moved":
                self._send(301, b"", {"Location": "/page"})
                return
            if self.path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b"<html><body><p>Half a page")
                self.wfile.flush()
                self.close_connection = True
                return
            status, kind, body = site.pages.get(self.path, (404, "text/plain", "not found"))
            raw = body.encode("utf-8")
            etag = f'"{hash(raw) & 0xFFFFFFFF:x}"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
            self._send(status, raw, {"Content-Type": kind, "ETag": etag})

        def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


QUICK = Limits(timeout=0.5, retries=1, backoff=0.01, max_bytes=64 * 1024)


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[Watcher]:
    with Watcher(tmp_path, limits=QUICK) as w:
        yield w


def test_a_page_is_written_once_per_real_change(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow this week."))
    source = Source(f"{site.base}/page")
    [first] = watcher.poll([source])
    assert first.status == "changed" and first.written == [story_name(source.url)]
    [again] = watcher.poll([source])
    assert again.status == "not modified", again.detail
    assert site.requests[-1][1] is not None  # the second request was conditional
    # The page changes only outside the article (a new footer): nothing storybot reads changed.
    site.page(
        "/page",
        PAGE.format(news="Envoy Steve Witkoff will travel to Moscow this week.").replace(
            "2025 News Example", "2025-2026 News Example"
        ),
    )
    [boiler] = watcher.poll([source])
    assert boiler.status == "unchanged" and not boiler.written
    site.page("/page", PAGE.format(news="Witkoff met Putin in Moscow on Friday."))
    [edit] = watcher.poll([source])
    assert edit.status == "changed"
    articles, problems = load_articles(tmp_path)
    assert problems == []
    [article] = articles
    assert article.id == story_name(source.url)  # the same story id across the edit
    assert article.title == "London talks downgraded"
    assert article.url == "https://news.example/london-talks"
    assert "Witkoff met Putin in Moscow on Friday." in article.body
    assert "Home" not in article.body and "Copyright" not in article.body


def test_a_feed_becomes_stories_and_entries_off_host_come_from_the_feed(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    site.page("/london", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    site.page("/feed.xml", FEED.format(base=site.base), kind="application/rss+xml")
    [report] = watcher.poll([Source(f"{site.base}/feed.xml", feed=True)])
    assert report.status == "changed", report.detail
    assert len(report.written) == 2
    # The off-host entry was never fetched: only the feed and the on-host page were.
    assert {path for path, _ in site.requests} == {"/feed.xml", "/london"}
    articles, problems = load_articles(tmp_path)
    assert problems == []
    titles = {a.title for a in articles}
    assert titles == {"London talks downgraded", "Elsewhere"}
    lisbon = next(a for a in articles if a.title == "Elsewhere")
    assert "weather in Lisbon" in lisbon.body
    [again] = watcher.poll([Source(f"{site.base}/feed.xml", feed=True)])
    assert again.status == "not modified" and not again.written


def test_failing_sources_are_named_and_the_rest_go_on(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    site.page("/error", "oops", status=500)
    site.page("/bad-feed", "<rss><channel><item><title>unclosed", kind="application/rss+xml")
    site.page("/huge", "<p>" + "x" * (70 * 1024) + "</p>")
    site.slow = 2.0
    site.page("/slow", PAGE.format(news="late"))
    sources = [
        Source(f"{site.base}/missing"),
        Source(f"{site.base}/error"),
        Source(f"{site.base}/slow"),
        Source(f"{site.base}/truncated"),
        Source(f"{site.base}/bad-feed", feed=True),
        Source(f"{site.base}/huge"),
        Source(f"{site.base}/away"),
        Source(f"{site.base}/moved"),  # a same-host redirect is followed
    ]
    reports = {r.url.rsplit("/", 1)[1]: r for r in watcher.poll(sources)}
    assert reports["moved"].status == "changed"
    failed = {k: r.detail for k, r in reports.items() if r.status == "failed"}
    assert set(failed) == {"missing", "error", "slow", "truncated", "bad-feed", "huge", "away"}
    assert "404" in failed["missing"]
    assert "HTTP 500" in failed["error"] and "2 tries" in failed["error"]
    assert "no answer within 0.5 s" in failed["slow"]
    assert "broke off" in failed["truncated"]
    assert "not a readable feed" in failed["bad-feed"]
    assert "limit is 0.1 MiB" in failed["huge"]
    assert "another host" in failed["away"] and "93.184.216.34" in failed["away"]
    assert all(describe(reports[k]).startswith(f"{site.base}/{k}: failed: ") for k in failed)
    assert [a.id for a in load_articles(tmp_path)[0]] == [story_name(f"{site.base}/moved")]


def test_a_file_storybot_did_not_write_is_never_overwritten(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    url = f"{site.base}/page"
    mine = tmp_path / story_name(url)
    mine.parent.mkdir(parents=True)
    mine.write_text("<p>An editor's own copy, kept by hand.</p>")
    [report] = watcher.poll([Source(url)])
    assert report.status == "failed" and "did not write" in report.detail
    assert mine.read_text() == "<p>An editor's own copy, kept by hand.</p>"


def test_sources_file_is_validated_with_line_numbers_and_add_keeps_comments(
    tmp_path: Path,
) -> None:
    assert load_sources(tmp_path) == []
    add_source(tmp_path, "https://news.example/london-talks")
    add_source(tmp_path, "https://news.example/rss.xml", feed=True)
    text = (tmp_path / "sources.yaml").read_text()
    assert text.startswith("# Pages and feeds")
    assert load_sources(tmp_path) == [
        Source("https://news.example/london-talks"),
        Source("https://news.example/rss.xml", feed=True),
    ]
    with pytest.raises(BadSources, match="already in"):
        add_source(tmp_path, "https://news.example/rss.xml")
    with pytest.raises(BadSources, match="http:// or https://"):
        add_source(tmp_path, "ftp://news.example/x")
    assert (tmp_path / "sources.yaml").read_text() == text  # a refused add changes nothing
    (tmp_path / "sources.yaml").write_text(
        "# mine\nsources:\n  - url: https://a.example/x\n    every: 2m\n"
        "  - url: https://b.example/y\n    evrey: 5m\n"
    )
    with pytest.raises(BadSources, match=r"sources.yaml line 5: unknown key evrey"):
        load_sources(tmp_path)
    (tmp_path / "sources.yaml").write_text("sources:\n  - url: https://a.example/x\n    every: 5\n")
    with pytest.raises(BadSources, match="line 2: every is 5 s"):
        load_sources(tmp_path)
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - url: https://a.example/x\n    every: 90s\n"
    )
    assert load_sources(tmp_path) == [Source("https://a.example/x", every=90.0)]
    (tmp_path / "sources.yaml").write_text("sources: [\n")
    with pytest.raises(BadSources, match="not valid YAML"):
        load_sources(tmp_path)
