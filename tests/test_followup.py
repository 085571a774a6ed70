"""Follow-ups: replies that lean on the earlier question are searched with it, and remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine
from bot.followup import (
    SLOTS,
    Earlier,
    asks_again,
    follow_up,
    leans_on_context,
    recall,
    remember,
    with_context,
)
from bot.state import SqliteState

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("Who is he?", True),
        ("When?", True),
        ("And Rubio?", True),
        ("Why did they cancel it?", True),
        ("What's that about?", True),
        ("Which ministers were in the Ukrainian delegation?", False),
        ("What did Svyrydenko say?", False),
        ("Where were the London talks held?", False),
    ],
)
def test_pronouns_and_short_replies_lean_on_the_earlier_question(
    question: str, leans: bool
) -> None:
    assert leans_on_context(question) is leans


@pytest.mark.parametrize(
    ("earlier", "question", "again"),
    [
        ("Who is the US envoy?", "Who is he?", True),
        ("Who is the US envoy?", "who's he", True),
        ("Who is the US envoy?", "Who is his boss?", False),
        ("What did Trump threaten?", "When?", False),
        ("What did Svyrydenko say?", "What is her job?", False),
        ("Who is in the Ukrainian delegation?", "Who are they meeting?", False),
        ("Why did Rubio cancel?", "Why?", True),
    ],
)
def test_asking_again_means_same_question_word_and_nothing_new(
    earlier: str, question: str, again: bool
) -> None:
    assert asks_again(earlier, question) is again


def test_context_is_capped_at_the_oldest_end() -> None:
    earlier = "word " * 200 + "Who is the US envoy?"
    text = with_context(earlier, "Who is he?")
    assert text.endswith("Who is the US envoy? Who is he?")
    assert len(text) <= 300 + len(" Who is he?")
    assert not text.startswith(" ")


def test_follow_up_passes_over_the_quoted_sentence_only_when_asked_again() -> None:
    earlier = Earlier("Who is the US envoy?", "abc123")
    assert follow_up(earlier, "Who is he?") == ("Who is the US envoy? Who is he?", "abc123")
    assert follow_up(earlier, "Where is he going?") == (
        "Who is the US envoy? Where is he going?",
        None,
    )
    assert follow_up(None, "Who is he?") == ("Who is he?", None)


def test_remembered_questions_survive_a_restart_and_the_ring_stays_bounded(
    tmp_path: Path,
) -> None:
    state = SqliteState(tmp_path / "state.db")
    remember(state, -100, 7, Earlier("Who is the US envoy?", "k1"))
    remember(state, -100, 8, Earlier("Why did Rubio cancel?"))
    state.close()
    state = SqliteState(tmp_path / "state.db")
    assert recall(state, -100, 7) == Earlier("Who is the US envoy?", "k1")
    assert recall(state, -100, 8) == Earlier("Why did Rubio cancel?", None)
    assert recall(state, -200, 7) is None
    remember(state, -100, 7 + SLOTS, Earlier("A later question"))
    assert recall(state, -100, 7) is None, "the slot now belongs to a later message"
    assert recall(state, -100, 7 + SLOTS) == Earlier("A later question")
    state.put(-100, f"question:{9 % SLOTS}", "not json")
    assert recall(state, -100, 9) is None
    state.close()


def test_who_is_he_after_the_envoy_question_cites_witkoff(seed_engine: Engine) -> None:
    first = seed_engine.ask("Who is the US envoy?")
    quoted = first.citations[0].sentence
    key = next(s.key for s in seed_engine.store.sentences if s.text == quoted)
    text, avoid = follow_up(Earlier(first.question, key), "Who is he?")
    answer = seed_engine.ask(text, avoid)
    assert answer.quotes
    assert answer.citations[0].sentence.startswith(WITKOFF)
    alone = seed_engine.ask("Who is he?")
    assert not (alone.answered and alone.citations[0].sentence.startswith(WITKOFF))


def test_a_sentence_that_clearly_answers_is_quoted_again(seed_engine: Engine) -> None:
    first = seed_engine.ask("Who is Steve Witkoff?")
    key = next(s.key for s in seed_engine.store.sentences if s.text.startswith(WITKOFF))
    assert first.citations[0].sentence.startswith(WITKOFF)
    text, avoid = follow_up(Earlier(first.question, key), "Who is he?")
    assert avoid == key
    assert seed_engine.ask(text, avoid).citations[0].sentence.startswith(WITKOFF)
