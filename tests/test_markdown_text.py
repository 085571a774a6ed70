"""Markdown to the text its reader sees, through the real markdown-it-py."""

from __future__ import annotations

import pytest

from index.markdown_text import markdown_blocks
from index.plain_text import Block, tidy


def texts(source: str) -> list[str]:
    """Each block's text as the body will hold it (`compose` tidies the spacing)."""
    return [tidy(b.text) for b in markdown_blocks(source)]


@pytest.mark.parametrize(
    ("source", "seen"),
    [
        ("**Bold**, *italic*, ~~struck~~ and `code`.", "Bold, italic, struck and code."),
        ('See [the report](https://x.example/r "Title") today.', "See the report today."),
        ("Logo ![a chart](chart.png) here.", "Logo here."),
        ("Escaped \\*stars\\* and &amp; entities &copy;.", "Escaped *stars* and & entities ©."),
        ("The <b>council</b> voted 5 > 3.", "The council voted 5 > 3."),
        ("A line wrapped\nin the source.", "A line wrapped in the source."),
        ("Hard  \nbreak and<br>tag break.", "Hard\nbreak and\ntag break."),
        ("<https://example.com/a>", "https://example.com/a"),
    ],
)
def test_inline_markup_leaves_only_its_words(source: str, seen: str) -> None:
    assert texts(source) == [seen]


def test_headings_keep_their_level_and_lose_their_hashes() -> None:
    assert markdown_blocks("# Title\n\nText.\n\nSub\n---\n\n### Small *one*") == [
        Block("Title", 1),
        Block("Text."),
        Block("Sub", 2),
        Block("Small one", 3),
    ]


def test_a_list_is_one_item_a_line_nested_items_included() -> None:
    source = "- One **bold**\n- Two\n  1. Two point one\n  2. Two point two\n\n- Three\n"
    assert texts(source) == ["One bold\nTwo\nTwo point one\nTwo point two\nThree"]


def test_a_table_is_one_labelled_row_a_line() -> None:
    source = "| Party | *Votes* |\n|---|--:|\n| **Labour** | 180 |\n| Greens | |\n"
    assert texts(source) == ["Party: Labour; Votes: 180.\nParty: Greens."]


def test_quotes_code_and_html_blocks_show_their_text_only() -> None:
    source = (
        "> Quoted *words*.\n>\n> Second quoted paragraph.\n\n"
        "```python\nprint('x')\n```\n\n"
        '<div class="note">\n<p>Corrected on <em>March 15</em>.</p>\n'
        "<script>track()</script>\n</div>\n\n"
        "<!-- an editor's comment -->\n\n"
        "***\n"
    )
    assert texts(source) == [
        "Quoted words.",
        "Second quoted paragraph.",
        "print('x')",
        "Corrected on March 15.",
        "",
    ]


@pytest.mark.parametrize(
    "source",
    [
        'Before <script>alert("pwned")</script> after.',
        "Before <SCRIPT type='text/javascript'>var pwned = 1;</SCRIPT> after.",
        "Before <style>p { content: 'pwned' }</style> after.",
        "Before <script>\nvar pwned =\n1;</script> after.",
    ],
)
def test_an_inline_script_or_style_shows_no_text(source: str) -> None:
    [block] = markdown_blocks(source)
    assert "pwned" not in block.text and tidy(block.text) == "Before after."
