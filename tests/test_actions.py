"""The actions under an answer (bot/actions.py) over the real seed index: Context, Another
sentence, 👍/👎, and the notices for expired, rebuilt and foreign presses. Telegram's side is
tested end to end in test_buttons_e2e.py."""

from __future__ import annotations

import json
import re

import pytest

from bot.actions import (
    ALREADY,
    COUNTED,
    DATA_PATTERN,
    EXPIRED,
    FOREIGN,
    NONE_LEFT,
    REBUILT,
    RECORD_PREFIX,
    SLOTS,
    Actions,
    View,
    parse_data,
)
from bot.answer import QUOTING_KINDS
from bot.asked import SqliteAsked, asker_hash
from bot.engine import Engine
from bot.state import SqliteState
from bot.templates import to_plain
from telegram_html import validate_telegram_html

CHAT, GROUP, KEY = 5001, -1005001, 4242
ENVOY = "His envoy, Steve Witkoff, is expected to visit Russia"
# ¶14 of the seed story: the sentence before the envoy's, verbatim.
TRUMP = "Trump has said his country will abandon the peace efforts in the coming days unless"


@pytest.fixture
def actions(seed_engine: Engine) -> Actions:
    return Actions(seed_engine, SqliteState(":memory:"), SqliteAsked(":memory:", days=30))


def answer_envoy(actions: Actions, chat: int = CHAT, key: int = KEY, user: int = 1) -> View:
    answer = actions.engine.ask("Who is Steve Witkoff?")
    view = actions.answered(chat, key, "Who is Steve Witkoff?", answer, user)
    assert view is not None
    return view


def test_context_shows_the_sentence_in_bold_inside_its_paragraph_and_quote_goes_back(
    actions: Actions,
) -> None:
    view = answer_envoy(actions)
    assert (view.candidate, view.context, view.vote, view.voting) == (0, False, None, True)
    shown = actions.press(CHAT, KEY, "context", 0)
    assert shown.notice is None and shown.view == View(KEY, 0, True)
    assert shown.html is not None and validate_telegram_html(shown.html) is None
    body = actions.engine.store.articles["2025-04-23-london-talks.txt"].body
    paragraph = next(line for line in body.splitlines() if ENVOY in line)
    quoted = re.search(r"<b>(.*?)</b>", shown.html)
    assert quoted is not None and quoted[1].startswith(ENVOY)
    assert shown.html.startswith(f"<blockquote>{TRUMP}")
    inner = shown.html.split("</blockquote>")[0].removeprefix("<blockquote>")
    assert inner.replace("<b>", "").replace("</b>", "") == paragraph, "verbatim"
    back = actions.press(CHAT, KEY, "quote", 0, context=True)
    assert back.html == actions.engine.ask("Who is Steve Witkoff?").text
    assert back.view == View(KEY)
    labels = [label for row in back.view.buttons() for label, _ in row]
    assert labels == ["Context", "Another sentence", "👍", "👎"]


def test_another_quotes_the_next_candidates_then_says_none_is_left(actions: Actions) -> None:
    answer = actions.engine.ask("Where were the talks held?")
    view = actions.answered(CHAT, KEY, "Where were the talks held?", answer, 1)
    assert view is not None and len(answer.citations) == 3
    second = actions.press(CHAT, KEY, "another", 0)
    assert second.view == View(KEY, 1)
    assert second.html is not None and answer.citations[1].sentence in to_plain(second.html)
    assert "(2 of 3)" in second.html and validate_telegram_html(second.html) is None
    third = actions.press(CHAT, KEY, "another", 1)
    assert third.view == View(KEY, 2) and answer.citations[2].sentence in to_plain(third.html or "")
    last = actions.press(CHAT, KEY, "another", 2)
    assert (last.notice, last.html, last.view, last.drop) == (NONE_LEFT, None, None, False)
    from_context = actions.press(CHAT, KEY, "another", 0, context=True)
    assert from_context.view == View(KEY, 1), "Another from the paragraph quotes the next"


def test_a_vote_counts_once_per_sentence_and_the_other_thumb_changes_it(actions: Actions) -> None:
    answer_envoy(actions)
    up = actions.press(CHAT, KEY, "good", 0)
    assert (up.notice, up.html, up.view) == (COUNTED["good"], None, View(KEY, 0, False, "good"))
    assert [label for label, _ in up.view.buttons()[1]] == ["👍 ✓", "👎"]
    assert actions.press(CHAT, KEY, "good", 0).notice == ALREADY
    marks = actions.log.marks()
    assert [(m.candidate, m.vote) for m in marks] == [(0, "good")]
    assert marks[0].sentence.startswith(ENVOY) and marks[0].question == "Who is Steve Witkoff?"
    down = actions.press(CHAT, KEY, "bad", 0, context=True)
    assert down.view == View(KEY, 0, True, "bad"), "the paragraph stays shown"
    assert [(m.candidate, m.vote) for m in actions.log.marks()] == [(0, "bad")]
    other = actions.press(CHAT, KEY, "good", 1)
    assert other.notice == COUNTED["good"]
    assert sorted((m.candidate, m.vote) for m in actions.log.marks()) == [(0, "bad"), (1, "good")]
    shown = actions.press(CHAT, KEY, "another", 0)
    assert shown.view is not None and shown.view.vote == "good", "the vote on the one shown"


def test_expired_and_overwritten_buttons_get_a_notice_and_go(actions: Actions) -> None:
    answer_envoy(actions)
    later = actions.press(CHAT, KEY, "context", 0, now=1e12)
    assert (later.notice, later.drop, later.html) == (EXPIRED, True, None)
    answer_envoy(actions, key=KEY + SLOTS)  # the same slot of the ring, a later answer
    assert actions.press(CHAT, KEY, "context", 0).notice == EXPIRED
    assert actions.press(CHAT, KEY + SLOTS, "context", 0).notice is None
    assert actions.press(CHAT, KEY + SLOTS, "another", 7).notice == EXPIRED, "no such candidate"
    assert actions.press(CHAT + 1, KEY + SLOTS, "good", 0).notice == EXPIRED, "another chat"


def test_after_a_rebuild_context_and_another_are_refused_but_a_vote_counts(
    actions: Actions,
) -> None:
    answer_envoy(actions)
    slot = f"{RECORD_PREFIX}{KEY % SLOTS}"
    record = json.loads(actions.state.get(CHAT, slot) or "")
    actions.state.put(CHAT, slot, json.dumps({**record, "build": "20250101-000000.1"}))
    for verb in ("context", "another", "quote"):
        assert actions.press(CHAT, KEY, verb, 0).notice == REBUILT  # type: ignore[arg-type]
    assert actions.press(CHAT, KEY, "bad", 0).notice == COUNTED["bad"]


def test_in_a_group_only_the_asker_may_press(actions: Actions) -> None:
    answer_envoy(actions, chat=GROUP, user=71)
    foreign = actions.press(GROUP, KEY, "context", 0, user=72, private=False)
    assert (foreign.notice, foreign.html, foreign.drop) == (FOREIGN, None, False)
    assert actions.press(GROUP, KEY, "good", 0, user=72, private=False).notice == FOREIGN
    assert actions.log.marks() == []
    assert actions.press(GROUP, KEY, "context", 0, user=71, private=False).notice is None
    record = json.loads(actions.state.get(GROUP, f"{RECORD_PREFIX}{KEY % SLOTS}") or "")
    assert set(record) == {"key", "ask", "question", "build", "html", "citations", "owner", "at"}
    assert record["owner"] == asker_hash(actions.salt(), f"buttons:{GROUP}", 71), "hashed"
    # Sent as the group (an anonymous admin): anyone in it may press.
    actions.answered(GROUP, KEY + 1, "q", actions.engine.ask("Who is Steve Witkoff?"), None)
    assert actions.press(GROUP, KEY + 1, "context", 0, user=72, private=False).notice is None


def test_every_answer_is_logged_and_only_quoting_replies_get_buttons(actions: Actions) -> None:
    declined = actions.engine.ask("How do I bake sourdough bread?")
    assert declined.kind == "declined"
    assert actions.answered(CHAT, 1, "How do I bake sourdough bread?", declined, 9) is None
    summary = actions.engine.summary()
    assert actions.answered(CHAT, 2, "", summary, 9) is None
    answer_envoy(actions, key=3, user=9)
    envoy = actions.engine.ask("Who is Steve Witkoff?")
    assert envoy.kind in QUOTING_KINDS  # as the answer, or hedged: both quote
    asks = actions.log.asks()
    assert [(a.question, a.outcome) for a in asks] == [
        ("How do I bake sourdough bread?", "declined"),
        ("Who is Steve Witkoff?", envoy.kind),
    ]
    assert {a.story for a in asks} == {"2025-04-23-london-talks"}
    assert len({a.asker for a in asks}) == 1 and re.fullmatch(r"[0-9a-f]{16}", asks[0].asker)
    assert asks[0].asker != asker_hash(actions.salt(), "2025-04-23-london-talks", 10), "per user"


def test_with_nothing_kept_there_is_no_vote_and_no_log(seed_engine: Engine) -> None:
    actions = Actions(seed_engine, SqliteState(":memory:"), SqliteAsked(":memory:", days=0))
    view = answer_envoy(actions)
    assert not view.voting and len(view.buttons()) == 1
    assert actions.press(CHAT, KEY, "good", 0).notice == "Votes are not kept here " + (
        "(STORYBOT_QUESTION_RETENTION is 0)."
    )
    assert actions.log.asks() == [] and actions.log.marks() == []


@pytest.mark.parametrize("context", [False, True])
def test_button_data_is_short_and_reads_back(context: bool) -> None:
    view = View(2**31 - 1, 9, context, "good")
    for row in view.buttons():
        for _, data in row:
            assert len(data.encode()) <= 64 and re.fullmatch(DATA_PATTERN, data)
            verb, candidate, shown, key = parse_data(data) or ("", 0, False, 0)
            assert (candidate, shown, key) == (9, context, 2**31 - 1) and verb
    assert parse_data("zz:0:1") is None and parse_data("ctx:0:") is None
