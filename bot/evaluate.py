"""Evaluation: labelled question sets through the bot's own answer path, scored and tabulated.

Every question goes through `bot.answer.answer_query` (encode, search, read, decide, render), so
the tables measure what a reader gets. Ten citations are requested so that MRR@10 and recall@5
can be read off them; the reply's kind does not depend on that number. P@1 counts the first
citation whatever the reply's kind (a hedge or a decline still lists the closest sentences).

A set is asked either as one newsroom (every story in one index, as the bot serves them) or per
story (each question answered from its own story only, as `--story ID` does). Beside the ranking
table, the reply table says what readers were told — an answer, a hedge ("the story doesn't say
exactly — the closest it comes") or a decline — and the risk–coverage table how that trades off
as the confidence needed to present an answer rises.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answer import Answer, AnswerKind, answer_query, read_question
from index.embedder import Encoder
from index.quality.evalsets import EvalQuestion, EvalSet, covers_gold, eval_store
from index.quality.metrics import auroc, first_gold, mrr, precision_at_1, recall_at
from index.reader import Reader
from index.store import Store
from index.substore import narrow

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

    @property
    def right(self) -> bool:
        """The story answers the question and the first quote is a gold sentence."""
        return self.question.answerable and self.rank == 0

    @property
    def presented(self) -> bool:
        """The reply presents its quote as the answer (not a hedge, not a decline)."""
        return self.kind == "answer"


@dataclass(frozen=True)
class Run:
    """A set as it is asked: by `name`, from one index of all its stories, or `per_story`."""

    name: str
    evalset: EvalSet
    per_story: bool = False


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
    answers: int = 0  # replies presented as the answer
    answers_right: float = float("nan")  # of those, the share whose quote answers
    answerable_hedged: float = float("nan")
    answerable_refused: float = float("nan")  # declined outright (no quote offered as close)
    not_in_story_hedged: float | None = None
    not_in_story_answered: float | None = None


def _cites_gold(answer: Answer, question: EvalQuestion) -> list[bool]:
    return [covers_gold(question, c.article, c.start, c.end) for c in answer.citations]


def run_set(
    store: Store,
    encoder: Encoder,
    evalset: EvalSet,
    reader: Reader | None = None,
    per_story: bool = False,
) -> list[Outcome]:
    """Ask every question of the set, timing each one (question encoding and reading included);
    `per_story` answers each from its own story only (the bot's `--story`)."""
    answer_query(store, "warm up", read_question(encoder, "warm up"), reader=reader)
    scoped: dict[str, Store] = {}
    outcomes = []
    for question in evalset.questions:
        source = store
        if per_story:
            if question.story not in scoped:
                scoped[question.story] = narrow(store, {question.story})
            source = scoped[question.story]
        started = time.perf_counter()
        query = read_question(encoder, question.question)
        answer = answer_query(source, question.question, query, CITATIONS, reader=reader)
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
    # Off-topic: declined outright ("that's not in the story"), not merely hedged.
    off_topic = [o.kind == "declined" for o in outcomes if o.question.kind == "off-topic"]
    outside = [o for o in outcomes if o.question.kind == "not-in-story"]
    not_in_story = [not o.answered for o in outside]
    answers = [o for o in outcomes if o.presented]
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
        answers=len(answers),
        answers_right=_share([o.right for o in answers]),
        answerable_hedged=_share([o.kind == "related" for o in answerable]),
        answerable_refused=_share([o.kind == "declined" for o in answerable]),
        not_in_story_hedged=_share([o.kind == "related" for o in outside]) if outside else None,
        not_in_story_answered=_share([o.presented for o in outside]) if outside else None,
    )


def evaluate(
    runs: list[Run],
    cache_dir: Path,
    encoder: Encoder,
    params: dict[str, Any],
    passage_sentences: int = 5,
    questions: Encoder | None = None,
    reader: Reader | None = None,
) -> dict[str, list[Outcome]]:
    """Index each set with `encoder` (cached by content and config) and ask its questions,
    encoding them with `questions` (the bot's query encoder) or else `encoder`, and choosing
    the sentence with `reader` (the bot's) when given. Run name → outcomes."""
    outcomes = {}
    for run in runs:
        store = eval_store(run.evalset, cache_dir, encoder, params, passage_sentences)
        outcomes[run.name] = run_set(
            store, questions or encoder, run.evalset, reader, run.per_story
        )
    return outcomes


HEADER = (
    "| set | questions (ans/unans) | P@1 | MRR@10 | R@5 | unans. not answered "
    "| ans. not answered | AUROC | off-topic declined | not-in-story not answered | latency ms |"
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


REPLY_HEADER = (
    "| set | first quote right | answers given | answers right | answerable: hedged / declined "
    "| not in story: answered / hedged / declined | off-topic declined |"
)


def _optional(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def reply_table(reports: list[Report]) -> str:
    """What readers were told, per set: answers (and how many were right), hedges, declines."""
    lines = [REPLY_HEADER, "|" + "---|" * 7]
    for r in reports:
        outside = "—"
        if r.not_in_story_answered is not None and r.not_in_story_hedged is not None:
            declined = 1 - r.not_in_story_answered - r.not_in_story_hedged
            outside = (
                f"{r.not_in_story_answered:.2f} / {r.not_in_story_hedged:.2f} / {declined:.2f}"
            )
        lines.append(
            f"| {r.name} | {r.p_at_1:.3f} | {r.answers} | {r.answers_right:.3f} "
            f"| {r.answerable_hedged:.2f} / {r.answerable_refused:.2f} | {outside} "
            f"| {_optional(r.off_topic_declined)} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class RiskPoint:
    """Answers presented at confidence ≥ `threshold`: how many of the answerable questions get
    a right quote (coverage) and how many of the presented answers are wrong (risk)."""

    threshold: float
    coverage: float
    risk: float
    answers: int


def risk_coverage(outcomes: list[Outcome], thresholds: list[float]) -> list[RiskPoint]:
    """The risk–coverage trade-off at each threshold; an unanswerable question presented with
    an answer counts as wrong."""
    answerable = sum(o.question.answerable for o in outcomes)
    points = []
    for t in thresholds:
        shown = [o for o in outcomes if o.confidence >= t]
        right = sum(o.right for o in shown)
        points.append(
            RiskPoint(
                t,
                right / answerable if answerable else float("nan"),
                (len(shown) - right) / len(shown) if shown else 0.0,
                len(shown),
            )
        )
    return points


RISK_THRESHOLDS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def risk_table(named: dict[str, list[Outcome]], marked: float | None = None) -> str:
    """Coverage / risk per set at each threshold (columns); `marked` (the bot's own threshold)
    is added as a column in bold."""
    grid = sorted({*RISK_THRESHOLDS, *([round(marked, 3)] if marked is not None else [])})
    heads = [
        f"**≥ {t:g}**" if marked is not None and t == round(marked, 3) else f"≥ {t:g}" for t in grid
    ]
    lines = [
        "| set (coverage / risk) | " + " | ".join(heads) + " |",
        "|" + "---|" * (len(grid) + 1),
    ]
    for name, outcomes in named.items():
        cells = [f"{p.coverage:.2f} / {p.risk:.2f}" for p in risk_coverage(outcomes, grid)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def risk_plot(named: dict[str, list[Outcome]], path: Path, marked: float | None = None) -> None:
    """Risk against coverage as the confidence threshold sweeps, one line per set, as a PNG;
    the bot's own threshold marked on each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 5), dpi=110)
    sweep = [i / 100 for i in range(101)]
    for name, outcomes in named.items():
        points = risk_coverage(outcomes, sweep)
        line = axes.plot([p.coverage for p in points], [p.risk for p in points], label=name)
        if marked is not None:
            (here,) = risk_coverage(outcomes, [marked])
            axes.plot(here.coverage, here.risk, marker="o", color=line[0].get_color())
    axes.axhline(0.10, color="grey", linestyle=":", label="10% of answers wrong")
    axes.set_xlabel("coverage: answerable questions answered with a right quote")
    axes.set_ylabel("risk: answers presented that are wrong")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left", fontsize="small")
    axes.set_title("storybot: risk against coverage (dot: the bot's threshold)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


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


SET_NAMES = ("dev", "test", "seed", "newsqa")


def load_runs(
    names: list[str], squad_dir: Path, seed: Path, stories: Path, newsqa: Path
) -> list[Run]:
    """The named sets as they are asked: `dev` and `test` from the SQuAD folder, `seed` from the
    seed file, `newsqa` (or any other questions file, by its path) per story and as one
    newsroom."""
    from index.quality.evalsets import load_questions, load_seed, load_squad

    runs = []
    for name in names:
        if name == "seed":
            runs.append(Run("seed", load_seed(seed, stories)))
        elif name in ("dev", "test"):
            runs.append(Run(name, load_squad(Path(squad_dir) / f"{name}.json")))
        else:
            path = newsqa if name == "newsqa" else Path(name)
            evalset = load_questions(path)
            label = "newsqa" if name == "newsqa" else path.stem
            runs.append(Run(label, evalset, per_story=True))
            if len(evalset.articles) > 1:
                runs.append(Run(f"{label} (newsroom)", evalset))
    return runs
