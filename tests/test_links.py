"""Tests for bot.links: URL text fragments that jump to the cited sentence."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.links import percent_encode_fragment_term, text_fragment_url

URL = "https://news.example/story"


def directive_terms(url: str) -> tuple[str | None, str, str | None, str | None]:
    """(prefix, textStart, textEnd, suffix) of the url's text directive, percent-decoded."""
    _, _, directive = url.partition(":~:text=")
    terms = directive.split(",")
    prefix = unquote(terms.pop(0)[:-1]) if terms[0].endswith("-") else None
    suffix = unquote(terms.pop()[1:]) if terms[-1].startswith("-") else None
    assert len(terms) in (1, 2)
    text_end = unquote(terms[1]) if len(terms) == 2 else None
    return prefix, unquote(terms[0]), text_end, suffix


def span(body: str, sentence: str) -> tuple[int, int]:
    start = body.rindex(sentence)
    return start, start + len(sentence)


@pytest.mark.parametrize(
    ("term", "encoded"),
    [
        ("-", "%2D"),
        ("&", "%26"),
        (",", "%2C"),
        ("well-known, R&D", "well%2Dknown%2C%20R%26D"),
    ],
)
def test_directive_delimiters_are_percent_encoded(term: str, encoded: str) -> None:
    assert percent_encode_fragment_term(term) == encoded


@pytest.mark.parametrize(
    ("term", "encoded"),
    [
        ("two words", "two%20words"),
        ("  line\nbreak\t and  tabs ", "line%20break%20and%20tabs"),
    ],
)
def test_whitespace_is_collapsed_and_encoded_as_percent_20(term: str, encoded: str) -> None:
    assert percent_encode_fragment_term(term) == encoded


@pytest.mark.parametrize(
    ("term", "encoded"),
    [
        ("“Quoted”", "%E2%80%9CQuoted%E2%80%9D"),
        ("it’s", "it%E2%80%99s"),
        ("café", "caf%C3%A9"),
        ("Zürich 😀", "Z%C3%BCrich%20%F0%9F%98%80"),
    ],
)
def test_non_ascii_characters_are_percent_encoded_as_utf8(term: str, encoded: str) -> None:
    assert percent_encode_fragment_term(term) == encoded


@pytest.mark.parametrize(
    ("term", "encoded"),
    [
        ('"', "%22"),
        ("#", "%23"),
        ("%", "%25"),
        ("<>", "%3C%3E"),
        ("a[b]", "a%5Bb%5D"),
    ],
)
def test_characters_not_allowed_in_a_fragment_are_percent_encoded(term: str, encoded: str) -> None:
    assert percent_encode_fragment_term(term) == encoded


def test_characters_the_spec_allows_are_left_as_they_are() -> None:
    term = "a.b_c~d!e$f'g(h)i*j+k/l:m;n=o?p@q"

    assert percent_encode_fragment_term(term) == term


def test_short_sentence_is_quoted_whole() -> None:
    body = "Intro here. The bridge opened today. Outro there."

    url = text_fragment_url(URL, body, *span(body, "The bridge opened today."))

    assert url == URL + "#:~:text=The%20bridge%20opened%20today."


def test_long_sentence_uses_its_first_and_last_four_words() -> None:
    sentence = "The council voted on Tuesday to close the old bridge for repairs until May."
    body = f"Intro here. {sentence} Outro there."

    url = text_fragment_url(URL, body, *span(body, sentence))

    assert url == URL + "#:~:text=The%20council%20voted%20on,for%20repairs%20until%20May."


def test_sentence_spanning_a_line_break_has_its_whitespace_normalised() -> None:
    body = "The bridge\n  opened   today."

    assert (
        text_fragment_url(URL, body, 0, len(body))
        == URL + "#:~:text=The%20bridge%20opened%20today."
    )


def test_repeated_sentence_start_gets_a_prefix() -> None:
    body = (
        "Police said the bridge was safe. Police said the bridge will reopen in May, after repairs."
    )
    start = body.rindex("Police")

    url = text_fragment_url(URL, body, start, len(body))

    assert (
        url == URL + "#:~:text=safe.-,Police%20said%20the%20bridge,in%20May%2C%20after%20repairs."
    )


def test_first_occurrence_of_a_repeated_start_gets_no_prefix() -> None:
    body = "Police said the bridge was safe. Police said the bridge will reopen in May."

    url = text_fragment_url(URL, body, 0, len("Police said the bridge was safe."))

    assert url == URL + "#:~:text=Police%20said%20the%20bridge%20was%20safe."


def test_repeated_short_sentence_gets_a_prefix() -> None:
    body = "Officials said no. Residents agreed. Then, again, officials said no."

    url = text_fragment_url(URL, body, *span(body, "officials said no."))

    assert url == URL + "#:~:text=again%2C-,officials%20said%20no."


def test_prefix_grows_until_it_makes_the_match_unique() -> None:
    body = (
        "Yes. The council will meet soon. Yes. The council will meet again next week to vote on it."
    )
    sentence = "The council will meet again next week to vote on it."

    prefix, text_start, _, _ = directive_terms(text_fragment_url(URL, body, *span(body, sentence)))

    assert prefix == "soon. Yes."
    assert text_start == "The council will meet"


def test_end_words_repeated_inside_the_sentence_get_a_suffix() -> None:
    sentence = "Alpha beta gamma delta, one two three four, then once more one two three four"
    body = f"{sentence} later on."

    url = text_fragment_url(URL, body, 0, len(sentence))

    assert url.endswith(",one%20two%20three%20four,-later")


def test_url_without_a_fragment_gets_one() -> None:
    assert text_fragment_url(URL, "Hello.", 0, 6) == URL + "#:~:text=Hello."


def test_existing_fragment_is_kept_before_the_directive() -> None:
    url = text_fragment_url(URL + "#section-2", "Hello.", 0, 6)

    assert url == URL + "#section-2:~:text=Hello."


def test_existing_fragment_directive_is_replaced() -> None:
    url = text_fragment_url(URL + "#top:~:text=old%20quote", "Hello.", 0, 6)

    assert url == URL + "#top:~:text=Hello."


@pytest.mark.parametrize(("start", "end"), [(0, 0), (5, 9)])
def test_span_without_words_returns_the_url_unchanged(start: int, end: int) -> None:
    assert text_fragment_url(URL, "Hello    world", start, end) == URL


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (4, 2), (0, 99)])
def test_span_outside_the_body_raises(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        text_fragment_url(URL, "Hello world", start, end)


# Round trip: a tiny vocabulary makes repeated starts and ends (and so context terms) common.
_VOCABULARY = ["said", "-", "a-b", "R&D", "“café”,"]
_sentences = st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=14).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    sentences=st.lists(_sentences, min_size=1, max_size=6),
    separator=st.sampled_from([" ", "\n", "\n\n"]),
    data=st.data(),
)
def test_decoded_terms_appear_around_and_in_the_sentence_in_order(
    sentences: list[str], separator: str, data: st.DataObject
) -> None:
    body = separator.join(sentences)
    index = data.draw(st.integers(min_value=0, max_value=len(sentences) - 1))
    start = sum(len(sentence) + len(separator) for sentence in sentences[:index])
    end = start + len(sentences[index])

    url = text_fragment_url(URL, body, start, end)

    directive = url.partition(":~:text=")[2]
    for term in directive.split(","):
        assert "&" not in term
        assert "-" not in term.removeprefix("-").removesuffix("-")
    prefix, text_start, text_end, suffix = directive_terms(url)
    before = " ".join(body[:start].split())
    sentence = " ".join(body[start:end].split())
    after = " ".join(body[end:].split())
    assert sentence.startswith(text_start)
    if text_end is not None:
        assert sentence.endswith(text_end)
        assert len(text_start) + len(text_end) < len(sentence)
    if prefix is not None:
        assert before.endswith(prefix)
    else:  # no earlier whole-word occurrence of the start, so the browser finds this one first
        padded = f" {before} {sentence} " if before else f" {sentence} "
        assert padded.find(f" {text_start} ") == (len(before) + 1 if before else 0)
    if suffix is not None:
        assert after.startswith(suffix)
