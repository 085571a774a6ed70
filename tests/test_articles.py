"""Loading stories: one reader per format, front matter, encodings, and bad files reported by
name while the rest load."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.articles import load_articles, parse_article, title_from_name
from index.errors import BadArticle
from index.splitter import split_article
from support import DATA, HUGE_STORY_BYTES, write_bad_stories

FORMATS = DATA / "formats"
BUDGET = "2026-03-14-budget.md"
FLOOD = "flood-warning.html"
STRIKE = "2026-02-02-harbour-strike.txt"
MARKUP = ("**", "*2026", "`", "](", "[Maria", "|", "<", "#")


@pytest.fixture
def newsroom(tmp_path: Path) -> Path:
    """A stories folder of one Markdown, one HTML and one Windows-1252 .txt story."""
    folder = tmp_path / "newsroom"
    shutil.copytree(FORMATS, folder)
    return folder


@pytest.mark.parametrize(
    ("name", "title"),
    [("2025-04-23-london-talks.txt", "London talks"), ("ceasefire_deal.md", "Ceasefire deal")],
)
def test_title_comes_from_the_file_name(name: str, title: str) -> None:
    assert title_from_name(name) == title


def test_every_format_loads_with_its_metadata(newsroom: Path) -> None:
    articles, problems = load_articles(newsroom)
    assert problems == []
    by_id = {a.id: a for a in articles}
    assert set(by_id) == {BUDGET, FLOOD, STRIKE}
    budget, flood, strike = by_id[BUDGET], by_id[FLOOD], by_id[STRIKE]
    assert (budget.title, budget.url, budget.published, budget.updated) == (
        "Parliament passes the 2026 budget",
        "https://ledger.example.com/politics/2026-budget",
        "2026-03-14",
        "2026-03-15",
    )
    assert (flood.title, flood.url, flood.published, flood.updated) == (
        "River Avon bursts its banks as hundreds evacuated",
        "https://courier.example.co.uk/news/2026/02/avon-flood-evacuation",
        "2026-02-09",
        "2026-02-10",
    )
    assert (strike.title, strike.url, strike.published) == (
        "Harbour workers walk out over pay",
        "https://ledger.example.com/business/harbour-strike",
        "2026-02-02",
    )


def test_a_txt_story_reads_front_matter_and_quotes_only_its_body(stories_dir: Path) -> None:
    (stories_dir / "wire.txt").write_text(
        "---\ntitle: Wire copy\nurl: https://example.com/wire\npublished: 2026-01-05\n---\n"
        "The first line of the story.\nThe second line.\n"
    )
    articles, _ = load_articles(stories_dir)
    wire = next(a for a in articles if a.id == "wire.txt")
    assert (wire.title, wire.url, wire.published) == (
        "Wire copy",
        "https://example.com/wire",
        "2026-01-05",
    )
    assert wire.body == "The first line of the story.\nThe second line.\n"
    assert [s.text for s in split_article(wire)] == [
        "The first line of the story.",
        "The second line.",
    ]


def test_a_story_that_only_starts_with_a_rule_keeps_it_as_text() -> None:
    article = parse_article("rule.txt", b"---\nThe story begins here.\n")
    assert article.body == "---\nThe story begins here.\n"
    assert article.title == "Rule"


def test_markdown_is_quoted_as_its_reader_sees_it(newsroom: Path) -> None:
    budget = parse_article(BUDGET, (newsroom / BUDGET).read_bytes())
    texts = [s.text for s in split_article(budget)]
    assert texts[:2] == [
        "Parliament passed the 2026 budget on Friday by 320 votes to 250, after a debate that "
        "ran late into the night.",
        "The finance minister, Maria Lopez, said the plan would cut the deficit by a third "
        "within two years.",
    ]
    assert "Diesel rises by 3 cents a litre" in texts
    assert "Party: Green Party; For: 12; Against: 0." in texts
    assert '"This is a budget for the few, not the many," said opposition leader Tom Reed.' in texts
    assert "Parliament passes the 2026 budget" not in texts, "the leading heading is the title"
    for text in texts:
        assert not any(mark in text for mark in MARKUP), text
    for s in split_article(budget):
        assert budget.body[s.start : s.end] == s.text


def test_a_markdown_heading_is_the_title_only_when_front_matter_has_none() -> None:
    raw = b"---\ntitle: Given title\n---\n# A heading\n\nBody text here.\n"
    article = parse_article("a.markdown", raw)
    assert article.title == "Given title"
    assert article.body == "A heading\n\nBody text here."


def test_an_html_page_is_its_main_text_without_the_site_around_it(newsroom: Path) -> None:
    flood = parse_article(FLOOD, (newsroom / FLOOD).read_bytes())
    texts = [s.text for s in split_article(flood)]
    assert texts[0] == (
        "Emergency services evacuated 400 homes in Bath overnight after the River Avon burst its "
        "banks following three days of heavy rain."
    )
    assert "The Pavilion, North Parade Road, open all night" in texts
    assert "Gauge: Keynsham; Level: 3.9 m." in texts
    for boilerplate in (
        "cookies",
        "Subscribe",
        "Most read",
        "Rovers",
        "rights reserved",
        "Sam Patel",
    ):
        assert boilerplate not in flood.body, boilerplate
    assert "Terrible news" not in flood.body, "reader comments are not the story"
    for s in split_article(flood):
        assert flood.body[s.start : s.end] == s.text


def test_a_windows_1252_file_is_read_with_a_warning_naming_it(
    newsroom: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="index.articles")
    articles, problems = load_articles(newsroom)
    strike = next(a for a in articles if a.id == STRIKE)
    assert "“We have been patient for two years,” said union steward Renée O’Brien." in strike.body
    assert "a 4% rise – the union wants 9% — and called the strike ‘regrettable’" in strike.body
    assert "Thursday… if" in strike.body
    assert problems == []
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{STRIKE}: not UTF-8; read as Windows-1252")


@pytest.mark.parametrize(
    "raw",
    [
        "Новости дня: совет проголосовал за бюджет.".encode("koi8_r"),
        "Καλημέρα, η βουλή ψήφισε.".encode("iso-8859-7"),
        b"Caf\xe9 news \x81 with a byte Windows-1252 lacks.",
    ],
    ids=["koi8-r", "greek", "undefined-byte"],
)
def test_text_in_another_encoding_is_refused_by_name_and_the_rest_load(
    newsroom: Path, raw: bytes
) -> None:
    (newsroom / "foreign.txt").write_bytes(raw)
    articles, problems = load_articles(newsroom)
    assert sorted(a.id for a in articles) == sorted([BUDGET, FLOOD, STRIKE])
    assert [p.path for p in problems] == ["foreign.txt"]
    assert problems[0].reason.startswith("not UTF-8 text (bad byte at position")


def test_a_utf8_bom_is_not_part_of_the_body() -> None:
    article = parse_article("bom.md", "\ufeff---\ntitle: Bom\n---\nCafé news.\n".encode("utf-8"))
    assert (article.title, article.body) == ("Bom", "Café news.")


def test_bad_files_are_reported_by_name_and_the_rest_load(stories_dir: Path) -> None:
    (stories_dir / "empty.txt").write_text("   \n")
    (stories_dir / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (stories_dir / "broken.md").write_text("---\ntitle: ok\nurl: [unclosed\n---\nBody text.\n")
    (stories_dir / "nav-only.html").write_text("<html><body><nav></nav></body></html>")
    (stories_dir / "notes.csv").write_text("ignored, not a story")
    (stories_dir / "README").write_text("not a story either")
    (stories_dir / ".draft.docx").write_text("hidden, ignored")
    articles, problems = load_articles(stories_dir)
    assert [a.id for a in articles] == ["2025-04-23-london-talks.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {"empty.txt", "binary.txt", "broken.md", "nav-only.html"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert reasons["broken.md"].startswith("line 3: malformed front matter: ")
    assert "no body text" in reasons["nav-only.html"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: ok\n\nurl: ftp://x\n---\nBody.\n", "line 4: url must start with http"),
        ("---\ntitle: ok\nno closing line\n", "line 1: front matter is never closed"),
        ("---\ntitle: ok\n  indented: x\n---\nBody.\n", "line 3: malformed front matter"),
        ("---\ntitle: ok\n---\n\n  \n", "has no body text"),
    ],
)
def test_front_matter_errors_name_the_line(stories_dir: Path, text: str, reason: str) -> None:
    (stories_dir / "odd.txt").write_text(text)
    _, problems = load_articles(stories_dir)
    assert [p.path for p in problems] == ["odd.txt"]
    assert problems[0].reason.startswith(reason), problems[0].reason


def test_oversized_file_is_skipped(stories_dir: Path) -> None:
    (stories_dir / "huge.txt").write_text("word " * 2000)
    articles, problems = load_articles(stories_dir, max_bytes=5000)
    assert [p.path for p in problems] == ["huge.txt"]
    assert len(articles) == 1


def test_every_kind_of_bad_file_is_reported_without_reading_the_huge_one(
    stories_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = write_bad_stories(stories_dir)
    read: list[str] = []
    real_read_bytes = Path.read_bytes

    def recording_read_bytes(path: Path) -> bytes:
        read.append(path.name)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", recording_read_bytes)
    articles, problems = load_articles(stories_dir)
    assert [a.id for a in articles] == ["2025-04-23-london-talks.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    assert (stories_dir / "huge.txt").stat().st_size == HUGE_STORY_BYTES
    # Sizes in MiB, as the limit is set (20 MiB is 21.0 MB, which once read "the limit is 21 MB").
    assert f"({HUGE_STORY_BYTES / 2**20:.1f} MiB; the limit is 20.0 MiB)" in reasons["huge.txt"]
    assert "huge.txt" not in read, "a file too large to index is rejected by its size alone"
    assert "story.docx" not in read, "a format storybot cannot read is rejected by its name"


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("title: [a, list]", "line 2: front matter field 'title' must be text"),
        (
            "published: 2026-01-01\nurl: {a: mapping}",
            "line 3: front matter field 'url' must be text",
        ),
        (f"title: {'x' * 501}", "line 2: front matter field 'title' is over 500 characters"),
    ],
)
def test_front_matter_fields_must_be_short_text(
    stories_dir: Path, front_matter: str, reason: str
) -> None:
    (stories_dir / "odd.md").write_text(f"---\n{front_matter}\n---\nBody text.\n")
    _, problems = load_articles(stories_dir)
    assert [p.path for p in problems] == ["odd.md"]
    assert problems[0].reason.startswith(reason), problems[0].reason


def test_the_hash_follows_what_is_read_not_the_bytes() -> None:
    plain = parse_article("a.md", b"Parliament passed the budget.\n")
    bold = parse_article("a.md", b"**Parliament** passed the budget.\n")
    retitled = parse_article("a.md", b"---\ntitle: New\n---\nParliament passed the budget.\n")
    assert plain.body == bold.body
    assert plain.content_hash == bold.content_hash, "no rebuild for markup the reader never sees"
    assert retitled.content_hash != plain.content_hash


def test_cli_indexes_markdown_and_html_and_quotes_them_without_markup(
    newsroom: Path, tmp_path: Path
) -> None:
    folders = ["--stories", str(newsroom), "--index", str(tmp_path / "idx")]
    built = CliRunner().invoke(cli, ["index", *folders], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    assert "skipped" not in built.output
    questions = {
        "Who is the finance minister?": (BUDGET, "Maria Lopez"),
        "How many homes were evacuated in Bath?": (FLOOD, "400 homes"),
        "Which party is led by Tom Reed?": (BUDGET, "Tom Reed"),
    }
    asked = CliRunner().invoke(cli, ["ask", "--json", *folders, *questions], catch_exceptions=False)
    assert asked.exit_code == 0, asked.output
    answers = [json.loads(line) for line in asked.output.splitlines() if line.startswith("{")]
    assert len(answers) == len(questions)
    for (question, (story, words)), answer in zip(questions.items(), answers, strict=True):
        first = answer["citations"][0]
        assert (first["article"], words in first["sentence"]) == (story, True), (question, first)
        assert not any(mark in first["sentence"] for mark in MARKUP), first["sentence"]
        body = parse_article(story, (newsroom / story).read_bytes()).body
        assert body[first["start"] : first["end"]] == first["sentence"]
    for story in (BUDGET, FLOOD):  # `storybot show` prints the text those offsets index
        shown = CliRunner().invoke(cli, ["show", "--json", *folders, story])
        text = json.loads(shown.output)["text"]
        assert text == parse_article(story, (newsroom / story).read_bytes()).body
        assert not any(mark in text for mark in MARKUP), text
    plain = CliRunner().invoke(cli, ["ask", *folders, "Who is the finance minister?"])
    assert plain.exit_code == 0, plain.output
    assert "The finance minister, Maria Lopez, said the plan would cut the deficit" in plain.output
    assert "Parliament passes the 2026 budget" in plain.output, "cited by its heading's title"


def test_links_out_of_the_stories_folder_or_to_nothing_are_refused_by_name(
    stories_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nA secret line nobody should quote.\n")
    (stories_dir / "x.txt").symlink_to(secret)
    (stories_dir / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (stories_dir / "same.txt").symlink_to(stories_dir / "2025-04-23-london-talks.txt")
    articles, problems = load_articles(stories_dir)
    assert sorted(a.id for a in articles) == ["2025-04-23-london-talks.txt", "same.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert reasons == {
        "x.txt": f"is a link to {secret}, outside the stories folder; storybot reads only "
        "files inside it (copy the story in instead)",
        "gone.txt": f"is a link to {tmp_path / 'nowhere.txt'}, which does not exist",
    }


def test_a_nul_byte_anywhere_makes_a_file_binary() -> None:
    raw = b"A story of plain text.\n" * 500 + b"Then a NUL\x00 byte past the first 8 KB.\n"
    assert len(raw) > 8192
    with pytest.raises(BadArticle, match="looks like a binary file, not text"):
        parse_article("late-nul.txt", raw)


def test_a_file_name_with_a_line_break_is_refused_on_one_line(stories_dir: Path) -> None:
    (stories_dir / "two\nlines.txt").write_text("A story whose name breaks lines.\n")
    articles, problems = load_articles(stories_dir)
    assert [a.id for a in articles] == ["2025-04-23-london-talks.txt"]
    [problem] = problems
    assert problem.path == "two\\nlines.txt" and "\n" not in problem.reason
    assert "line break or another control character" in problem.reason
