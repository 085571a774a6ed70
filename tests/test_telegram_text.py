"""Tests for bot.telegram.telegram_text: UTF-16 length and HTML-safe message splitting."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram.telegram_text import (
    TELEGRAM_MESSAGE_LIMIT,
    _split,
    _tokenize,
    split_message,
    utf16_len,
)

# A part made only of whole tags, whole entities and characters that need no escaping.
_WHOLE_MARKUP = re.compile(r"(?:[^<>&]|<[^<>]*>|&(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z]+);)*")


class _TextAndBalance(HTMLParser):
    """Collects the text content of a fragment and checks that its tags nest and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(part: str) -> tuple[str, bool]:
    """(text content, whether the tags are balanced) of one part."""
    parser = _TextAndBalance()
    parser.feed(part)
    parser.close()
    return "".join(parser.text), parser.balanced and not parser.open


def without_whitespace(text: str) -> str:
    return "".join(text.split())


def assert_valid_parts(parts: list[str], limit: int) -> None:
    for part in parts:
        assert part
        assert part == part.strip()
        assert utf16_len(part) <= limit, part
        assert _WHOLE_MARKUP.fullmatch(part), part
        text, balanced = parse(part)
        assert balanced, part
        assert text.strip(), part


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        ("é", 1),
        ("中文", 2),
        ("😀", 2),
        ("a😀b", 4),
        ("👍🏽", 4),
        ("&amp;", 5),
    ],
)
def test_utf16_len_counts_astral_characters_as_two_units(text: str, expected: int) -> None:
    assert utf16_len(text) == expected


@pytest.mark.parametrize("blank", ["", "   ", "\n\n", "<b></b>", "<b> \n </b>"])
def test_input_without_visible_text_gives_no_parts(blank: str) -> None:
    assert split_message(blank) == []


def test_message_that_fits_is_one_stripped_part() -> None:
    assert split_message("  <b>Hi</b> there &amp; bye \n") == ["<b>Hi</b> there &amp; bye"]


def test_astral_characters_count_two_units_towards_the_limit() -> None:
    parts = split_message("😀" * 3000)

    assert parts == ["😀" * 2048, "😀" * 952]


def test_cut_inside_a_word_prefers_grapheme_cluster_boundaries() -> None:
    thumbs = "👍🏽" * 10  # each is a thumb plus a skin-tone modifier: 4 UTF-16 units

    assert split_message(thumbs, limit=10) == ["👍🏽👍🏽"] * 5


def test_long_message_splits_between_sentences_within_the_limit() -> None:
    sentences = [
        f"Sentence number {number} says the council met again today." for number in range(200)
    ]
    message = " ".join(sentences)
    assert len(message) > 10_000

    parts = split_message(message)

    assert len(parts) == 3
    assert_valid_parts(parts, TELEGRAM_MESSAGE_LIMIT)
    assert all(part.startswith("Sentence number ") for part in parts)
    assert all(part.endswith(" today.") for part in parts)
    assert " ".join(parts) == message


@pytest.mark.parametrize(
    ("message", "limit", "first_part"),
    [
        ("Alpha beta.\n\nGamma delta. Epsilon zeta\neta theta", 38, "Alpha beta."),
        ("Alpha beta\nGamma delta. Epsilon zeta eta theta", 30, "Alpha beta"),
        ("Alpha beta. Gamma delta epsilon zeta eta theta", 30, "Alpha beta."),
        ("Approx. alpha beta gamma delta epsilon", 30, "Approx. alpha beta gamma delta"),
        ("Alpha beta gamma delta epsilonzetaetatheta", 30, "Alpha beta gamma delta"),
        ("Alphabetagammadeltaepsilon", 10, "Alphabetag"),
    ],
    ids=[
        "paragraph-over-line-and-sentence",
        "line-over-sentence",
        "sentence-over-word",
        "lowercase-after-period-is-not-a-sentence-end",
        "word-over-inside-a-word",
        "inside-a-word-as-last-resort",
    ],
)
def test_split_prefers_the_strongest_break_that_fits(
    message: str, limit: int, first_part: str
) -> None:
    parts = split_message(message, limit=limit)

    assert parts[0] == first_part
    assert_valid_parts(parts, limit)


def test_whitespace_at_a_cut_is_dropped_inside_tags_too() -> None:
    assert split_message("<b>one two</b>", limit=12) == ["<b>one</b>", "<b>two</b>"]


def test_blockquote_spanning_a_cut_is_closed_and_reopened() -> None:
    message = "<blockquote>" + "A quoted sentence sits here. " * 20 + "</blockquote> After it."

    parts = split_message(message, limit=120)

    assert len(parts) > 2
    assert_valid_parts(parts, 120)
    assert all(part.startswith("<blockquote>") for part in parts)
    assert all(part.endswith("</blockquote>") for part in parts[:-1])


def test_link_spanning_a_cut_is_reopened_with_the_same_attributes() -> None:
    opening = '<a href="https://example.com/story?id=1&amp;ref=bot">'
    message = "Read " + opening + "the whole story about the bridge and the vote</a> now."

    parts = split_message(message, limit=80)

    assert len(parts) > 1
    assert_valid_parts(parts, 80)
    assert parts[0].startswith("Read " + opening)
    assert all(part.startswith(opening) for part in parts[1:])


def test_nested_tags_are_closed_innermost_first_and_reopened_outermost_first() -> None:
    message = "<b><i>" + "word " * 30 + "</i></b>"

    parts = split_message(message, limit=40)

    assert len(parts) > 1
    assert_valid_parts(parts, 40)
    assert all(part.startswith("<b><i>") and part.endswith("</i></b>") for part in parts)


@pytest.mark.parametrize("limit", range(33, 90))
def test_cut_never_lands_inside_a_tag_or_an_entity(limit: int) -> None:
    link = '<a href="https://ex.com/p">'
    message = "x" * 30 + link + "link</a>" + "&amp;" * 8 + "y" * 30 + "&lt;&gt;" * 4

    parts = split_message(message, limit=limit)

    assert_valid_parts(parts, limit)
    for part in parts:
        assert "href" not in part or link in part
    joined = "".join(parse(part)[0] for part in parts)
    assert joined == "x" * 30 + "link" + "&" * 8 + "y" * 30 + "<>" * 4


@pytest.mark.parametrize("limit", [0, 10])
def test_limit_too_small_for_the_markup_raises(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message('<a href="https://example.com/long/path">x y z</a>', limit=limit)


# Hypothesis: arbitrary text, escaped, in segments wrapped in up to two nested tags. The tags are
# chosen so that reopening the deepest pair plus one character plus closing fits in 50 units.
_OUTER_TAGS = [None, "b", "i", "blockquote", '<a href="https://t.me/s">']
_INNER_TAGS = [None, "b", "i", "u", "code"]
_SNIPPETS = [" ", "\n", "\n\n", ". ", "! ", "? ", "&", "<", ">", '"', "'", "😀", "👍🏽", "é"]

_piece = st.one_of(st.text(max_size=12), st.sampled_from(_SNIPPETS))
_plain = st.lists(_piece, max_size=12).map("".join)
_word = st.text(
    st.characters(exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=10
)
_segment = st.tuples(
    st.tuples(_plain, _word, _plain).map("".join),
    st.sampled_from(_OUTER_TAGS),
    st.sampled_from(_INNER_TAGS),
)
_separator = st.sampled_from(["", " ", "\n", "\n\n", ". "])


def _open(tag: str) -> str:
    return tag if tag.startswith("<") else f"<{tag}>"


def _close(tag: str) -> str:
    return "</a>" if tag.startswith("<a ") else f"</{tag}>"


@st.composite
def _messages(draw: st.DrawFn) -> tuple[str, str]:
    """(Telegram HTML, its text content)."""
    markup: list[str] = []
    text: list[str] = []
    for plain, outer, inner in draw(st.lists(_segment, min_size=1, max_size=8)):
        tags = [tag for tag in (outer, inner) if tag is not None]
        separator = draw(_separator)
        markup.append(
            "".join(_open(tag) for tag in tags)
            + html.escape(plain)
            + "".join(_close(tag) for tag in reversed(tags))
            + separator
        )
        text.append(plain + separator)
    return "".join(markup), "".join(text)


@settings(max_examples=300, deadline=None)
@given(message=_messages(), limit=st.integers(min_value=50, max_value=300))
def test_parts_fit_are_balanced_and_keep_the_text(message: tuple[str, str], limit: int) -> None:
    markup, text = message

    parts = split_message(markup, limit=limit)

    assert_valid_parts(parts, limit)
    joined = "".join(parse(part)[0] for part in parts)
    assert without_whitespace(joined) == without_whitespace(text)
    if utf16_len(markup) <= limit:
        assert len(parts) == 1


@settings(max_examples=300, deadline=None)
@given(message=_messages(), limit=st.integers(min_value=50, max_value=600))
def test_a_message_that_fits_is_rendered_as_the_general_splitter_would(
    message: tuple[str, str], limit: int
) -> None:
    markup, _ = message
    atoms = _tokenize(markup)
    words = [index for index, atom in enumerate(atoms) if atom.is_word]

    assert split_message(markup, limit=limit) == (_split(atoms, words, limit) if words else [])
