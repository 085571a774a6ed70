"""Inline mode: `@botname question` in any chat offers up to three cited answers to pick from.

Each result quotes one story sentence: the title shows the sentence, the description its source,
and picking it posts the question with the quote and its source link (Telegram HTML), so the
chat sees what was asked. A question the reader is unsure of gets the closest sentences under a
button saying the story may not say exactly; one the story does not cover gets no results, only
the button above the (empty) list saying so; an empty query gets a button that explains how to ask.
"""

from __future__ import annotations

import hashlib

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode

from bot.answer import Answer, Citation
from bot.telegram.telegram_text import split_message
from bot.templates import render

MAX_RESULTS = 3
TITLE_CHARS = 120
CACHE_SECONDS = 60
EMPTY_BUTTON = InlineQueryResultsButton(
    text="Type a question about the story", start_parameter="help"
)
HEDGED_BUTTON = InlineQueryResultsButton(
    text="The story may not say exactly — the closest it comes:", start_parameter="help"
)
DECLINED_BUTTON = InlineQueryResultsButton(
    text="That's not in the story — see what I can answer", start_parameter="help"
)


def _short(text: str, limit: int = TITLE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _result(question: str, citation: Citation, rank: int) -> InlineQueryResultArticle:
    html = render(
        "inline_answer",
        question=question,
        citations=[citation],
        changed=citation.status == "changed",
        previous=citation.previous,
    )
    key = f"{citation.article}:{citation.start}:{citation.end}"
    return InlineQueryResultArticle(
        id=f"{rank}-{hashlib.sha1(key.encode()).hexdigest()[:16]}",
        title=_short(citation.sentence),
        description=f"{citation.source}, paragraph {citation.paragraph}",
        input_message_content=InputTextMessageContent(
            split_message(html)[0],
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )


def inline_results(answer: Answer) -> list[InlineQueryResultArticle]:
    """Up to MAX_RESULTS results, best first, for an answered or hedged question (the button
    above a hedge's list says the story may not say exactly); none for a declined one."""
    if not answer.quotes:
        return []
    question = _short(" ".join(answer.question.split()), 200)
    return [_result(question, c, n) for n, c in enumerate(answer.citations[:MAX_RESULTS])]


def inline_button(answer: Answer) -> InlineQueryResultsButton | None:
    """The button above an answer's results: none for an answer, the hedge for a hedge, "not in
    the story" when there are no results."""
    if not answer.quotes:
        return DECLINED_BUTTON
    return None if answer.answered else HEDGED_BUTTON
