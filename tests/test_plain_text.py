"""Plain text: table rows as sentences, blocks as paragraphs, a leading heading as the title."""

from __future__ import annotations

import pytest

from index.plain_text import Block, compose, table_row


@pytest.mark.parametrize(
    ("header", "cells", "row"),
    [
        (["Party", "Votes"], ["Labour", "180"], "Party: Labour; Votes: 180."),
        (["Party", "Votes"], ["Greens", ""], "Party: Greens."),
        ([], ["Bath", "4.6 m"], "Bath; 4.6 m."),
        (["", "Note"], ["Keynsham", "Rising fast!"], "Keynsham; Note: Rising fast!"),
        (["Name", "Name"], ["Name", "Reed"], "Name; Name: Reed."),
        (["A"], ["  spread\n over  lines ", "extra"], "A: spread over lines; extra."),
        (["A"], ["", ""], ""),
    ],
)
def test_a_table_row_reads_as_a_sentence(header: list[str], cells: list[str], row: str) -> None:
    assert table_row(header, cells) == row


def test_blocks_are_paragraphs_with_tidy_lines() -> None:
    blocks = [Block("  One  two \n\n three "), Block(" \n "), Block("Four")]
    assert compose(blocks, "Title") == ("Title", "One two\nthree\n\nFour")


@pytest.mark.parametrize(
    ("given", "title", "body"),
    [
        (None, "Council votes", "Text."),
        ("council votes", "council votes", "Text."),
        ("Another title", "Another title", "Council votes\n\nText."),
    ],
)
def test_a_leading_top_heading_is_the_title(given: str | None, title: str, body: str) -> None:
    assert compose([Block("Council  votes", 1), Block("Text.")], given) == (title, body)


def test_a_lower_or_later_heading_stays_in_the_body() -> None:
    blocks = [Block("Section", 2), Block("Text."), Block("Late", 1)]
    assert compose(blocks, None) == (None, "Section\n\nText.\n\nLate")
