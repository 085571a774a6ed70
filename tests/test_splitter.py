"""The splitter on the seed story's traps, against known sentence boundaries."""

from __future__ import annotations

import pytest

from index.articles import parse_article
from index.splitter import paragraphs, split_article
from support import SEED_FILE

SEED = SEED_FILE.read_bytes()


def seed_sentences() -> list[str]:
    article = parse_article("2025-04-23-london-talks.txt", SEED)
    return [s.text for s in split_article(article)]


def test_every_sentence_is_a_verbatim_slice_of_the_body() -> None:
    article = parse_article("seed.txt", SEED)
    sentences = split_article(article)
    assert len(sentences) == 16
    for s in sentences:
        assert article.body[s.start : s.end] == s.text
        assert s.text == s.text.strip()


@pytest.mark.parametrize(
    "sentence",
    [
        "U.S., U.K., German, French, and Ukrainian officials began their meeting on April 23 to "
        "discuss a path toward ending the Russia-Ukraine war, Sky News reported.",
        "The meeting was to be held at a ministerial level, but was downgraded after U.S. "
        "Secretary of State Marco Rubio canceled his participation.",
        "U.S. President Donald Trump's peace plan reportedly includes the U.S. de jure recognizing "
        "Russian control over the peninsula.",
        '"Despite everything, we continue working for peace," Yermak said upon arrival in London.',
    ],
)
def test_splitter_keeps_abbreviations_and_quotes_inside_sentences(sentence: str) -> None:
    assert sentence in seed_sentences()


def test_quote_that_ends_a_sentence_ends_it() -> None:
    sentences = seed_sentences()
    quote = (
        '"Today, we will discuss ways to achieve a full and unconditional ceasefire as the first '
        'step toward a comprehensive settlement and the achievement of a just and lasting peace."'
    )
    assert quote in sentences
    assert sentences[sentences.index(quote) - 1].endswith("Yermak said upon arrival in London.")


def test_seed_paragraph_numbers_follow_lines() -> None:
    article = parse_article("seed.txt", SEED)
    numbers = [s.paragraph for s in split_article(article)]
    assert numbers == [1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14]


def test_blank_line_paragraphs_keep_wrapped_lines_together() -> None:
    body = "First line of para one\ncontinues here. Second sentence.\n\nPara two is here."
    spans = list(paragraphs(body))
    assert [body[a:b] for a, b in spans] == [
        "First line of para one\ncontinues here. Second sentence.",
        "Para two is here.",
    ]


def test_markdown_body_offsets_index_text_after_front_matter() -> None:
    raw = (
        b"---\ntitle: Talks in London\nurl: https://example.com/a\n---\n"
        b"# Heading\n\nDr. J. R. Smith paid $3.5 million. He left at 5 p.m. on Monday.\n"
    )
    article = parse_article("a.md", raw)
    assert article.title == "Talks in London"
    assert article.url == "https://example.com/a"
    texts = [s.text for s in split_article(article)]
    assert texts == [
        "Heading",
        "Dr. J. R. Smith paid $3.5 million.",
        "He left at 5 p.m. on Monday.",
    ]
    for s in split_article(article):
        assert article.body[s.start : s.end] == s.text
