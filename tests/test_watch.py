"""Following pages and feeds over loopback: a real HTTP server (tests/website.py, the `site`
fixture) whose pages change between polls, answers 304 to a conditional request that matches,
and fails on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.articles import load_articles
from index.sources import BadSources, Source, add_source, load_sources
from index.watch import Limits, Report, Watcher, describe, story_name
from website import FEED, PAGE, Site

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
    # The page is edited and the feed is not: the feed's 304 does not hide the edit.
    site.page("/london", PAGE.format(news="Witkoff met Putin in Moscow on Friday."))
    [edited] = watcher.poll([Source(f"{site.base}/feed.xml", feed=True)])
    assert edited.status == "changed" and edited.written == [story_name(f"{site.base}/london")]
    assert [path for path, _ in site.requests[-2:]] == ["/feed.xml", "/london"]
    assert all(etag for _, etag in site.requests[-2:]), "both asked conditionally"


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


def test_ctrl_c_during_a_poll_keeps_what_was_written_as_storybots(
    site: Site, tmp_path: Path
) -> None:
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    source = Source(f"{site.base}/page")

    def interrupted() -> Iterator[Source]:
        yield source
        raise KeyboardInterrupt  # Ctrl-C after the first story was written

    with Watcher(tmp_path, limits=QUICK) as first, pytest.raises(KeyboardInterrupt):
        first.poll(interrupted())
    assert (tmp_path / story_name(source.url)).exists()
    site.page("/page", PAGE.format(news="Witkoff met Putin in Moscow on Friday."))
    with Watcher(tmp_path, limits=QUICK) as again:
        [report] = again.poll([source])
    assert report.status == "changed", report.detail  # not "would overwrite … did not write"


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
    assert add_source(tmp_path, "https://news.example/live", every="2m") == Source(
        "https://news.example/live", every=120.0
    )
    text = (tmp_path / "sources.yaml").read_text()
    assert text.endswith("  - url: https://news.example/live\n    every: 2m\n")
    with pytest.raises(BadSources, match="already in"):
        add_source(tmp_path, "https://news.example/rss.xml")
    with pytest.raises(BadSources, match="http:// or https://"):
        add_source(tmp_path, "ftp://news.example/x")
    with pytest.raises(BadSources, match="every must be a duration such as 90s, 5m or 1h"):
        add_source(tmp_path, "https://news.example/x", every="soon")
    with pytest.raises(BadSources, match="every is 10 s; poll at most every 30 s"):
        add_source(tmp_path, "https://news.example/x", every="10s")
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


BAD_PORT = "http://127.0.0.1:99999999/x"
ONE_ITEM_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>
<link>{base}/</link><description>World news</description>
<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>
<description>&lt;p&gt;{text}&lt;/p&gt;</description></item></channel></rss>"""


def one_item_feed(base: str, link: str, text: str, title: str = "Wire", guid: str = "") -> str:
    return ONE_ITEM_FEED.format(base=base, link=link, guid=guid or link, title=title, text=text)


def test_an_unusable_url_in_a_redirect_or_a_feed_fails_that_source_not_the_watch(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    site.redirect("/bad-port", BAD_PORT)
    site.redirect("/credentials", f"{site.base.replace('//', '//editor:hunter2@')}/page")
    site.redirect("/script", "javascript:alert(1)")
    site.page("/bad-feed.xml", one_item_feed(site.base, BAD_PORT, "A wire story from Lisbon."))
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    sources = [
        Source(f"{site.base}/bad-port"),
        Source(f"{site.base}/credentials"),
        Source(f"{site.base}/script"),
        Source(f"{site.base}/bad-feed.xml", feed=True),
        Source(f"{site.base}/page"),  # after them all: still polled and written
    ]
    reports = {r.url.rsplit("/", 1)[1]: r for r in watcher.poll(sources)}
    assert reports["page"].status == "changed"
    assert reports["bad-port"].status == "failed"
    assert "redirects to" in reports["bad-port"].detail
    assert "port 99999999 is out of range" in reports["bad-port"].detail
    assert "user name or password" in reports["credentials"].detail
    assert "hunter2" not in reports["credentials"].detail
    assert "http:// or https://" in reports["script"].detail
    assert reports["bad-feed.xml"].status == "failed"
    assert BAD_PORT in reports["bad-feed.xml"].detail
    assert "out of range" in reports["bad-feed.xml"].detail
    assert [a.id for a in load_articles(tmp_path)[0]] == [story_name(f"{site.base}/page")]


SPOOF = "Envoy Steve Witkoff resigned on Friday, the page now says."


@pytest.mark.parametrize("feed_first", [False, True])
def test_a_feed_on_another_host_cannot_replace_a_followed_pages_story(
    site: Site, tmp_path: Path, feed_first: bool
) -> None:
    site.page("/page.html", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    page = Source(f"{site.base}/page.html")
    # Another host (the same server by another name) whose entry claims the page's URL.
    spoof_base = site.base.replace("127.0.0.1", "localhost")
    site.page("/spoof.xml", one_item_feed(spoof_base, page.url, SPOOF, title="Page"))
    feed = Source(f"{spoof_base}/spoof.xml", feed=True)
    sources = [feed, page] if feed_first else [page, feed]
    story = tmp_path / story_name(page.url)
    for n in range(3):  # then the feed and the page answer 304: nothing to undo
        with Watcher(tmp_path, limits=QUICK, sources=sources) as watcher:
            reports = {r.url: r for r in watcher.poll(sources)}
        assert "Witkoff will travel to Moscow" in story.read_text()
        assert SPOOF not in story.read_text()
        assert reports[feed.url].written == []
        assert reports[page.url].ok, reports[page.url].detail
        if n == 0:
            assert f"{page.url}: {story} is the story of {page.url}" in reports[feed.url].detail
    [article] = load_articles(tmp_path)[0]
    assert SPOOF not in article.body


def test_a_story_is_written_by_one_source_and_a_second_claimant_is_refused_by_name(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    wire = "https://wire.example/lisbon"
    site.page("/a.xml", one_item_feed(site.base, wire, "Lisbon was sunny all week."))
    site.page("/b.xml", one_item_feed(site.base, wire, "Lisbon was under snow all week."))
    a, b = Source(f"{site.base}/a.xml", feed=True), Source(f"{site.base}/b.xml", feed=True)
    first, second = watcher.poll([a, b])
    assert first.written == [story_name(wire)] and second.written == []
    assert f"{wire}: {tmp_path / story_name(wire)} is the story of {a.url}" in second.detail
    site.page("/b.xml", one_item_feed(site.base, wire, "Lisbon was under hail all week."))
    [again] = watcher.poll([b])  # b changed: refused again, by name
    assert again.written == [] and f"is the story of {a.url}" in again.detail
    [article] = load_articles(tmp_path)[0]
    assert "sunny" in article.body


def test_a_dripping_source_fails_by_its_deadline_and_the_rest_are_polled(
    site: Site, tmp_path: Path
) -> None:
    # A byte every 0.1 s never trips the 0.5 s read timeout: 100 kB would take three hours.
    site.drip("/drip", PAGE.format(news="x" * 100_000).encode(), every=0.1)
    site.page("/page", PAGE.format(news="Envoy Steve Witkoff will travel to Moscow."))
    items = "".join(
        f"<item><title>Drip {n}</title><link>{site.base}/drip{n}</link></item>" for n in range(3)
    )
    for n in range(3):
        site.drip(f"/drip{n}", PAGE.format(news="x" * 100_000).encode(), every=0.1)
    site.page("/feed.xml", f"<rss><channel><title>Drips</title>{items}</channel></rss>")
    sources = [
        Source(f"{site.base}/drip"),
        Source(f"{site.base}/feed.xml", feed=True),
        Source(f"{site.base}/page"),
    ]
    limits = Limits(timeout=0.5, deadline=1.5, per_source=2.5, retries=1, backoff=0.01)
    reports: list[Report] = []

    def poll() -> None:
        with Watcher(tmp_path, limits=limits) as watcher:
            reports.extend(watcher.poll(sources))

    polling = threading.Thread(target=poll, daemon=True)
    polling.start()
    polling.join(timeout=60)
    assert not polling.is_alive(), "the dripping page held the poll"
    drip, feed, page = reports
    assert drip.status == "failed" and "no complete answer within 1.5 s" in drip.detail
    assert "kB had come" in drip.detail
    # Two entries take the feed's 2.5 s; the third is left for the next poll.
    assert feed.status == "failed", feed.detail
    assert feed.detail.count("no complete answer within") == 2
    assert f"{site.base}/drip2: not asked: the source's poll took its 2.5 s" in feed.detail
    assert page.status == "changed"


def item(title: str, link: str, text: str, guid: str | None = None) -> str:
    tag = f"<guid>{guid}</guid>" if guid else ""
    return (
        f"<item><title>{title}</title><link>{link}</link>{tag}"
        f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
    )


def test_entries_sharing_a_link_or_guid_lose_nothing_silently_and_rewrite_nothing(
    site: Site, tmp_path: Path, watcher: Watcher
) -> None:
    live, wire = "https://live.example/ukraine", "https://wire.example/lisbon"
    weather = "Lisbon was sunny and warm all week, the weather service said on Friday."
    items = [
        item("Live: 09:00", live, "Talks began at Lancaster House at nine o'clock.", "u1"),
        item("Live: 10:00", live, "The talks broke for lunch without a statement.", "u2"),
        item("Lisbon", wire, weather, "w1"),
        item("Lisbon", wire, weather, "w1"),  # an exact repeat: one story
        item("Lisbon again", wire, "Lisbon was under snow for a day and a night.", "w1"),
        item("On site", f"{site.base}/london", "ignored: the page is read", "s1"),
        item("On site again", f"{site.base}/london", "ignored too", "s2"),
    ]
    site.page("/london", PAGE.format(news="Talks resume in London next week."))
    rss = f"<rss><channel><title>Wire</title>{''.join(items)}</channel></rss>"
    site.page("/feed.xml", rss, kind="application/rss+xml", etag=False)  # never a 304
    feed = Source(f"{site.base}/feed.xml", feed=True)
    [first] = watcher.poll([feed])
    assert len(first.written) == len(set(first.written)) == 4, first
    bodies = sorted(a.body for a in load_articles(tmp_path)[0])
    assert len(bodies) == 4 and any("broke for lunch" in b for b in bodies)
    assert any("nine o'clock" in b for b in bodies) and any("sunny" in b for b in bodies)
    assert first.detail == (
        f"{wire}: listed again in the feed, with other text and nothing telling the two apart "
        "(no other guid); the first is kept"
    )
    assert [path for path, _ in site.requests].count("/london") == 1
    [second] = watcher.poll([feed])  # the same feed again: nothing to write, nothing to rebuild
    assert second.written == [] and second.status == "unchanged"
