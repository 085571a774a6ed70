"""HTML news pages: the article's own text and metadata, by trafilatura.

trafilatura finds the main text (navigation, sidebars, footers, bylines and comments left out)
and reads the title, the publication date and the canonical URL from the page's metadata
(`<link rel=canonical>`, Open Graph, `article:published_time`, JSON-LD); htmldate, which it uses,
gives the last-modified date. Dates come from the page's markup only, never guessed from its
text (a "© 2026" footer is no publication date). The extracted elements are laid out as
`index/plain_text.py` says, the same as Markdown's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from index.plain_text import Block, table_row

_DATES = {"extensive_search": False, "original_date": True}
_BLOCK_TAGS = frozenset({"p", "head", "list", "table", "quote", "code", "div", "item"})
_HEADING = re.compile(r"h([1-6])$")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Page:
    """What a news page says: its metadata (None where it has none) and its main text."""

    title: str | None
    url: str | None
    published: str | None
    updated: str | None
    blocks: list[Block]


def read_page(html: str) -> Page:
    """The main text and metadata of an HTML page; no blocks when it has no main text."""
    # Imported here: trafilatura takes 0.3 s to import, paid only when a story is HTML.
    import htmldate
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        date_extraction_params=_DATES,
    )
    if not isinstance(doc, trafilatura.settings.Document) or doc.body is None:
        return Page(None, None, None, None, [])
    published = doc.date or None
    modified = htmldate.find_date(html, original_date=False, extensive_search=False)
    return Page(
        title=doc.title or None,
        url=doc.url or None,
        published=published,
        updated=modified if modified and modified != published else None,
        blocks=list(_blocks(doc.body)),
    )


def _children(element: Any) -> Iterator[Any]:
    # lxml yields comments and processing instructions too; their tag is not a string.
    return (child for child in element if isinstance(child.tag, str))


def _blocks(element: Any) -> Iterator[Block]:
    for child in _children(element):
        tag = child.tag
        if tag == "head":
            heading = _HEADING.match(child.get("rend", ""))
            yield Block(_inline(child), level=int(heading.group(1)) if heading else 2)
        elif tag == "list":
            yield Block("\n".join(_list_lines(child)))
        elif tag == "table":
            yield Block("\n".join(_table_lines(child)))
        elif tag in ("quote", "div") and any(c.tag in _BLOCK_TAGS for c in _children(child)):
            yield from _blocks(child)
        elif tag == "code":
            yield Block("".join(child.itertext()))
        else:
            yield Block(_inline(child))


def _list_lines(element: Any) -> Iterator[str]:
    for item in _children(element):
        yield _inline(item, skip=("list",))
        for nested in _children(item):
            if nested.tag == "list":
                yield from _list_lines(nested)


def _table_lines(element: Any) -> Iterator[str]:
    header: list[str] = []
    for row in _children(element):
        cells = list(_children(row))
        texts = [_inline(cell) for cell in cells]
        if not header and cells and all(c.get("role") == "head" for c in cells):
            header = texts
        else:
            yield table_row(header, texts)


def _inline(element: Any, skip: tuple[str, ...] = ()) -> str:
    """An element's words: `lb` (a <br>) breaks the line, images show none, and a line break
    in the page's source is a space, as a browser shows it."""
    parts = [_WHITESPACE.sub(" ", element.text or "")]
    for child in _children(element):
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag not in ("graphic", *skip):
            parts.append(_inline(child))
        parts.append(_WHITESPACE.sub(" ", child.tail or ""))
    return "".join(parts)
