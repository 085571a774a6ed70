"""The reply templates: one environment, autoescaped, and the citation's source written once."""

from __future__ import annotations

import pytest

from bot.answer import Citation
from bot.templates import render, to_plain
from support import ROOT

LINK = "https://example.com/news?a=1&b=2#:~:text=Talks%20began"


def citation(link: str | None, label: str = "") -> Citation:
    return Citation(
        "talks.txt", "Talks <live>", None, 2, "Talks began.", 0, 12, 0.9, link=link, label=label
    )


CITING = {
    "answer": {"changed": False, "previous": None},
    "not_in_story": {"related": True, "topics": "the story “Talks”", "several": False},
    "summary": {"topic": None, "story": "Talks", "why": None, "among": 1, "picker": "--story"},
    "whatsnew": {"more": 0, "first": False, "seen": False, "since_time": "1 Dec 2026"},
}


@pytest.mark.parametrize("name", CITING)
def test_every_citing_reply_names_the_source_through_the_one_partial(name: str) -> None:
    linked = render(name, citations=[citation(LINK, "Talks, 2 Apr")], **CITING[name])
    assert '<a href="https://example.com/news?a=1&amp;b=2#:~:text=Talks%20began">' in linked
    assert "Talks, 2 Apr</a>" in linked, "the label, when there is one, names the story"
    unlinked = render(name, citations=[citation(None)], **CITING[name])
    assert "<a " not in unlinked and "Talks &lt;live&gt;" in unlinked, "escaped, not linked"
    bold = "<b>Talks &lt;live&gt;</b>" in unlinked
    assert bold is (name == "answer"), "only an answer's attribution is bold without a link"
    assert "Talks <live>" in to_plain(unlinked)


def test_the_source_link_markup_lives_in_one_template() -> None:
    writers = [p.name for p in (ROOT / "prompts").glob("*.j2") if 'href="{{' in p.read_text()]
    assert writers == ["_source.html.j2"]
