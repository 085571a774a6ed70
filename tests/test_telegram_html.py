"""Tests for the Telegram-HTML validator: what Telegram accepts, and the errors it gives."""

from __future__ import annotations

import pytest

from telegram_html import validate_telegram_html


@pytest.mark.parametrize(
    "text",
    [
        "plain text",
        "<b>bold</b> <i>it</i> <u>u</u> <s>s</s> <code>x &lt; y</code>",
        '<a href="https://example.com/?a=1&amp;b=2">link</a>',
        "<pre><code class=\"language-python\">print('hi')</code></pre>",
        '<span class="tg-spoiler">secret</span> <tg-spoiler>too</tg-spoiler>',
        "<blockquote expandable>quote <B>nested</B></blockquote>",
        "&lt;tag&gt; &amp; &quot;q&quot; &#39; &#x1F600;",
        "a > b",
    ],
)
def test_valid_html(text: str) -> None:
    assert validate_telegram_html(text) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("AT&T", 'Unescaped "&"'),
        ("&nbsp;", 'Unescaped "&"'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<br/>", 'Unsupported start tag "br/"'),
        ("é<x>", "byte offset 2"),
    ],
)
def test_invalid_html(text: str, fragment: str) -> None:
    error = validate_telegram_html(text)
    assert error is not None
    assert error.startswith("Bad Request: can't parse entities: ")
    assert fragment in error
