"""Answer quality on the seed story with the real model, through the bot's answer path."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.evaluate import Outcome, run_set, summarize
from index.quality.evalsets import load_seed
from support import DATA, SEED_STORIES


@pytest.fixture(scope="module")
def outcomes(seed_engine: Engine) -> list[Outcome]:
    evalset = load_seed(DATA / "seed_questions.json", SEED_STORIES)
    return run_set(seed_engine.store, seed_engine.encoder, evalset, seed_engine.reader)


def test_seed_questions_cite_the_gold_sentence_first(outcomes: list[Outcome]) -> None:
    report = summarize("seed", outcomes)
    # docs/evaluation.md: 0.807 (67 of 83) with the reader choosing among the retriever's best
    # four (retrieval alone: 0.735); the goal is 0.95. The bar leaves one question of slack.
    assert report.p_at_1 >= 0.79
    assert report.mrr >= 0.85


def test_every_off_topic_question_is_declined(outcomes: list[Outcome]) -> None:
    off_topic = [o for o in outcomes if o.question.kind == "off-topic"]
    assert off_topic
    assert all(not o.answered and o.kind == "declined" for o in off_topic)


def test_at_most_three_percent_of_answerable_questions_are_declined(
    outcomes: list[Outcome],
) -> None:
    # Declined: "that's not in the story", no quote. A hedge still quotes the closest sentence.
    answerable = [o for o in outcomes if o.question.answerable]
    assert sum(o.kind == "declined" for o in answerable) <= 0.03 * len(answerable)


def test_confidence_ranks_answerable_above_unanswerable(outcomes: list[Outcome]) -> None:
    # docs/evaluation.md: 0.698 on the 83/63 seed set (the goal is 0.75, not met); the bar
    # sits just under the measured figure so that a regression fails.
    assert summarize("seed", outcomes).auroc >= 0.68
