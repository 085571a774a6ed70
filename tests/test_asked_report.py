"""What readers asked, reported and exported (bot/asked_report.py, `storybot asked`): unanswered
questions grouped by the real model's embeddings, the 👎 quotes, and the marked questions as an
evaluation set in ../shared/newsqa/questions.json's shape."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.asked import Ask, Mark, SqliteAsked
from bot.asked_report import (
    EXPORTED_BY,
    exported,
    parse_since,
    render_report,
    report,
    write_export,
)
from bot.cli import cli
from bot.engine import Engine
from bot.settings import BotSettings
from bot.templates import to_plain
from index.errors import ExportRefused
from index.store import Store
from index.stories import Catalog
from telegram_html import validate_telegram_html

STORY, FILE = "2025-04-23-london-talks", "2025-04-23-london-talks.txt"
VENUE = (
    "A spokesperson for U.K. Prime Minister Keir Starmer said that Foreign Secretary David Lammy "
    'held a "productive call" with Rubio the day prior, during which the U.S. official '
    '"confirmed that the U.S. was looking forward to substantive and positive technical '
    'meetings in London today."'
)
DOWNGRADED = (
    "The meeting was to be held at a ministerial level, but was downgraded after U.S. Secretary "
    "of State Marco Rubio canceled his participation."
)
CRIMEA = (
    "Rubio's move followed President Volodymyr Zelensky's ruling out the recognition of Russia's "
    "annexation of Crimea as part of a potential deal."
)
# Marked when an update of the story said so; the story now reads otherwise.
REWRITTEN = "His envoy, Steve Witkoff, will meet Vladimir Putin in St. Petersburg on Friday."
TIE = "Why was the meeting downgraded?"
# (question, outcome, asker): what a morning of readers might ask the seed story.
ASKED = [
    ("What's the weather in London today?", "related", "r1"),
    ("what is the weather like in london", "declined", "r2"),
    ("What's the weather in London today?", "related", "r2"),
    ("Is it raining in London?", "related", "r3"),
    ("How do I bake sourdough bread?", "declined", "r1"),
    ("sourdough bread recipe?", "declined", "r4"),
    ("Who won the football match last night?", "declined", "r5"),
    ("Where were the talks held?", "answer", "r6"),
    ("Where were the talks held?", "answer", "r7"),
]


def filled(log: SqliteAsked, now: float) -> SqliteAsked:
    for n, (question, outcome, asker) in enumerate(ASKED):
        log.add(Ask(f"a{n}", question, outcome, STORY, FILE, asker, now - 600 + n))
    # Both askers of "Where were the talks held?" marked the quote wrong, one of them the second
    # sentence right; someone else liked the downgrade sentence for "Why was it downgraded?".
    for n, candidate, vote, sentence in [
        (7, 0, "bad", VENUE),
        (8, 0, "bad", VENUE),
        (8, 1, "good", DOWNGRADED),
    ]:
        question = ASKED[n][0]
        log.mark(Mark(f"a{n}", candidate, vote, question, sentence, 11, STORY, FILE, now - 60))
    # One reader changed their mind (one vote); two readers disagree (a tie).
    log.mark(Mark("a9", 0, "bad", "Why?", CRIMEA, 4, STORY, FILE, now - 50))
    log.mark(Mark("a9", 0, "good", "Why?", CRIMEA, 4, STORY, FILE, now - 40))
    for n, vote in ((10, "bad"), (11, "good")):
        log.mark(Mark(f"a{n}", 0, vote, TIE, DOWNGRADED, 3, STORY, FILE, now - 30))
    return log


def outdated(log: SqliteAsked, now: float) -> SqliteAsked:
    """Marks a rebuild has overtaken: a sentence since rewritten, a story since removed."""
    when = "When will Witkoff meet Putin?"
    log.mark(Mark("a12", 0, "good", when, REWRITTEN, 14, STORY, FILE, now - 20))
    log.mark(Mark("a13", 0, "good", "Who?", "Gone.", 1, "gone", "gone.txt", now - 10))
    return log


@pytest.fixture
def log(tmp_path: Path) -> SqliteAsked:
    return filled(SqliteAsked(tmp_path / "state.db", 30), time.time())


def test_unanswered_questions_are_grouped_by_meaning_and_counted(
    log: SqliteAsked, seed_engine: Engine
) -> None:
    (found,) = report(log, seed_engine.encoder, seed_engine.catalog)
    assert (found.story, found.title, found.asked, found.askers) == (STORY, "London talks", 9, 7)
    assert found.outcomes == {"answer": 2, "related": 3, "declined": 4}
    assert found.votes == {"good": 3, "bad": 3}
    groups = [(g.question, g.asked, g.askers, g.wordings) for g in found.unanswered]
    assert groups == [
        (
            "What's the weather in London today?",
            3,
            2,
            ["what is the weather like in london"],
        ),
        ("How do I bake sourdough bread?", 2, 2, ["sourdough bread recipe?"]),
        ("Is it raining in London?", 1, 1, []),  # about the weather, but not the same question
        ("Who won the football match last night?", 1, 1, []),
    ]
    rejected = [(r.question, r.sentence, r.marks) for r in found.rejected]
    assert rejected == [("Where were the talks held?", VENUE, 2), (TIE, DOWNGRADED, 1)]


def test_a_hedged_question_whose_quote_a_reader_marked_right_is_not_unanswered(
    seed_engine: Engine,
) -> None:
    log, now = SqliteAsked(":memory:"), time.time()
    witkoff = "His envoy, Steve Witkoff, is expected to visit Russia."
    for n, asker in enumerate(("r1", "r2")):  # asked twice, hedged twice; one reader's 👍
        log.add(Ask(f"w{n}", "Who is Steve Witkoff?", "related", STORY, FILE, asker, now - 9 + n))
    log.add(Ask("x", "Is it raining in London?", "related", STORY, FILE, "r3", now - 5))
    log.mark(Mark("w0", 0, "good", "Who is Steve Witkoff?", witkoff, 14, STORY, FILE, now - 1))
    (found,) = report(log, seed_engine.encoder, seed_engine.catalog)
    assert [(g.question, g.asked) for g in found.unanswered] == [
        ("Who is Steve Witkoff?", 1),  # the other asker's hedge stands
        ("Is it raining in London?", 1),
    ]


def test_the_report_reads_as_a_message_and_as_text(log: SqliteAsked, seed_engine: Engine) -> None:
    html = render_report(report(log, seed_engine.encoder, seed_engine.catalog), 30)
    assert validate_telegram_html(html) is None
    text = to_plain(html)
    assert text.startswith("What readers asked about “London talks” (in the last 30 days)")
    assert "9 questions from 7 readers: 2 answered, 3 touched on, 4 not in the story." in text
    assert (
        "1. “What's the weather in London today?” — 3 times, 2 readers; also as “what is the "
        "weather like in london”" in text
    )
    assert f"• “Where were the talks held?” → “{VENUE}” (¶11) — 2 times" in text
    empty = report(SqliteAsked(":memory:"), seed_engine.encoder, seed_engine.catalog)
    assert to_plain(render_report(empty, 7)) == "Nothing asked in the last 7 days."
    assert "is 0" in render_report([], 0)


def test_the_export_is_an_evaluation_set_of_the_marked_questions(
    log: SqliteAsked, seed_engine: Engine, tmp_path: Path
) -> None:
    data = exported(outdated(log, time.time()), *served(seed_engine), Path("stories"))
    assert data["exported_by"] == EXPORTED_BY
    assert data["stories_dir"] == str(Path("stories").resolve())
    assert data["stories"] == [{"file": FILE, "title": "London talks"}]
    assert data["questions"] == [
        {
            "story": FILE,
            "q": "Where were the talks held?",
            "kind": "answerable",
            "gold": [DOWNGRADED],
            "rejected": [VENUE],
        },
        {"story": FILE, "q": "Why?", "kind": "answerable", "gold": [CRIMEA]},
        {"story": FILE, "q": TIE, "kind": "unlabelled", "gold": []},
        {
            "story": FILE,
            "q": "When will Witkoff meet Putin?",
            "kind": "unlabelled",
            "gold": [],
            "outdated": [REWRITTEN],
        },
        {"story": "gone.txt", "q": "Who?", "kind": "unlabelled", "gold": [], "outdated": ["Gone."]},
    ]
    later = exported(log, *served(seed_engine), Path("x"), since=time.time())
    assert later["questions"] == [] and later["stories"] == []


def served(engine: Engine) -> tuple[Store, Catalog]:
    return engine.store, engine.catalog


def test_an_export_replaces_only_an_earlier_export(tmp_path: Path) -> None:
    path = tmp_path / "out" / "asked.json"
    write_export(path, {"exported_by": EXPORTED_BY, "questions": [1]})
    write_export(path, {"exported_by": EXPORTED_BY, "questions": [2]})
    assert json.loads(path.read_text())["questions"] == [2]
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    with pytest.raises(ExportRefused, match="not an earlier export"):
        write_export(notes, {"exported_by": EXPORTED_BY})
    assert notes.read_text() == '{"mine": true}'
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["asked.json", "notes.json", "out"]


def test_since_reads_durations_and_dates() -> None:
    assert parse_since("90m", 10_000.0) == 10_000.0 - 5400
    assert parse_since("1d", 100_000.0) == 100_000.0 - 86400
    assert parse_since("2w", 2e6) == 2e6 - 14 * 86400
    assert parse_since("2026-05-01", 0) == 1777593600.0
    with pytest.raises(ValueError):
        parse_since("yesterday", 0)


def test_storybot_asked_prints_json_and_exports(
    seed_settings: BotSettings, seed_engine: Engine, seed_args: list[str], tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    filled(SqliteAsked(state, 30), time.time()).close()
    runner = CliRunner(env={"STORYBOT_STATE": str(state), "STORYBOT_REDIS_URL": None})
    result = runner.invoke(cli, ["asked", *seed_args, "--json", "--since", "1d"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["retention_days"] == 30 and data["since"].endswith("+00:00")
    (story,) = data["stories"]
    assert story["story"] == STORY and story["asked"] == 9
    assert story["unanswered"][0] == {
        "question": "What's the weather in London today?",
        "asked": 3,
        "askers": 2,
        "wordings": ["what is the weather like in london"],
    }
    text = runner.invoke(cli, ["asked", *seed_args, "--story", "1"])
    assert text.exit_code == 0 and "3 times, 2 readers" in text.stdout
    out = tmp_path / "eval.json"
    exported_run = runner.invoke(cli, ["asked", *seed_args, "--export", str(out)])
    assert exported_run.exit_code == 0, exported_run.output
    assert "Wrote 3 marked questions" in exported_run.stdout and "2 answerable, 1 to label" in (
        exported_run.stdout
    )
    assert json.loads(out.read_text())["stories_dir"] == str(seed_settings.stories.resolve())
    bad = runner.invoke(cli, ["asked", *seed_args, "--since", "yesterday"])
    assert bad.exit_code == 2 and "no duration" in bad.output
    refused = runner.invoke(cli, ["asked", *seed_args, "--export", str(state)])
    assert refused.exit_code == 1 and "not an earlier export" in refused.output
    assert "Traceback" not in refused.output


def test_the_export_round_trips_into_storybot_eval(
    seed_args: list[str], seed_engine: Engine, tmp_path: Path
) -> None:
    envoy = next(s.text for s in seed_engine.store.sentences if s.text.startswith("His envoy"))
    state, now = tmp_path / "state.db", time.time()
    log = SqliteAsked(state, 30)
    for n, (question, vote, sentence) in enumerate(
        [
            ("Who is Steve Witkoff?", "good", envoy),
            ("Where were the talks held?", "bad", DOWNGRADED),
            ("Where were the talks held?", "good", VENUE),
            ("Did Putin agree to a ceasefire?", "bad", CRIMEA),
        ]
    ):
        log.mark(Mark(f"a{n}", 0, vote, question, sentence, 1, STORY, FILE, now - 60 + n))
    log.close()
    runner = CliRunner(env={"STORYBOT_STATE": str(state), "STORYBOT_REDIS_URL": None})
    out = tmp_path / "readers" / "readers.json"  # a set is named by its file or its folder
    exported_run = runner.invoke(cli, ["asked", *seed_args, "--export", str(out)])
    assert "2 answerable, 1 to label" in exported_run.output, exported_run.output
    result = runner.invoke(cli, ["eval", "--set", str(out), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| readers")]
    assert rows and "| 2/0 |" in rows[0], result.output  # the one to label is left out
