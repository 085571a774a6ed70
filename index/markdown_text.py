"""Markdown rendered to the plain text its reader sees, by markdown-it-py (CommonMark + tables).

Emphasis, links and inline code keep their words and lose their markup (a link keeps its text,
not its address); an image, an HTML tag and a comment show no text, HTML shows the text between
its tags (a script, a style sheet or a template none, inline or not); a line wrapped inside a
paragraph is a space, a hard break (two trailing spaces, a backslash, `<br>`) a line break.
Headings, list items, table rows, block quotes and code blocks are laid out as
`index/plain_text.py` says.
Deliberate simplification: list markers ("-", "1.") are dropped, as a reader copying the page
would not get them either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from index.plain_text import Block, table_row

_CONTAINERS = ("blockquote", "thead", "tbody")
_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_blocks(source: str) -> list[Block]:
    """The blocks of a Markdown document, in reading order."""
    return list(_blocks(SyntaxTreeNode(_parser().parse(source))))


def _blocks(node: SyntaxTreeNode) -> Iterator[Block]:
    for child in node.children:
        kind = child.type
        if kind == "paragraph":
            yield Block(_inline(child))
        elif kind == "heading":
            yield Block(_inline(child), level=int(child.tag[1:]))
        elif kind in ("bullet_list", "ordered_list"):
            yield Block("\n".join(_list_lines(child)))
        elif kind == "table":
            yield Block("\n".join(_table_lines(child)))
        elif kind in _CONTAINERS:
            yield from _blocks(child)
        elif kind in ("fence", "code_block"):
            yield Block(child.content)
        elif kind == "html_block":
            yield Block(_html_text(child.content))
        # hr (and anything a later markdown-it adds) shows no words


def _list_lines(node: SyntaxTreeNode) -> Iterator[str]:
    for item in node.children:
        for block in _blocks(item):
            yield block.text


def _table_lines(node: SyntaxTreeNode) -> Iterator[str]:
    header: list[str] = []
    for section in node.children:
        for row in section.children:
            cells = [_inline(cell) for cell in row.children]
            if section.type == "thead":
                header = cells
            else:
                yield table_row(header, cells)


def _inline(node: SyntaxTreeNode) -> str:
    """The words of a paragraph, heading or table cell, markup left out."""
    parts: list[str] = []
    hidden = 0  # inside an inline <script>, <style> or <template>: markdown-it splits its
    # tags and its text into separate tokens, so the text alone would read as words
    for child in node.children:
        kind = child.type
        if kind == "html_inline" and (tag := _HIDING_TAG.match(child.content)):
            hidden = max(0, hidden + (-1 if tag.group(1) else 1))
        elif hidden:
            continue
        elif kind in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "html_inline":
            parts.append(_html_text(child.content))  # a <br> breaks the line; <b> shows nothing
        elif kind == "image":
            continue
        else:  # inline, em, strong, s, link: their words are their children's
            parts.append(_inline(child))
    return "".join(parts)


_HIDDEN = frozenset({"script", "style", "template"})
_HIDING_TAG = re.compile(r"<(/?)\s*(?:script|style|template)\b[^>]*>$", re.IGNORECASE)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6"
    " header hr li main nav ol p pre section table td th tr ul".split()
)


class _TextOf(HTMLParser):
    """The text a browser shows for an HTML fragment, a line break between block elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:  # a line break in HTML source is a space on the page
            self.parts.append(_WHITESPACE.sub(" ", data))


def _html_text(fragment: str) -> str:
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)
