"""Jump-to-sentence links: source URLs with a text fragment that highlights the cited sentence.

A text fragment (https://wicg.github.io/scroll-to-text-fragment/) is a fragment directive
`#:~:text=[prefix-,]textStart[,textEnd][,-suffix]`; a supporting browser scrolls to the first
match on the page and highlights it. A short sentence is quoted whole; a long one is named by its
first and last few words. When those words also occur earlier in the article, the words just
before the sentence are added as a `prefix-,` so the browser skips the earlier match (likewise a
`,-suffix` when the end words also occur earlier inside the sentence).

Example: the cited sentence is the second one, whose first four words also start the first one,
so the word before it becomes the prefix:

    >>> body = "Police said the bridge was safe. "
    >>> body += "Police said the bridge will reopen in May, after repairs."
    >>> text_fragment_url("https://ex.am/a", body, 33, len(body))
    'https://ex.am/a#:~:text=safe.-,Police%20said%20the%20bridge,in%20May%2C%20after%20repairs.'

Every term is percent-encoded as UTF-8; besides what a URL fragment cannot hold, the directive's
own delimiters `-`, `&` and `,` are encoded (%2D, %26, %2C). Whitespace in terms is collapsed to
one space (%20). Only the article body is checked for earlier matches: text elsewhere on the page
(a headline, a teaser) may still match first, and browsers without text fragment support simply
open the page at the top. A t.me link (a channel post's, `index.posts`) opens the post in
Telegram, where a fragment means nothing: it is left as it is.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

SHORT_SENTENCE_WORDS = 8
"""A sentence of at most this many words is quoted whole (`text=<sentence>`)."""

EDGE_WORDS = 4
"""Words of a longer sentence used for textStart and for textEnd."""

CONTEXT_WORDS = 3
"""Most words used for a prefix or a suffix."""

# TextDirectiveExplicitChar in the spec, apart from letters and digits (`quote` keeps those):
# everything else, including the delimiters `-`, `&` and `,`, is percent-encoded.
_EXPLICIT_CHARS = "!$'()*+./:;=?@_~"
_DIRECTIVE_DELIMITER = ":~:"
TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me"})


def percent_encode_fragment_term(term: str) -> str:
    """Percent-encode one text directive term, whitespace collapsed to single spaces.

    `quote` never encodes `-` (it is unreserved in URLs), so that is done here: in a text
    directive a leading or trailing `-` would mark the term as a prefix or suffix.
    """
    return quote(" ".join(term.split()), safe=_EXPLICIT_CHARS).replace("-", "%2D")


def _pattern(text: str) -> re.Pattern[str]:
    """Case-insensitive match of `text` that, like the browser's, starts and ends at words."""
    before = r"(?<!\w)" if re.match(r"\w", text) else ""
    after = r"(?!\w)" if re.match(r".*\w\Z", text, re.DOTALL) else ""
    return re.compile(before + re.escape(text) + after, re.IGNORECASE)


def _first_match(text: str, haystack: str, position: int = 0) -> int:
    match = _pattern(text).search(haystack, position)
    return -1 if match is None else match.start()


def _context(
    candidates: list[str], term: str, haystack: str, expected: int, from_: int, *, before: bool
) -> list[str]:
    """The fewest context words (up to CONTEXT_WORDS) that make `term` first match at `expected`.

    `candidates` are the words next to the term, nearest last for a prefix (`before`) and
    nearest first for a suffix. If even CONTEXT_WORDS words leave an earlier match, they are
    still returned: they can only help.
    """
    chosen: list[str] = []
    for count in range(1, min(CONTEXT_WORDS, len(candidates)) + 1):
        chosen = candidates[-count:] if before else candidates[:count]
        context = " ".join(chosen)
        if before:
            start = expected - len(context) - 1
            if _first_match(f"{context} {term}", haystack, from_) == start:
                return chosen
        elif _first_match(f"{term} {context}", haystack, from_) == expected:
            return chosen
    return chosen


def text_fragment_url(url: str, body: str, start: int, end: int) -> str:
    """`url` with a `#:~:text=` directive that highlights `body[start:end]` on the source page.

    An existing fragment is kept (`#section:~:text=...`); an existing fragment directive (after
    `:~:`) is replaced. A span with no words, or a t.me link, returns `url` unchanged. Raises
    ValueError for offsets outside `body`.
    """
    if not 0 <= start <= end <= len(body):
        raise ValueError(f"span {start}:{end} is outside a body of length {len(body)}")
    words = body[start:end].split()
    if not words or urlsplit(url).hostname in TELEGRAM_HOSTS:
        return url
    before_words = body[:start].split()
    after_words = body[end:].split()
    sentence = " ".join(words)
    before = " ".join(before_words)
    # The body with whitespace collapsed; the sentence starts at `offset` in it.
    offset = len(before) + 1 if before else 0
    haystack = " ".join([*before_words, *words, *after_words])

    if len(words) <= SHORT_SENTENCE_WORDS:
        text_start, text_end = sentence, ""
    else:
        count = min(EDGE_WORDS, len(words) // 2)
        text_start, text_end = " ".join(words[:count]), " ".join(words[-count:])

    prefix: list[str] = []
    if before_words and 0 <= _first_match(text_start, haystack) < offset:
        prefix = _context(before_words, text_start, haystack, offset, 0, before=True)

    suffix: list[str] = []
    if text_end:
        end_offset = offset + len(sentence) - len(text_end)
        search_from = offset + len(text_start)
        if after_words and 0 <= _first_match(text_end, haystack, search_from) < end_offset:
            suffix = _context(
                after_words, text_end, haystack, end_offset, search_from, before=False
            )

    terms = [percent_encode_fragment_term(text_start)]
    if text_end:
        terms.append(percent_encode_fragment_term(text_end))
    if prefix:
        terms.insert(0, percent_encode_fragment_term(" ".join(prefix)) + "-")
    if suffix:
        terms.append("-" + percent_encode_fragment_term(" ".join(suffix)))

    base, _, fragment = url.partition("#")
    fragment = fragment.split(_DIRECTIVE_DELIMITER, 1)[0]
    return f"{base}#{fragment}{_DIRECTIVE_DELIMITER}text={','.join(terms)}"
