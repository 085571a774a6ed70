"""A newsroom's web site on 127.0.0.1 for the tests that follow pages and feeds (the real one
cannot be reached from here).

It speaks plain HTTP/1.1: ETag, 304 to a conditional request that matches, and on demand 404,
500, a slow answer, a truncated body, a malformed feed, an oversized page, a same-host redirect
and a redirect to another host; and, as a hostile site would, a redirect to any `Location`
(`Site.redirect`) and a body dripped a byte at a time (`Site.drip`). `python tests/website.py
FOLDER` serves a folder's files the same way, to be edited by hand (the README's example output
comes from it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
    redirects: dict[str, str] = field(default_factory=dict)  # path: Location, as given
    drips: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # path: body, seconds/byte
    no_etag: set[str] = field(default_factory=set)  # paths served without validators
    base: str = ""
    folder: Path | None = None  # files served as they are now, for a site edited by hand

    def page(
        self, path: str, body: str, kind: str = "text/html", status: int = 200, etag: bool = True
    ) -> None:
        """Serve `body` at `path`; with `etag=False`, without validators (never a 304)."""
        self.pages[path] = (status, kind, body)
        if not etag:
            self.no_etag.add(path)

    def redirect(self, path: str, location: str) -> None:
        """Answer `path` with a 302 to `location`, whatever it says."""
        self.redirects[path] = location

    def drip(self, path: str, body: bytes, every: float) -> None:
        """Answer `path` with `body`, one byte each `every` seconds after the headers."""
        self.drips[path] = (body, every)

    def file(self, path: str) -> tuple[int, str, str]:
        """A file of `folder` (an .xml one as a feed), or a 404."""
        name = path.lstrip("/")
        target = self.folder / name if self.folder and name else None
        if target is None or ".." in name or not target.is_file():
            return 404, "text/plain", "not found"
        kind = "application/rss+xml" if target.suffix == ".xml" else "text/html"
        return 200, kind, target.read_text(encoding="utf-8")


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.requests.append((self.path, self.headers.get("If-None-Match")))
            if self.path == "/slow":
                time.sleep(site.slow)
            if self.path in site.redirects:
                self._send(302, b"", {"Location": site.redirects[self.path]})
                return
            if self.path in site.drips:
                self._drip(*site.drips[self.path])
                return
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
            status, kind, body = site.pages.get(self.path) or site.file(self.path)
            raw = body.encode("utf-8")
            etag = f'"{hash(raw) & 0xFFFFFFFF:x}"'
            if self.path in site.no_etag:
                self._send(status, raw, {"Content-Type": kind})
                return
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
            self._send(status, raw, {"Content-Type": kind, "ETag": etag})

        def _drip(self, body: bytes, every: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.close_connection = True
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(every)

        def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the slow page's timeout) is no error of the site's


@contextlib.contextmanager
def serving(site: Site | None = None) -> Iterator[Site]:
    """Serve `site` (a new, empty one by default) on a free port until the block ends."""
    site = site or Site()
    server = _Server(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":  # `python tests/website.py FOLDER [PORT]`: serve FOLDER's files
    import sys

    folder = Path(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    server = _Server(("127.0.0.1", port), _handler(Site(folder=folder)))
    print(f"Serving {folder} on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
