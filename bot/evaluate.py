"""Evaluation: labelled question sets through the bot's own answer path, scored and tabulated.

Every question goes through `bot.answer.answer_question` (encode, search, decide, render), so
the table measures what a reader gets. Ten citations are requested so that MRR@10 and recall@5
can be read off them; the answered/declined decision does not depend on that number. P@1 counts
the first citation whether or not the bot declined (a decline still lists the closest sentences).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answer import Answer, AnswerKind, answer_question
from index.embedder import Encoder
from index.quality.evalsets import EvalQuestion, EvalSet, covers_gold, eval_store
from index.quality.metrics import auroc, first_gold, mrr, precision_at_1, recall_at
from index.reader import Reader
from index.store import Store

CITATIONS = 10


@dataclass(frozen=True)
class Outcome:
    """What the bot did with one question."""

    question: EvalQuestion
    rank: int | None
    answered: bool
    kind: AnswerKind
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
    not_in_story_declined: float | None
    latency_ms: float


def _cites_gold(answer: Answer, question: EvalQuestion) -> list[bool]:
    return [covers_gold(question, c.article, c.start, c.end) for c in answer.citations]


def run_set(
    store: Store, encoder: Encoder, evalset: EvalSet, reader: Reader | None = None
) -> list[Outcome]:
    """Ask every question of the set, timing each one (question encoding and reading included)."""
    answer_question(store, encoder, "warm up", reader=reader)
    outcomes = []
    for question in evalset.questions:
        started = time.perf_counter()
        answer = answer_question(
            store, encoder, question.question, citations=CITATIONS, reader=reader
        )
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
    not_in_story = [not o.answered for o in outcomes if o.question.kind == "not-in-story"]
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
        not_in_story_declined=_share(not_in_story) if not_in_story else None,
        latency_ms=1000 * sum(o.seconds for o in outcomes) / max(len(outcomes), 1),
    )


def evaluate(
    sets: list[EvalSet],
    cache_dir: Path,
    encoder: Encoder,
    params: dict[str, Any],
    passage_sentences: int = 5,
    questions: Encoder | None = None,
    reader: Reader | None = None,
) -> dict[str, list[Outcome]]:
    """Index each set with `encoder` (cached by content and config) and ask its questions,
    encoding them with `questions` (the bot's query encoder) or else `encoder`, and choosing
    the sentence with `reader` (the bot's) when given. Set name → outcomes."""
    outcomes = {}
    for evalset in sets:
        store = eval_store(evalset, cache_dir, encoder, params, passage_sentences)
        outcomes[evalset.name] = run_set(store, questions or encoder, evalset, reader)
    return outcomes


HEADER = (
    "| set | questions (ans/unans) | P@1 | MRR@10 | R@5 | unans. declined | ans. declined "
    "| AUROC | off-topic declined | not-in-story declined | latency ms |"
)


def table(reports: list[Report]) -> str:
    """The reports as a Markdown table."""
    lines = [HEADER, "|" + "---|" * 11]
    for r in reports:
        off = "—" if r.off_topic_declined is None else f"{r.off_topic_declined:.2f}"
        nis = "—" if r.not_in_story_declined is None else f"{r.not_in_story_declined:.2f}"
        lines.append(
            f"| {r.name} | {r.answerable}/{r.unanswerable} | {r.p_at_1:.3f} | {r.mrr:.3f} "
            f"| {r.recall_5:.3f} | {r.unanswerable_declined:.2f} | {r.answerable_declined:.2f} "
            f"| {r.auroc:.3f} | {off} | {nis} | {r.latency_ms:.1f} |"
        )
    return "\n".join(lines)


def reliability(outcomes: list[Outcome], bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, share right, count) per confidence bin; "right" means the story
    answers the question and the first citation is a gold sentence."""
    rows = []
    edges = [i / bins for i in range(bins + 1)]
    for low, high in itertools.pairwise(edges):
        inside = [
            o for o in outcomes if low <= o.confidence < high or (high == 1 and o.confidence == 1)
        ]
        if inside:
            mean = sum(o.confidence for o in inside) / len(inside)
            right = sum(o.rank == 0 for o in inside) / len(inside)
            rows.append((mean, right, len(inside)))
    return rows


def reliability_plot(named: dict[str, list[Outcome]], path: Path) -> None:
    """Predicted confidence against observed accuracy, one line per set, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5), dpi=110)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, outcomes in named.items():
        rows = reliability(outcomes)
        axes.plot(
            [r[0] for r in rows],
            [r[1] for r in rows],
            marker="o",
            label=f"{name} ({len(outcomes)})",
        )
    axes.set_xlabel("confidence (bins of 0.1)")
    axes.set_ylabel("share answered right (gold sentence first)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left")
    axes.set_title("storybot: confidence against accuracy")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def load_sets(names: list[str], squad_dir: Path, seed: Path, stories: Path) -> list[EvalSet]:
    """The named sets: `dev` and `test` from the SQuAD folder, `seed` from the seed file."""
    from index.quality.evalsets import load_seed, load_squad

    sets = []
    for name in names:
        if name == "seed":
            sets.append(load_seed(seed, stories))
        else:
            sets.append(load_squad(Path(squad_dir) / f"{name}.json"))
    return sets
