"""Native quotes (bot/telegram/quotes.py): the sentence at its UTF-16 place in the post, or None
where Telegram would refuse it; checked against the fake Bot API's check, which is Telegram's."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, MessageEntity, ReplyParameters
from telegram.error import BadRequest

from bot.telegram.quotes import QUOTE_LIMIT, Quote, formatting_spans, quote_in, refused_quote
from fakebot import DEFAULT_GROUP_ID, FakeBotAPI, utf16_len

POST = "Bridge shut 🚧.\nIt reopens in May, the city said. Tolls stay at 2 euros."


async def at_the_fake(
    server: FakeBotAPI, post: str, quote: Quote, spans: list[dict[str, Any]]
) -> str | None:
    """Telegram's (the fake's) verdict on a reply to `post` quoting `quote`: None if accepted."""
    server.link_discussion(-1003, DEFAULT_GROUP_ID)
    forward = server.forward_of(server.channel_post(post, chat_id=-1003, entities=spans))
    parameters = ReplyParameters(
        forward["message_id"], quote=quote.text, quote_position=quote.position
    )
    async with Bot(server.token, base_url=f"{server.url}/bot") as bot:
        try:
            await bot.send_message(DEFAULT_GROUP_ID, "answer", reply_parameters=parameters)
        except BadRequest as exc:
            return exc.message
    return None


@pytest.mark.parametrize(
    "sentence", ["It reopens in May, the city said.", "Tolls stay at 2 euros."]
)
async def test_a_sentence_after_an_emoji_is_placed_in_utf16_units(
    server: FakeBotAPI, sentence: str
) -> None:
    start = POST.index(sentence)
    quote = quote_in(POST, sentence, start)
    assert quote == Quote(sentence, start + 1), "the sign before it counts twice"
    assert quote is not None
    assert await at_the_fake(server, POST, quote, []) is None


def test_a_sentence_the_post_no_longer_has_where_it_was_is_found_where_it_is_now() -> None:
    edited = "Update: " + POST
    sentence = "Tolls stay at 2 euros."
    assert quote_in(edited, sentence, POST.index(sentence)) == Quote(
        sentence, utf16_len(edited[: edited.index(sentence)])
    )
    assert quote_in(POST.replace("2 euros", "3 euros"), sentence, 50) is None


async def test_formatting_that_touches_the_sentence_rules_the_quote_out(server: FakeBotAPI) -> None:
    sentence = "It reopens in May, the city said."
    place = utf16_len(POST[: POST.index(sentence)])
    bold_inside = [{"offset": place + 3, "length": 7, "type": "bold"}]
    spans = formatting_spans([MessageEntity("bold", place + 3, 7)])
    assert quote_in(POST, sentence, POST.index(sentence), spans) is None
    plain = quote_in(POST, sentence, POST.index(sentence))
    assert plain is not None
    assert await at_the_fake(server, POST, plain, bold_inside) == "Quote not found"
    # Formatting next to it, and links, do not matter.
    beside = [
        MessageEntity("bold", 0, place),
        MessageEntity("url", place, 10),
        MessageEntity("mention", place, 4),
    ]
    assert quote_in(POST, sentence, POST.index(sentence), formatting_spans(beside)) == plain


def test_a_sentence_over_telegrams_quote_limit_is_not_quoted() -> None:
    longest = "a" * (QUOTE_LIMIT - 1) + "."
    assert quote_in(longest, longest, 0) == Quote(longest, 0)
    emoji = "🚧" * (QUOTE_LIMIT // 2) + "."  # 1025 UTF-16 units in 513 characters
    assert quote_in(emoji, emoji, 0) is None


def test_telegrams_refusals_of_a_quote_are_told_apart_from_other_400s() -> None:
    assert refused_quote(BadRequest("Bad Request: quote not found"))
    assert refused_quote(BadRequest("Bad Request: QUOTE_TEXT_INVALID"))
    assert not refused_quote(BadRequest("Bad Request: message to be replied not found"))
