"""Native quotes: a reply that highlights the answering sentence inside the post it replies to.

Since Bot API 7.0 a reply may quote part of the message it replies to (`ReplyParameters.quote`),
and Telegram shows that part highlighted; a tap on it jumps to that place in the post. Telegram
accepts a quote only if it is the exact text of the message at `quote_position` (counted in
UTF-16 code units), at most 1024 characters long, with the same bold, italic, underline,
strikethrough, spoiler and custom-emoji formatting as that part of the message. storybot stores
posts without their formatting (`index.posts`), so a sentence that formatting touches is not
quoted: the reply then quotes it in its own text, as every other answer does.

The sign below is one character in Python and two UTF-16 code units in Telegram:

    >>> quote_in("Bridge shut.\\nIt reopens 🚧 in May. Tolls stay.", "Tolls stay.", 34)
    Quote(text='Tolls stay.', position=35)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from telegram import MessageEntity
from telegram.error import BadRequest

QUOTE_LIMIT = 1024
# The formatting a quote must reproduce (the Bot API's ReplyParameters.quote).
QUOTED_FORMATTING = frozenset(
    {
        MessageEntity.BOLD,
        MessageEntity.ITALIC,
        MessageEntity.UNDERLINE,
        MessageEntity.STRIKETHROUGH,
        MessageEntity.SPOILER,
        MessageEntity.CUSTOM_EMOJI,
        "date_time",
    }
)

Span = tuple[int, int]


@dataclass(frozen=True)
class Quote:
    """A sentence as a reply quotes it: its text and its UTF-16 offset in the post."""

    text: str
    position: int


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, Telegram's unit for offsets and limits (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def formatting_spans(entities: Iterable[MessageEntity]) -> tuple[Span, ...]:
    """The (offset, length) of each entity a quote must reproduce, in UTF-16 code units."""
    return tuple((e.offset, e.length) for e in entities if e.type in QUOTED_FORMATTING)


def quote_in(post: str, sentence: str, start: int, spans: Sequence[Span] = ()) -> Quote | None:
    """`sentence` as Telegram would accept it as a quote of `post`, or None.

    `start` is where the sentence began (in characters) in the text it was indexed from: used
    when the post still has it there, else its nearest occurrence (the post was edited since).
    None when the post no longer has it, when it is too long, or when formatting (`spans`)
    touches it.
    """
    if not sentence.strip():
        return None
    if post[start : start + len(sentence)] == sentence:
        at = start
    else:
        found, at = [], post.find(sentence)
        while at >= 0:
            found.append(at)
            at = post.find(sentence, at + 1)
        if not found:
            return None
        at = min(found, key=lambda i: abs(i - start))
    position, length = utf16_len(post[:at]), utf16_len(sentence)
    if length > QUOTE_LIMIT:
        return None
    if any(offset < position + length and position < offset + size for offset, size in spans):
        return None
    return Quote(sentence, position)


def refused_quote(exc: BadRequest) -> bool:
    """Whether Telegram refused a reply for its quote ("quote not found", QUOTE_TEXT_INVALID)."""
    return "quote" in exc.message.lower()
