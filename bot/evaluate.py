"""Evaluation: labelled question sets through the bot's own answer path, scored and tabulated.

Every question goes through `bot.answer.answer_question` (encode, search, decide, render), so
the table measures what a reader gets. Ten citations are requested so that MRR@10 and recall@5
can be read off them; the answered/declined decision does not depend on that number. P@1 counts
the first citation whether or not the bot declined (a decline still lists the closest sentences).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answer import Answer, answer_question
from index.embedder import Encoder
from index.evalsets import EvalQuestion, EvalSet, eval_store
from index.metrics import auroc, first_gold, mrr, precision_at_1, recall_at
from index.store import Store

CITATIONS = 10


@dataclass(frozen=True)
class Outcome:
    """What the bot did with one question."""

    question: EvalQuestion
    rank: int | None
    answered: bool
    kind: str
    confidence: float
    seconds: float


@dataclass(frozen=True)
class Report:
    """One row of the evaluation table."""

    name: str
    answerable: int
    unanswerable: int
    p_at_1: float
    mrr: float
    recall_5: float
    unanswerable_declined: float
    answerable_declined: float
    auroc: float
    off_topic_declined: float | None
    latency_ms: float


def _cites_gold(answer: Answer, question: EvalQuestion) -> list[bool]:
    return [
        any(a == c.article and c.start <= o < c.end for a, o in question.gold)
        for c in answer.citations
    ]


def run_set(store: Store, encoder: Encoder, evalset: EvalSet) -> list[Outcome]:
    """Ask every question of the set, timing each one (question encoding included)."""
    answer_question(store, encoder, "warm up")
    outcomes = []
    for question in evalset.questions:
        started = time.perf_counter()
        answer = answer_question(store, encoder, question.question, citations=CITATIONS)
        seconds = time.perf_counter() - started
        rank = first_gold(_cites_gold(answer, question)) if question.answerable else None
        outcomes.append(
            Outcome(question, rank, answer.answered, answer.kind, answer.confidence, seconds)
        )
    return outcomes


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def summarize(name: str, outcomes: list[Outcome]) -> Report:
    """Metrics of one set's outcomes."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    ranks = [o.rank for o in answerable]
    off_topic = [not o.answered for o in outcomes if o.question.kind == "off-topic"]
    return Report(
        name=name,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        p_at_1=precision_at_1(ranks),
        mrr=mrr(ranks, 10),
        recall_5=recall_at(ranks, 5),
        unanswerable_declined=_share([not o.answered for o in unanswerable]),
        answerable_declined=_share([not o.answered for o in answerable]),
        auroc=auroc([o.confidence for o in answerable], [o.confidence for o in unanswerable]),
        off_topic_declined=_share(off_topic) if off_topic else None,
        latency_ms=1000 * sum(o.seconds for o in outcomes) / max(len(outcomes), 1),
    )


def evaluate(
    sets: list[EvalSet],
    cache_dir: Path,
    encoder: Encoder,
    params: dict[str, Any],
    passage_sentences: int = 5,
    questions: Encoder | None = None,
) -> list[Report]:
    """Index each set with `encoder` (cached by content and config) and evaluate it, encoding
    questions with `questions` (the bot's query encoder) or else `encoder`."""
    reports = []
    for evalset in sets:
        store = eval_store(evalset, cache_dir, encoder, params, passage_sentences)
        reports.append(summarize(evalset.name, run_set(store, questions or encoder, evalset)))
    return reports


HEADER = (
    "| set | questions (ans/unans) | P@1 | MRR@10 | R@5 | unans. declined | ans. declined "
    "| AUROC | off-topic declined | latency ms |"
)


def table(reports: list[Report]) -> str:
    """The reports as a Markdown table."""
    lines = [HEADER, "|" + "---|" * 10]
    for r in reports:
        off = "—" if r.off_topic_declined is None else f"{r.off_topic_declined:.2f}"
        lines.append(
            f"| {r.name} | {r.answerable}/{r.unanswerable} | {r.p_at_1:.3f} | {r.mrr:.3f} "
            f"| {r.recall_5:.3f} | {r.unanswerable_declined:.2f} | {r.answerable_declined:.2f} "
            f"| {r.auroc:.3f} | {off} | {r.latency_ms:.1f} |"
        )
    return "\n".join(lines)


def load_sets(names: list[str], squad_dir: Path, seed: Path, stories: Path) -> list[EvalSet]:
    """The named sets: `dev` and `test` from the SQuAD folder, `seed` from the seed file."""
    from index.evalsets import load_seed, load_squad

    sets = []
    for name in names:
        if name == "seed":
            sets.append(load_seed(seed, stories))
        else:
            sets.append(load_squad(Path(squad_dir) / f"{name}.json"))
    return sets
