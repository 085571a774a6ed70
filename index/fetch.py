"""Fetching one page or feed of a configured source: the network edge of `storybot watch`.

A GET is conditional (ETag, Last-Modified: a 304 costs the newsroom nothing), has a timeout per
read and a deadline for the whole fetch, is retried with backoff when a retry may pass (a
timeout, a refused connection, a 5xx, a 429), reads at most a size limit, and follows redirects
only on the configured host. Every URL it is handed or redirected to passes
`index.sources.check_url` first (`fetchable`): a hostile Location (port 99999999,
`javascript:…`, a password) fails the fetch by name instead of raising from inside httpx.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from index.errors import StorybotError
from index.sources import check_url

MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
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


def check_redirect(response: httpx.Response) -> None:
    """A response hook: httpx reads a redirect's Location before the caller sees the response
    (even when not following it), and one that is no URL (`javascript:…`) raised from inside
    httpx. Checked here first, it fails as any other unusable redirect does."""
    if response.has_redirect_location:
        _redirect_target(response)


def same_host(a: str, b: str) -> bool:
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
                    if not same_host(location, url):
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
