"""Front matter: the block, its fields' lines, and what is body text."""

from __future__ import annotations

import pytest

from index.errors import BadArticle
from index.front_matter import split_front_matter


def test_the_body_starts_after_the_block_and_keeps_later_rules() -> None:
    meta, body = split_front_matter(
        "---\ntitle: T\n\nurl: https://x.example\n---\nA\n---\nB\n", "a"
    )
    assert meta.fields == {"title": "T", "url": "https://x.example"}
    assert meta.lines == {"title": 2, "url": 4}
    assert body == "A\n---\nB\n"


@pytest.mark.parametrize("text", ["---\n---\nBody.\n", "Body.\n", "---\nA rule, then body.\n"])
def test_empty_or_no_front_matter_has_no_fields(text: str) -> None:
    meta, body = split_front_matter(text, "a")
    assert meta.fields == {}
    assert body == text.removeprefix("---\n---\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "---\ntitle: 'open\n---\nBody.\n",
            "a.md: line 2: malformed front matter: while scanning a quoted scalar, found",
        ),
        ("---\ntitle: T\n- item\n---\nBody.\n", "a.md: line 3: malformed front matter: "),
        ("---\ntitle: T\n", "a.md: line 1: front matter is never closed"),
    ],
)
def test_errors_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(BadArticle) as caught:
        split_front_matter(text, "a.md")
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_field_error_names_the_line_of_its_key() -> None:
    meta, _ = split_front_matter("---\ntitle: T\nupdated: [1, 2]\n---\nBody.\n", "a.md")
    assert meta.text("title", "a.md") == "T"
    with pytest.raises(BadArticle, match=r"^a.md: line 3: front matter field 'updated' must be"):
        meta.text("updated", "a.md")
