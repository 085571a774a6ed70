"""Answer types: one of the signals P(right) may use (index/answer_type.py)."""

from __future__ import annotations

import pytest

from index.answer_type import asks_for, match


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How old is Rubio?", "number"),
        ("how many people died in the war", "number"),
        ("When did the talks begin?", "time"),
        ("what year was it signed", "time"),
        ("Who is Steve Witkoff?", "name"),
        ("Where were the talks held?", "name"),
        ("Why did Rubio cancel?", None),
    ],
)
def test_the_question_says_what_type_it_asks_for(question: str, kind: str | None) -> None:
    assert asks_for(question) == kind


def test_a_sentence_matches_when_it_holds_the_type_asked_for() -> None:
    assert match("How old is Rubio?", "Rubio, 53, left on Tuesday.") == 1.0
    assert match("How old is Rubio?", "Rubio left before the talks.") == 0.0
    assert match("When did the talks begin?", "They began on 23 April.") == 1.0
    assert match("When did the talks begin?", "They began without Rubio.") == 0.0
    # A capital that only opens the sentence is no name.
    assert match("Who chaired the meeting?", "Officials chaired it in turn.") == 0.0
    assert match("Who chaired the meeting?", "It was chaired by David Lammy.") == 1.0
    assert match("Why did Rubio cancel?", "Anything at all.") == 0.5
