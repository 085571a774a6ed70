"""Evaluation sets: SQuAD answer_start offsets and seed gold sentences become gold sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.errors import BadEvalSet
from index.quality.evalsets import (
    EvalQuestion,
    covers_gold,
    is_gold,
    load_seed,
    load_squad,
    ranked_elsewhere,
)
from index.splitter import split_article
from support import DATA, SEED_STORIES

PARAGRAPHS = [
    "The Normans lived in France. They gave their name to Normandy. Rollo was their leader.",
    "In 1066 William invaded England. He won at Hastings.",
]


def squad_file(tmp_path: Path) -> Path:
    qas = [
        [
            {"question": "Who led them?", "answers": [{"text": "Rollo", "answer_start": 63}]},
            {"question": "What did Rollo eat?", "answers": [], "is_impossible": True},
        ],
        [
            {
                "question": "When was England invaded?",
                "answers": [
                    {"text": "1066", "answer_start": 3},
                    {"text": "Hastings", "answer_start": 43},
                ],
            }
        ],
    ]
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "The_Normans",
                "paragraphs": [
                    {"context": c, "qas": q} for c, q in zip(PARAGRAPHS, qas, strict=True)
                ],
            }
        ],
    }
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data))
    return path


def gold_texts(sentences: list, question: EvalQuestion) -> list[str]:
    return [s.text for s in sentences if is_gold(s, question)]


def test_squad_answer_start_marks_the_sentence_that_contains_it(tmp_path: Path) -> None:
    evalset = load_squad(squad_file(tmp_path))
    (article,) = evalset.articles
    assert article.title == "The Normans"
    assert article.body == "\n\n".join(PARAGRAPHS)
    sentences = split_article(article)
    who, impossible, when = evalset.questions
    assert gold_texts(sentences, who) == ["Rollo was their leader."]
    assert not impossible.answerable and impossible.kind == "unanswerable"
    # Annotators' answers in two sentences: both are gold. Offsets count from the paragraph.
    assert gold_texts(sentences, when) == [
        "In 1066 William invaded England.",
        "He won at Hastings.",
    ]
    assert {q.story for q in evalset.questions} == {article.id}


def test_seed_gold_sentences_are_sentences_of_the_story() -> None:
    evalset = load_seed(DATA / "seed_questions.json", SEED_STORIES)
    sentences = split_article(evalset.articles[0])
    answerable = [q for q in evalset.questions if q.answerable]
    assert len(answerable) >= 40
    assert sum(q.kind == "off-topic" for q in evalset.questions) >= 10
    for question in answerable:
        assert gold_texts(sentences, question), question.question


def test_seed_gold_not_in_the_story_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    story = "2025-04-23-london-talks.txt"
    path.write_text(
        json.dumps({"story": story, "answerable": [{"question": "q", "gold": ["x y"]}]})
    )
    with pytest.raises(BadEvalSet, match="gold sentence not in"):
        load_seed(path, SEED_STORIES)


def test_unreadable_squad_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadEvalSet):
        load_squad(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"no": "data"}')
    with pytest.raises(BadEvalSet, match="SQuAD"):
        load_squad(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("start", "end", "right"),
    [
        (10, 30, True),  # the gold sentence itself
        (0, 40, True),  # a longer quote containing it
        (10, 20, True),  # inside it, half its length
        (12, 20, False),  # inside it, under half
        (25, 45, False),  # overlapping, neither inside nor containing
    ],
)
def test_a_quote_is_right_when_it_is_contains_or_mostly_is_a_gold_sentence(
    start: int, end: int, right: bool
) -> None:
    question = EvalQuestion("q", (), "answerable", "a.txt", (("a.txt", 10, 30),))
    assert covers_gold(question, "a.txt", start, end) is right
    assert not covers_gold(question, "b.txt", 10, 30)


def test_answerable_questions_asked_elsewhere_are_ranked_in_the_other_articles_only(
    tmp_path: Path, embedder: Embedder
) -> None:
    # The sample's two articles: each answerable question asked of the other one (issue 21's
    # synthetic "not in the story" question of a story about something else).
    evalset = load_squad(DATA / "squad_sample.json")
    answerable = [q for q in evalset.questions if q.answerable]
    asked = list(ranked_elsewhere(evalset, tmp_path / "cache", embedder, 5))
    assert [q for _, q, _ in asked] == answerable
    for store, question, result in asked:
        own = {article for article, _ in question.gold}
        assert result.hits and own.isdisjoint(store.articles)
        assert all(h.sentence.article not in own for h in result.hits)
