"""Handler helpers that parse what a reader typed."""

from __future__ import annotations

import pytest

from bot.conversation import summary_args
from bot.telegram.handlers import strip_mention


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, None)),
        (["3"], (None, 3)),
        (["ceasefire"], ("ceasefire", None)),
        (["ceasefire", "talks", "3"], ("ceasefire talks", 3)),
        (["crimea", "50"], ("crimea", 10)),
        (["crimea", "0"], ("crimea", 1)),
        (["3", "ministers"], ("3 ministers", None)),
        (["crimea", "-2"], ("crimea -2", None)),
    ],
)
def test_summary_args_take_a_trailing_number_as_the_count(
    args: list[str], expected: tuple[str | None, int | None]
) -> None:
    assert summary_args(args) == expected


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("@storybot who is Witkoff?", "who is Witkoff?"),
        ("@StoryBot who is Witkoff?", "who is Witkoff?"),  # Telegram usernames ignore case
        ("who is Witkoff, @STORYBOT?", "who is Witkoff, ?"),
        ("@storybot_fans who is Witkoff?", "@storybot_fans who is Witkoff?"),  # another user
    ],
)
def test_strip_mention_removes_only_the_bots_mention(text: str, question: str) -> None:
    assert strip_mention(text, "storybot") == question
