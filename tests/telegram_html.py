"""Telegram's HTML parse mode as the Bot API checks it, so tests can tell whether Telegram would
accept a text the bot sends.

It follows tdlib's `parse_html`: the supported tags and attributes, entity references, and the
error descriptions with their byte offsets. The fake Bot API server checks every HTML text with it.
"""

from __future__ import annotations

import re

_TAGS = frozenset(
    "b strong i em u ins s strike del a code pre span tg-spoiler blockquote tg-emoji".split()
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:([A-Za-z]+)|#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6}));")
_START_RE = re.compile(r"<([^\s>]*)")
_END_RE = re.compile(r"</([^\s>]*)\s*>")
_ATTR_RE = re.compile(r"""([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9.-]+)))?""")


def parse_html(text: str) -> tuple[str, str | None]:
    """Return (plain text, None) or ("", error description) following tdlib's parse_html."""

    def fail(msg: str, pos: int | None = None) -> tuple[str, str]:
        where = "" if pos is None else f" at byte offset {len(text[:pos].encode())}"
        return "", f"Bad Request: can't parse entities: {msg}{where}"

    out: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "&":  # Stricter than tdlib, which keeps an unknown "&..." literally.
            m = _ENTITY_RE.match(text, i)
            code = int(m[2]) if m and m[2] else int(m[3], 16) if m and m[3] else -1
            if m is None or (m[1] and m[1] not in _NAMED_ENTITIES):
                return fail('Unescaped "&" (write &amp;)', i)
            if not m[1] and not (0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF):
                return fail("Invalid numeric character reference", i)
            out.append(_NAMED_ENTITIES[m[1]] if m[1] else chr(code))
            i = m.end()
        elif text[i] != "<":
            out.append(text[i])
            i += 1
        elif text.startswith("</", i):
            if not stack:
                return fail("Unexpected end tag", i)
            m = _END_RE.match(text, i)
            if m is None:
                return fail("Unclosed end tag", i)
            top, name = stack.pop(), m[1].lower()
            if name and name != top:
                return fail(
                    f"Unmatched end tag at byte offset {len(text[:i].encode())}, "
                    f'expected "</{top}>", found "</{name}>"'
                )
            i = m.end()
        else:
            start, m = i, _START_RE.match(text, i)
            assert m is not None
            name, i = m[1].lower(), m.end()
            if i >= n:
                return fail("Unclosed start tag", start)
            if name not in _TAGS:
                return fail(f'Unsupported start tag "{name}"', start)
            attrs: dict[str, str] = {}
            while True:
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    return fail("Unclosed start tag", start)
                if text[i] == ">":
                    i += 1
                    break
                a = _ATTR_RE.match(text, i)
                if a is None:
                    return fail(f'Bad attribute declaration in the tag "{name}"', i)
                value = next((g for g in a.groups()[1:] if g is not None), None)
                if value is None and (name, a[1].lower()) != ("blockquote", "expandable"):
                    return fail(
                        f'Expected equal sign in declaration of an attribute of the tag "{name}"', i
                    )
                attrs[a[1].lower()] = value or ""
                i = a.end()
            if name == "span" and attrs.get("class") != "tg-spoiler":
                return fail('Tag "span" must have class "tg-spoiler"', start)
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                return fail("Invalid custom emoji identifier specified")
            stack.append(name)
    if stack:
        return fail(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out), None


def validate_telegram_html(text: str) -> str | None:
    """Return Telegram's error description if ``text`` is not valid Telegram HTML, else None."""
    return parse_html(text)[1]
