"""Telegram message length and splitting for replies written in Telegram HTML.

Why this exists: the Bot API rejects a message longer than 4096 characters, and it counts
characters in UTF-16 code units, so an emoji outside the Basic Multilingual Plane (😀) costs two.
It also rejects a message whose HTML does not parse, so a long reply cannot be cut at an arbitrary
offset: a cut inside `<a href="...">` or `&amp;` breaks the markup, and a cut inside
`<blockquote>…</blockquote>` leaves one part with an unclosed tag and the next with a stray one.

`split_message` therefore cuts only between whole tags, entities and characters, closes the tags
that are open at a cut and reopens them (same tag, same attributes) at the start of the next part.
It prefers, in order: a paragraph break, a line break, a sentence end, a space between words, and
only as a last resort a point inside a word (avoiding the middle of a grapheme cluster when it
can). Within the best kind of break that fits, it takes the last one, so parts are as long as
possible.

The limit is checked against the raw HTML of each part, markup included. Telegram checks the text
after parsing entities, which is never longer, so this is conservative on purpose: a part that fits
here always fits there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from html import unescape

TELEGRAM_MESSAGE_LIMIT = 4096
"""Longest message text the Bot API accepts, in UTF-16 code units."""

# A start or end tag (attribute values may be quoted and then contain `<`, `>`), or an entity.
_TOKEN = re.compile(
    r"""<(?P<slash>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)(?P<rest>(?:[^<>"']|"[^"]*"|'[^']*')*)>"""
    r"|&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});"
)
# Tags that Telegram renders as blocks: a boundary between them is as good as a line break.
_BLOCK_TAGS = frozenset({"blockquote", "pre"})
_SENTENCE_END = frozenset(".!?…")
# Closing quotes and brackets that may follow the punctuation ending a sentence: `end.” Next`.
_SENTENCE_TRAILERS = frozenset("\"'”’»)]}")


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit Telegram counts message length in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _Kind(IntEnum):
    TEXT = 0
    OPEN = 1
    CLOSE = 2
    VOID = 3


class _Break(IntEnum):
    """Kinds of cut point, worst to best."""

    GRAPHEME = 0  # inside a word, between code points of one grapheme cluster
    CHAR = 1  # inside a word
    WORD = 2  # at whitespace
    SENTENCE = 3  # at whitespace after `.`, `!`, `?` or `…`
    LINE = 4  # at a line break, or between block elements
    PARAGRAPH = 5  # at a blank line


@dataclass(frozen=True, slots=True)
class _Atom:
    """An indivisible piece of the markup: one character, one entity, or one whole tag."""

    kind: _Kind
    raw: str
    width: int  # UTF-16 length of `raw`
    value: str  # TEXT: the character(s) it renders as; tags: the tag name as written

    @property
    def is_space(self) -> bool:
        return self.kind is _Kind.TEXT and self.value.isspace()

    @property
    def is_word(self) -> bool:
        return self.kind is _Kind.TEXT and not self.value.isspace()


def _closing_tag(opening: _Atom) -> str:
    return f"</{opening.value}>"


def _closing_width(opening: _Atom) -> int:
    return len(opening.value) + 3


def _char_atom(char: str) -> _Atom:
    return _Atom(_Kind.TEXT, char, 2 if ord(char) > 0xFFFF else 1, char)


def _match_atom(match: re.Match[str]) -> _Atom:
    """The atom of a `_TOKEN` match: an entity (as text) or a start, end or void tag."""
    raw = match.group()
    name = match.group("name")
    if name is None:
        return _Atom(_Kind.TEXT, raw, len(raw), unescape(raw))
    if match.group("slash"):
        return _Atom(_Kind.CLOSE, raw, utf16_len(raw), name)
    if match.group("rest").rstrip().endswith("/"):
        return _Atom(_Kind.VOID, raw, utf16_len(raw), name)
    return _Atom(_Kind.OPEN, raw, utf16_len(raw), name)


def _tokenize(markup: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    pos = 0
    for match in _TOKEN.finditer(markup):
        atoms.extend(_char_atom(char) for char in markup[pos : match.start()])
        atoms.append(_match_atom(match))
        pos = match.end()
    atoms.extend(_char_atom(char) for char in markup[pos:])
    return atoms


def _close(stack: list[_Atom], closing: _Atom) -> _Atom | None:
    """Remove the innermost open tag that `closing` closes; return it (None for a stray tag)."""
    name = closing.value.lower()
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].value.lower() == name:
            return stack.pop(index)
    return None


def _joins_grapheme(before: str, after: str) -> bool:
    """Whether a cut between these two code points would split a grapheme cluster (roughly)."""
    a, b = before[-1], after[0]
    if a == "\u200d" or b == "\u200d":  # zero-width joiner (emoji sequences)
        return True
    code = ord(b)
    if unicodedata.category(b) in ("Mn", "Mc", "Me"):  # combining marks
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, emoji tags
        return True
    return 0x1F1E6 <= ord(a) <= 0x1F1FF and 0x1F1E6 <= code <= 0x1F1FF  # flag halves


def _ends_sentence(atoms: list[_Atom], index: int) -> bool:
    """Whether the word character at `index` ends a sentence (`end.`, `end!”`, `end?)`)."""
    for _ in range(4):
        char = atoms[index].value[-1]
        if char in _SENTENCE_END:
            return True
        if char not in _SENTENCE_TRAILERS:
            return False
        index -= 1
        while index >= 0 and atoms[index].kind is not _Kind.TEXT:
            index -= 1
        if index < 0 or atoms[index].is_space:
            return False
    return False


def _cut_points(atoms: list[_Atom], words: list[int]) -> dict[int, _Break]:
    """Every allowed cut, as atom index (cut before that atom) → kind of break.

    There is one cut per gap between consecutive word characters. Within a gap the cut goes after
    whitespace and closing tags but before opening tags, so a part ends with `</b>` rather than
    with a dangling `<b>`. A last cut after the final word lets trailing empty markup be dropped.
    """
    cuts: dict[int, _Break] = {}
    for previous, following in zip(words, [*words[1:], len(atoms)], strict=True):
        cut = previous + 1
        while cut < following and atoms[cut].kind is not _Kind.OPEN:
            cut += 1
        if following == len(atoms):
            cuts[cut] = _Break.PARAGRAPH
            continue
        gap = atoms[previous + 1 : following]
        spaces = "".join(atom.value for atom in gap if atom.kind is _Kind.TEXT)
        newlines = spaces.count("\n")
        if newlines >= 2:
            kind = _Break.PARAGRAPH
        elif newlines == 1 or any(
            atom.kind is not _Kind.TEXT and atom.value.lower() in _BLOCK_TAGS for atom in gap
        ):
            kind = _Break.LINE
        elif spaces:
            next_char = atoms[following].value[0]
            sentence = _ends_sentence(atoms, previous) and not next_char.islower()
            kind = _Break.SENTENCE if sentence else _Break.WORD
        elif _joins_grapheme(atoms[previous].value, atoms[following].value):
            kind = _Break.GRAPHEME
        else:
            kind = _Break.CHAR
        cuts[cut] = kind
    return cuts


def _render(atoms: list[_Atom], start: int, stop: int, opened: list[_Atom]) -> str:
    """Atoms[start:stop] as one balanced part: reopen `opened`, drop edge whitespace, close."""
    words = [index for index in range(start, stop) if atoms[index].is_word]
    first, last = words[0], words[-1]
    stack = list(opened)
    out = [atom.raw for atom in opened]
    for index in range(start, stop):
        atom = atoms[index]
        if atom.is_space and not first < index < last:
            continue
        out.append(atom.raw)
        if atom.kind is _Kind.OPEN:
            stack.append(atom)
        elif atom.kind is _Kind.CLOSE:
            _close(stack, atom)
    out.extend(_closing_tag(atom) for atom in reversed(stack))
    return "".join(out).strip()


def split_message(html: str, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most `limit` UTF-16 code units, each valid on its own.

    Cuts never fall inside a tag or an entity. Tags open at a cut are closed at the end of the
    part and reopened, with the same attributes, at the start of the next; that markup counts
    towards the limit. Parts are stripped of edge whitespace, and a part always has visible text:
    empty, whitespace-only or markup-only input gives `[]`. Concatenating the parts' text gives
    back the original text except for whitespace at the cuts.

    Raises ValueError if `limit` is too small for the markup: the tags open at some point plus a
    single character and the closing tags do not fit.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    whole = _whole(html, limit)
    if whole is not None:
        return whole
    atoms = _tokenize(html)
    words = [index for index, atom in enumerate(atoms) if atom.is_word]
    if not words:
        return []
    return _split(atoms, words, limit)


def _whole(html: str, limit: int) -> list[str] | None:
    """`split_message` of a message that fits whole (what `_split` gives, tested), else None.

    Almost every reply fits, and this reads it in runs of text rather than atom by atom: on the
    event loop the general path cost about as much as sending the message.
    """
    runs: list[tuple[str, _Atom | None, str]] = []  # raw, the tag's atom (None: text), visible text
    pos = 0
    for match in _TOKEN.finditer(html):
        if match.start() > pos:
            runs.append((html[pos : match.start()], None, html[pos : match.start()]))
        atom = _match_atom(match)
        runs.append(
            (atom.raw, None, atom.value) if atom.kind is _Kind.TEXT else (atom.raw, atom, "")
        )
        pos = match.end()
    if pos < len(html):
        runs.append((html[pos:], None, html[pos:]))
    closing = sum(_closing_width(tag) for _, tag, _ in runs if tag and tag.kind is _Kind.OPEN)
    if utf16_len(html) + closing > limit:
        return None
    visible = [i for i, (_, tag, text) in enumerate(runs) if tag is None and text.strip()]
    if not visible:
        return []
    first, last = visible[0], visible[-1]
    out: list[str] = []
    stack: list[_Atom] = []
    for index, (raw, tag, text) in enumerate(runs):
        if tag is not None:
            out.append(raw)
            if tag.kind is _Kind.OPEN:
                stack.append(tag)
            elif tag.kind is _Kind.CLOSE:
                _close(stack, tag)
        elif first < index < last:
            out.append(raw)
        elif index in (first, last):
            if raw != text:  # an entity is one atom: kept whole
                out.append(raw)
            else:
                head = raw.lstrip() if index == first else raw
                out.append(head.rstrip() if index == last else head)
        # whitespace-only text before the first visible run or after the last one is dropped
    out.extend(_closing_tag(atom) for atom in reversed(stack))
    return ["".join(out).strip()]


def _split(atoms: list[_Atom], words: list[int], limit: int) -> list[str]:
    """The parts of `split_message`, whether or not the whole message fits."""
    cuts = _cut_points(atoms, words)

    parts: list[str] = []
    start = 0
    opened: list[_Atom] = []
    while start <= words[-1]:
        reopen_width = sum(atom.width for atom in opened)
        stack = list(opened)
        closing_width = sum(_closing_width(atom) for atom in stack)
        content_width = 0  # atoms[start:index], leading whitespace dropped
        trailing_space = 0  # whitespace after the last word so far, dropped if we cut here
        seen_word = False
        best_kind = -1  # the best cut that fits so far: its _Break, position, open tags
        best: tuple[int, list[_Atom]] | None = None
        index = start
        while True:
            cost = reopen_width + content_width - trailing_space + closing_width
            if index == len(atoms):
                if cost <= limit:
                    best = (index, stack)
                break
            kind = cuts.get(index, -1)
            if seen_word and kind >= max(best_kind, 0) and cost <= limit:
                best_kind, best = kind, (index, list(stack))
            atom = atoms[index]
            if atom.kind is _Kind.TEXT:
                if atom.is_space:
                    if seen_word:
                        content_width += atom.width
                        trailing_space += atom.width
                else:
                    seen_word = True
                    content_width += atom.width
                    trailing_space = 0
            else:
                content_width += atom.width
                if atom.kind is _Kind.OPEN:
                    stack.append(atom)
                    closing_width += _closing_width(atom)
                elif atom.kind is _Kind.CLOSE and (closed := _close(stack, atom)) is not None:
                    closing_width -= _closing_width(closed)
            index += 1
            # Content without trailing whitespace never shrinks, so nothing further can fit.
            if reopen_width + content_width - trailing_space > limit:
                break
        if best is None:
            context = "".join(atom.raw for atom in [*opened, *atoms[start : start + 60]])
            raise ValueError(
                f"limit {limit} is too small for the markup: the open tags, the next character "
                f"and the closing tags do not fit, at {context!r}"
            )
        stop, stop_stack = best
        parts.append(_render(atoms, start, stop, opened))
        start, opened = stop, stop_stack
    return parts
