"""Answers about the seed story: the right sentence verbatim, off-topic declined, safe HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import Answer, clean_question
from bot.engine import Engine
from bot.settings import BotSettings
from bot.templates import render, to_plain
from support import HEDGE, reader_with_threshold

EXPECTED = [
    ("Who is Steve Witkoff?", "His envoy, Steve Witkoff, is expected to visit Russia"),
    ("Which ministers were in the Ukrainian delegation?", "The Ukrainian delegation, including"),
    ("What did Svyrydenko say?", "Ukraine's Deputy Prime Minister and Economy Minister"),
    ("Why was the meeting downgraded?", "The meeting was to be held at a ministerial level"),
    ("Does Trump's plan recognize Crimea as Russian?", "U.S. President Donald Trump's peace plan"),
    ("What did Yermak say when he arrived?", '"Despite everything, we continue working'),
]
OFF_TOPIC = [
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
    "Who won the 2022 World Cup?",
    "Recommend a good laptop for programming",
]


@pytest.mark.parametrize(("question", "start"), EXPECTED)
def test_reader_questions_cite_the_expected_sentence(
    seed_engine: Engine, question: str, start: str
) -> None:
    answer = seed_engine.ask(question)
    # Quoted as the answer or, below the reader's answer threshold, as the closest it comes.
    assert answer.quotes, (question, answer.kind)
    assert answer.answered == (answer.kind == "answer")
    first = answer.citations[0]
    assert first.sentence.startswith(start)
    body = seed_engine.store.articles[first.article].body
    assert body[first.start : first.end] == first.sentence
    assert first.sentence in to_plain(answer.text)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_declined(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert not answer.answered
    assert "not in the story" in answer.text or "doesn't say" in answer.text
    assert answer.citations, "a declined answer still lists the closest sentences"


def test_empty_question_gets_a_prompt_not_an_answer(seed_engine: Engine) -> None:
    answer = seed_engine.ask("   \n\t ")
    assert not answer.answered
    assert answer.citations == []
    assert "Ask me a question" in answer.text


def test_templates_escape_story_and_question_html() -> None:
    citation = {
        "sentence": 'He said <b>"5 < 6"</b> & left',
        "title": "A <i>title</i>",
        "source": "A <i>title</i>",
        "url": None,
        "link": 'https://example.com/?a=1&b="2"',
        "paragraph": 2,
    }
    text = render("answer", citations=[citation], changed=False)
    assert "<b>&#34;5" not in text and "&lt;b&gt;" in text
    assert "&amp; left" in text
    assert 'href="https://example.com/?a=1&amp;b=&#34;2&#34;"' in text
    assert "A &lt;i&gt;title&lt;/i&gt;" in text
    assert to_plain(text).startswith('He said <b>"5 < 6"</b> & left')


def test_clean_question_drops_control_characters_and_caps_length() -> None:
    assert clean_question("  who\x00 is\u200b\n\nhe? ") == "who is he?"
    assert len(clean_question("why " * 1000)) == 1000


def test_summary_cites_distinct_sentences_in_story_order(seed_engine: Engine) -> None:
    answer = seed_engine.summary(None, 4)
    assert answer.answered and len(answer.citations) == 4
    starts = [c.start for c in answer.citations]
    assert starts == sorted(starts)
    assert len(set(starts)) == 4


def test_summary_on_an_uncovered_topic_is_declined(seed_engine: Engine) -> None:
    answer = seed_engine.summary("sourdough baking recipes")
    assert not answer.answered
    assert "not in the story" in answer.text


def test_a_sentence_repeated_word_for_word_is_cited_once_and_one_with_another_figure_kept() -> None:
    from bot.answer import distinct
    from index.search import Hit
    from index.splitter import Sentence

    texts = [
        "Talks resume on 23 April in London.",
        "Talks resume on 24 April in London.",  # another date: another fact, embedded alike
        "talks resume on 23 April  in London",  # the follow-up's copy of the first
        "Rubio’s trip was cancelled.",
        "Rubio's trip was cancelled!",
    ]
    hits = [
        Hit(n, Sentence(f"story-{n}.txt", 1, 0, len(text), text), 1.0 - n / 10)
        for n, text in enumerate(texts)
    ]
    assert [hit.index for hit in distinct(hits, 10)] == [0, 1, 3]
    assert [hit.index for hit in distinct(hits, 2)] == [0, 1]


def test_an_engine_answers_on_one_thread_per_question(seed_engine: Engine) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=2)  # as a process starts on this 2-core machine
    Engine(seed_engine.settings)
    pools = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    assert pools and all(threads == 1 for _, threads in pools), pools


def test_the_answer_threshold_decides_answer_or_hedge_and_never_the_quote(
    seed_settings: BotSettings, tmp_path: Path
) -> None:
    def ask(threshold: float) -> Answer:
        reader = reader_with_threshold(tmp_path / f"reader-{threshold}", threshold)
        engine = Engine(seed_settings.model_copy(update={"reader": str(reader)}))
        return engine.ask("Who is Steve Witkoff?")

    sure, unsure = ask(0.0), ask(1.01)  # confidence is a probability: never above 1
    assert (sure.kind, sure.answered, unsure.kind, unsure.answered) == (
        "answer",
        True,
        "related",
        False,
    )
    assert sure.citations == unsure.citations and sure.confidence == unsure.confidence
    assert to_plain(sure.text).startswith(sure.citations[0].sentence)
    assert to_plain(unsure.text).startswith(HEDGE + "\n" + sure.citations[0].sentence)
