"""Sentence splitting with exact offsets: every Sentence is a verbatim slice of its article body.

pysbd does the boundary decisions (it knows `U.S.`, `U.K.`, initials, numbers and quotes that end
sentences); we only map its segments back onto the body, so `body[start:end] == text` always holds.
A paragraph is a block of lines separated by blank lines; in a body with no blank lines at all
(one paragraph per line, as wire copy often is) each line is a paragraph.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import pysbd

from index.articles import Article

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MARKUP_ONLY = re.compile(r"^[\W_]*$")
_HEADING = re.compile(r"^#{1,6}\s+")


@dataclass(frozen=True)
class Sentence:
    """One sentence: `paragraph` counts from 1 within the article; offsets index the body."""

    article: str
    paragraph: int
    start: int
    end: int
    text: str

    @property
    def key(self) -> str:
        """A stable id for the sentence's wording within its article (survives moves)."""
        return sentence_key(self.article, self.text)


def text_key(text: str) -> str:
    """The hash a text is known by wherever work is reused by text (vectors, token vectors,
    sentence ids): SHA-1, for speed; nothing depends on it being hard to forge."""
    return hashlib.sha1(text.encode()).hexdigest()


def sentence_key(article: str, text: str) -> str:
    """A sentence's id: its article and its text with whitespace normalised."""
    norm = " ".join(text.split())
    return text_key(f"{article}\x00{norm}")[:16]


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def paragraphs(body: str) -> Iterator[tuple[int, int]]:
    """(start, end) spans of the body's paragraphs, trimmed of surrounding whitespace."""
    if _BLANK_LINE.search(body):
        spans = [(m.start(), m.end()) for m in re.finditer(r"(?:[^\n]|\n(?![ \t]*\n))+", body)]
    else:
        spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", body)]
    for start, end in spans:
        text = body[start:end]
        stripped = text.strip()
        if stripped:
            lead = len(text) - len(text.lstrip())
            yield start + lead, start + lead + len(stripped)


def split_paragraph(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of one paragraph."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for segment in _segmenter().segment(text):
        piece = segment.strip()
        if not piece:
            continue
        found = text.find(piece, cursor)
        if found < 0:
            # pysbd never rewrites text with clean=False; if it ever does, keep the rest whole.
            rest = text[cursor:].strip()
            if rest:
                found = text.find(rest, cursor)
                spans.append((found, found + len(rest)))
            return spans
        spans.append((found, found + len(piece)))
        cursor = found + len(piece)
    return spans


def split_article(article: Article) -> list[Sentence]:
    """All sentences of an article in order, headings and markup-only lines left out."""
    sentences: list[Sentence] = []
    body = article.body
    for number, (p_start, p_end) in enumerate(paragraphs(body), start=1):
        for start, end in split_paragraph(body[p_start:p_end]):
            start, end = p_start + start, p_start + end
            heading = _HEADING.match(body, start, end)
            if heading:
                start = heading.end()
            text = body[start:end]
            if _MARKUP_ONLY.match(text):
                continue
            sentences.append(Sentence(article.id, number, start, end, text))
    return sentences
