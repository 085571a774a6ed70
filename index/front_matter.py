"""Front matter: the YAML block between two `---` lines that may open a `.txt` or Markdown story.

`title`, `url`, `published` and `updated` are read from it; every error names the file's line
(`line 3: malformed front matter: ...`). The block is there when the first line is `---` and the
second a `key:` (or the closing `---`); one that is never closed is an error, rather than a story
whose first sentences are its own metadata.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

import yaml

from index.errors import BadArticle

MAX_FIELD_CHARS = 500
_BLOCK = re.compile(r"\A---[ \t]*\n(.*?)\n?^---[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE)
# The block opens with `---` and then a key (or closes at once): a story that merely starts with
# a `---` rule is body text.
_OPENED = re.compile(r"\A---[ \t]*\n(?:[^\s#:-][^\n:]*:|---)")


@dataclass(frozen=True)
class FrontMatter:
    """The fields of a story's front matter and the file line each key is on."""

    fields: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def text(self, key: str, rel: str) -> str | None:
        """The field as short text (None when absent or empty), or BadArticle naming its line."""
        value = self.fields.get(key)
        if value is None or value == "":
            return None
        where = f"{rel}: line {self.lines.get(key, 2)}"
        # A list or mapping is no title, and printing one can be ruinous: a YAML alias "billion
        # laughs" is a few lines of front matter whose text runs to gigabytes.
        if not isinstance(value, str | int | float | datetime.date):
            raise BadArticle(
                f"{where}: front matter field {key!r} must be text, not a list or mapping"
            )
        text = str(value).strip()
        if len(text) > MAX_FIELD_CHARS:
            raise BadArticle(
                f"{where}: front matter field {key!r} is over {MAX_FIELD_CHARS} characters"
            )
        return text


def split_front_matter(text: str, rel: str) -> tuple[FrontMatter, str]:
    """The front matter of `text` (newlines already `\\n`) and the body after it."""
    if not _OPENED.match(text):
        return FrontMatter(), text
    match = _BLOCK.match(text)
    if not match:
        raise BadArticle(f"{rel}: line 1: front matter is never closed by a '---' line")
    return _parse(match.group(1), rel), text[match.end() :]


def _parse(source: str, rel: str) -> FrontMatter:
    loader = yaml.SafeLoader(source)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 2}: " if mark else ""  # + the opening `---`, counting from 1
        what = ", ".join(str(part) for part in (exc.context, exc.problem) if part) or str(exc)
        raise BadArticle(f"{rel}: {line}malformed front matter: {what}") from exc
    except yaml.YAMLError as exc:
        raise BadArticle(f"{rel}: malformed front matter ({exc.__class__.__name__})") from exc
    finally:
        loader.dispose()
    if not isinstance(value, dict):
        raise BadArticle(f"{rel}: line 2: front matter is not a mapping of keys to values")
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        lines = {str(key.value): key.start_mark.line + 2 for key, _ in node.value}
    return FrontMatter(value, lines)
