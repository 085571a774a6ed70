"""`storybot add` and `storybot watch` against the loopback newsroom site (tests/website.py):
each real change is picked up once, indexed and answered like a story file; the rest is quiet."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import click.testing
import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.watch import story_name
from support import ROOT
from website import FEED, PAGE, Site

WITKOFF = "Envoy Steve Witkoff will travel to Moscow this week."
MET = "Envoy Steve Witkoff met Vladimir Putin in St. Petersburg on Friday."


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_add_records_each_source_and_refuses_a_bad_one_with_status_2(tmp_path: Path) -> None:
    stories = str(tmp_path / "stories")
    page = run("add", "https://news.example/london-talks", "--stories", stories)
    assert page.exit_code == 0, page.output
    assert page.stdout.splitlines() == [
        f"Added the page https://news.example/london-talks to {stories}/sources.yaml "
        "(polled every 5m).",
        f"It becomes the story {stories}/{story_name('https://news.example/london-talks')} "
        "when `storybot watch` polls it.",
    ]
    feed = run(
        "add", "https://news.example/rss.xml", "--feed", "--every", "2m", "--stories", stories
    )
    assert feed.exit_code == 0, feed.output
    assert "Added the feed https://news.example/rss.xml" in feed.stdout
    assert "(polled every 2m)" in feed.stdout
    written = (tmp_path / "stories" / "sources.yaml").read_text()
    assert written.endswith(
        "  - url: https://news.example/london-talks\n"
        "  - url: https://news.example/rss.xml\n    feed: true\n    every: 2m\n"
    )
    refused = {
        "already in": ["https://news.example/rss.xml"],
        "must start with http:// or https://": ["news.example/other"],
        "every must be a duration such as 90s, 5m or 1h, not 'soon'": [
            "https://news.example/x",
            "--every",
            "soon",
        ],
        "poll at most every 30 s": ["https://news.example/x", "--every", "5s"],
        "port 99999999 is out of range": ["https://news.example:99999999/x"],
    }
    for words, args in refused.items():
        result = run("add", *args, "--stories", stories)
        assert result.exit_code == 2, (words, result.output)
        assert result.stderr.startswith("Error: ") and words in result.stderr, result.stderr
        assert "Traceback" not in result.output
    assert (tmp_path / "stories" / "sources.yaml").read_text() == written


def test_watch_refuses_a_bad_or_empty_sources_file_with_status_2(tmp_path: Path) -> None:
    folders = ["--stories", str(tmp_path), "--index", str(tmp_path / "var" / "index")]
    empty = run("watch", "--once", *folders)
    assert empty.exit_code == 2
    assert "no sources in" in empty.stderr and "storybot add URL" in empty.stderr
    (tmp_path / "sources.yaml").write_text("sources:\n  - url: https://a.example/x\n    evry: 5m\n")
    bad = run("watch", "--once", *folders)
    assert bad.exit_code == 2
    assert "sources.yaml line 2: unknown key evry" in bad.stderr


def test_watch_once_picks_up_each_real_change_once_and_ignores_the_rest(
    site: Site, tmp_path: Path
) -> None:
    site.page("/page", PAGE.format(news=WITKOFF))
    site.page("/london", PAGE.format(news="Talks resume in London next week."))
    site.page("/feed.xml", FEED.format(base=site.base), kind="application/rss+xml")
    folders = ["--stories", str(tmp_path / "stories"), "--index", str(tmp_path / "var" / "index")]
    assert run("add", f"{site.base}/page", *folders[:2]).exit_code == 0
    assert run("add", f"{site.base}/feed.xml", "--feed", *folders[:2]).exit_code == 0

    first = run("watch", "--once", *folders)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[:2] == [
        f"{site.base}/page: 1 story updated",
        f"{site.base}/feed.xml: 2 stories updated",
    ]
    assert lines[2].startswith("Indexed 3 articles, ") and len(lines) == 3

    fetched = len(site.requests)
    again = run("watch", "--once", *folders)
    assert again.exit_code == 0 and again.output == "", "304s: no line, no rebuild"
    assert len(site.requests) == fetched + 3  # page, feed and the feed's on-host entry
    assert all(etag for _, etag in site.requests[fetched:]), "every request was conditional"

    site.page("/page", PAGE.format(news=WITKOFF).replace("Copyright 2025", "Copyright 2026"))
    boiler = run("watch", "--once", *folders)
    assert boiler.exit_code == 0 and boiler.output == "", "the footer is not the story"

    site.page("/page", PAGE.format(news=MET))
    edit = run("watch", "--once", *folders)
    assert edit.exit_code == 0, edit.output
    assert edit.stdout.splitlines()[0] == f"{site.base}/page: 1 story updated"
    assert "Indexed 3 articles, " in edit.stdout and " reused) → " in edit.stdout

    answer = json.loads(run("ask", "--json", *folders, "Where did Witkoff meet Putin?").stdout)
    assert answer["answered"] is True
    quoted = answer["citations"][answer["quoted"]]
    assert quoted["sentence"] == MET
    assert quoted["article"] == story_name(f"{site.base}/page")
    assert quoted["title"] == "London talks downgraded"
    assert quoted["url"] == "https://news.example/london-talks"  # the page's canonical URL
    # ... and summarised like a file: one story, named, every line from the page.
    listed = json.loads(run("stories", "--json", *folders).stdout)
    page = next(s for s in listed if s["file"] == story_name(f"{site.base}/page"))
    summary = json.loads(run("summary", "--json", "--story", page["id"], *folders).stdout)
    assert summary["story"] == page["id"] and summary["citations"]
    assert {c["article"] for c in summary["citations"]} == {page["file"]}
    assert MET in {c["sentence"] for c in summary["citations"]}

    run("add", f"{site.base}/gone", *folders[:2])
    failed = run("watch", "--once", *folders)
    assert failed.exit_code == 1
    assert failed.stdout.splitlines() == [f"{site.base}/gone: failed: HTTP 404 Not Found"]
    assert f"Error: 1 of 3 sources failed: {site.base}/gone" in failed.stderr


# Python ignores Ctrl-C in a child that inherited SIGINT ignored (a test run started in the
# background by a shell does that): the child takes it back, as an interactive storybot has it.
CTRL_C_ABLE = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_watch_stops_cleanly_on_ctrl_c_or_sigterm_even_in_the_middle_of_a_fetch(
    site: Site, tmp_path: Path, stop: signal.Signals
) -> None:
    site.slow = 10.0
    site.page("/slow", PAGE.format(news=WITKOFF))
    stories = tmp_path / "stories"
    assert run("add", f"{site.base}/slow", "--stories", str(stories)).exit_code == 0
    args = ["watch", "--stories", str(stories), "--index", str(tmp_path / "var" / "index")]
    watcher = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_ABLE + "from bot.cli import main; main()", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        started = watcher.stderr.readline()  # printed once all is imported, before polling
        assert started.startswith("Watching 1 source (every 5m) into "), started
        deadline = time.monotonic() + 10
        while not site.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert site.requests, "the slow page is being fetched"
        watcher.send_signal(stop)
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()  # reaped, its pipes closed
    assert watcher.returncode == 0, err
    assert err.strip() == "Stopped watching.", err
    assert "Traceback" not in out + err
    assert (stories / ".watch.json").exists(), "what the poll knew was saved"


def test_watch_once_survives_a_redirect_and_a_feed_entry_with_an_impossible_port(
    site: Site, tmp_path: Path
) -> None:
    bad = "http://127.0.0.1:99999999/x"
    site.redirect("/bounce", bad)
    site.page(
        "/wire.xml",
        FEED.format(base=site.base).replace("https://other.example/story", bad),
        kind="application/rss+xml",
    )
    site.page("/london", PAGE.format(news="Talks resume in London next week."))
    site.page("/page", PAGE.format(news=WITKOFF))
    folders = ["--stories", str(tmp_path / "stories"), "--index", str(tmp_path / "var" / "index")]
    for args in (["/bounce"], ["/wire.xml", "--feed"], ["/page"]):
        assert run("add", site.base + args[0], *args[1:], *folders[:2]).exit_code == 0
    result = run("watch", "--once", *folders)
    assert result.exit_code == 1, result.output  # a source failed: said, not a crash
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{site.base}/bounce: failed: redirects to '{bad}': port 99999999 is out of range (1-65535)"
    )
    assert lines[1].startswith(f"{site.base}/wire.xml: 1 story updated ({bad}: ")
    assert lines[2] == f"{site.base}/page: 1 story updated"
    assert lines[3].startswith("Indexed 2 articles, ")
    assert f"Error: 1 of 3 sources failed: {site.base}/bounce" in result.stderr


def test_a_feed_on_another_host_listed_first_cannot_spoof_a_followed_page(
    site: Site, tmp_path: Path
) -> None:
    site.page("/page.html", PAGE.format(news=WITKOFF))
    page = f"{site.base}/page.html"
    spoof = site.base.replace("127.0.0.1", "localhost")  # another host, the same server
    fake = "Envoy Steve Witkoff will travel to Paris, not Moscow, this week."
    more = "The talks in London were cancelled altogether, officials in Kyiv said on Thursday."
    site.page(
        "/spoof.xml",
        FEED.format(base=spoof)
        .replace(f"{spoof}/london", page)
        .replace(
            "<pubDate>", f"<description>&lt;p&gt;{fake} {more}&lt;/p&gt;</description><pubDate>"
        ),
        kind="application/rss+xml",
    )
    folders = ["--stories", str(tmp_path / "stories"), "--index", str(tmp_path / "var" / "index")]
    assert run("add", f"{spoof}/spoof.xml", "--feed", *folders[:2]).exit_code == 0
    assert run("add", page, *folders[:2]).exit_code == 0
    first = run("watch", "--once", *folders)
    assert first.exit_code == 0, first.output
    assert f"{page}: {tmp_path}/stories/{story_name(page)} is the story of {page}" in first.stdout
    for _ in range(2):
        assert run("watch", "--once", *folders).exit_code == 0
    answer = json.loads(run("ask", "--json", *folders, "Where will Witkoff travel?").stdout)
    sentences = {c["sentence"] for c in answer["citations"]}
    assert WITKOFF in sentences and fake not in sentences
