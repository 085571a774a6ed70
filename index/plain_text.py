"""Plain text: what the reader of a rendered page sees, as the body storybot quotes from.

The Markdown and HTML readers turn a page into `Block`s (a paragraph, a heading, a list, a
table) and `compose` joins them into one body: blocks apart by a blank line, so each is one
paragraph to the splitter; a list is one item a line and a table one row a line, since the
splitter ends a sentence at a line break. A table row reads as a sentence, each cell labelled by
its column's header: `Party: Labour; Votes: 180.` (the header row itself is not repeated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SPACES = re.compile(r"[^\S\n]+")
_ENDS_SENTENCE = re.compile(r"[.!?:;…\"'”’)\]]$")


@dataclass(frozen=True)
class Block:
    """One block of a page: `level` is 1-6 for a heading, 0 for anything else."""

    text: str
    level: int = 0


def tidy(text: str) -> str:
    """Runs of spaces and tabs as one space, each line trimmed, empty lines dropped."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def table_row(header: Sequence[str], cells: Sequence[str]) -> str:
    """`["Party", "Votes"], ["Labour", "180"]` → `Party: Labour; Votes: 180.`"""
    parts = []
    for n, cell in enumerate(cells):
        cell = " ".join(cell.split())
        if not cell:
            continue
        label = " ".join(header[n].split()) if n < len(header) else ""
        parts.append(f"{label}: {cell}" if label and label != cell else cell)
    row = "; ".join(parts)
    # The period makes the row a sentence of its own even where pysbd would run rows together.
    return row if not row or _ENDS_SENTENCE.search(row) else row + "."


def compose(blocks: Sequence[Block], title: str | None) -> tuple[str | None, str]:
    """The title and body of a page of `blocks`, whose metadata named `title` (or nothing).

    A leading level-1 heading is the page's title, not a sentence of it: it becomes the title
    when none is given, and leaves the body when it is the given title; a different one stays.
    """
    kept = [Block(tidy(b.text), b.level) for b in blocks]
    kept = [b for b in kept if b.text]
    if kept and kept[0].level == 1:
        heading = " ".join(kept[0].text.split())
        if title is None or heading.casefold() == " ".join(title.split()).casefold():
            title = title or heading
            kept = kept[1:]
    return title, "\n\n".join(b.text for b in kept)
