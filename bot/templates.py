"""Rendering: the one jinja2 environment that turns plain reply data into Telegram HTML.

Templates live in the `prompts` package; one named with a leading `_` is a partial the replies
import (`_source.html.j2`: how a citation names and links its story), never a reply itself.
Autoescaping is on for every template, because story text and questions are untrusted and
Telegram rejects a message whose HTML does not parse.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment: package loader, autoescape, StrictUndefined."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("prompts", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Templates change only with a deploy: no file check before every reply.
        auto_reload=False,
    )


def render(name: str, **data: Any) -> str:
    """Render `prompts/<name>.html.j2` with plain data; surrounding whitespace trimmed."""
    return environment().get_template(f"{name}.html.j2").render(**data).strip()


_TAG = re.compile(r"<[^>]*>")
_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)


def to_plain(text: str) -> str:
    """Telegram HTML → terminal text: tags dropped, links as `text (url)`, entities decoded."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    return html.unescape(_TAG.sub("", text))
