"""What readers asked, reported (`/asked`, `storybot asked`) and exported as an evaluation set.

Per story: how many questions, from how many readers (distinct asker hashes), their outcomes and
votes; the questions the story does not answer (the reply said it touches on them, or that they
are not in it), most asked first, near-duplicates grouped — "where is rubio now", "Where's
Rubio?" — by their embeddings (cosine at least SAME_QUESTION with the group's most-asked
wording); and the quotes readers marked 👎.

`exported` gives the marked questions in ../shared/newsqa/questions.json's shape, for `storybot
eval --set FILE`: a question with a sentence more readers marked 👍 than 👎 (and still in the
story) is `answerable`, those sentences its gold; one without is `unlabelled` (the evaluation
skips it), the sentences readers rejected kept under `rejected` for whoever labels it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.asked import Ask, AskedLog, Mark
from bot.templates import render
from index.embedder import Encoder
from index.errors import ExportRefused
from index.store import Store
from index.stories import Catalog, Story

# Measured on the packaged model: rewordings of one question score 0.78-0.85 ("How do I bake
# sourdough bread?" / "sourdough bread recipe?" 0.85, "When will the talks resume?" / "when do
# talks start again" 0.78); questions that only share a subject 0.69-0.74 ("Is it raining in
# London?" / "What's the weather in London today?" 0.74, "Where is Rubio now?" / "Will Rubio go
# to Moscow?" 0.72).
SAME_QUESTION = 0.75
SHOWN = 10  # groups and rejected quotes listed per story
EXPORTED_BY = "storybot asked --export"
OUTCOMES = ("answer", "related", "declined")
UNANSWERED = frozenset({"related", "declined"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


@dataclass(frozen=True)
class Group:
    """Questions asking the same thing: the most asked wording, how often and by how many
    readers, and the other wordings (most asked first)."""

    question: str
    asked: int
    askers: int
    wordings: list[str]


@dataclass(frozen=True)
class Rejected:
    """A quote readers marked 👎 for a question, and how many answers it was marked on."""

    question: str
    sentence: str
    paragraph: int
    marks: int


@dataclass(frozen=True)
class StoryAsked:
    """What readers asked about one story (`story` None: about none in particular)."""

    story: str | None
    title: str
    asked: int = 0
    askers: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    votes: dict[str, int] = field(default_factory=lambda: {"good": 0, "bad": 0})
    unanswered: list[Group] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `storybot asked --json` shape of one story."""
        return asdict(self)


def parse_since(text: str, now: float) -> float:
    """`--since`: a duration back from `now` (`90m`, `12h`, `1d`, `2w`) or a date (`2026-05-01`,
    UTC unless it says otherwise) → a Unix time; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now - float(match[1]) * _UNITS[match[2]]
    moment = datetime.datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def normal(question: str) -> str:
    """A question as exact grouping compares it: its words, case folded."""
    return " ".join(re.findall(r"\w+", question.casefold()))


def group_questions(asks: Sequence[Ask], encoder: Encoder) -> list[Group]:
    """`asks` grouped by what they ask: word-for-word repeats, then wordings whose embeddings
    are within SAME_QUESTION of a more asked one; the most asked group first."""
    same: dict[str, list[Ask]] = defaultdict(list)
    for ask in asks:
        same[normal(ask.question)].append(ask)
    if not same:
        return []
    # Most asked first (then first asked): a group is named by, and compared with, its top.
    keys = sorted(same, key=lambda k: (-len(same[k]), same[k][0].at))
    shown = {k: Counter(a.question for a in same[k]).most_common(1)[0][0] for k in keys}
    vectors = encoder.encode([shown[k] for k in keys])
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    tops: list[int] = []  # the row of each group's first wording
    members: list[list[str]] = []
    for row, key in enumerate(keys):
        sims = [float(vectors[row] @ vectors[top]) for top in tops]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= SAME_QUESTION:
            members[best].append(key)
        else:
            tops.append(row)
            members.append([key])
    groups = []
    for keys_of in members:
        grouped = [a for k in keys_of for a in same[k]]
        groups.append(
            Group(
                shown[keys_of[0]],
                len(grouped),
                len({a.asker for a in grouped}),
                [shown[k] for k in keys_of[1:]],
            )
        )
    return sorted(groups, key=lambda g: (-g.asked, -g.askers))


def rejected_quotes(marks: Sequence[Mark]) -> list[Rejected]:
    """The 👎 quotes, by question (word for word) and sentence, the most marked first."""
    found: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    for mark in marks:
        if mark.vote == "bad":
            found[(normal(mark.question), mark.sentence)].append(mark)
    quotes = [
        Rejected(ms[0].question, ms[0].sentence, ms[0].paragraph, len({m.ask for m in ms}))
        for ms in found.values()
    ]
    return sorted(quotes, key=lambda r: -r.marks)


def report(
    log: AskedLog,
    encoder: Encoder,
    catalog: Catalog,
    stories: Sequence[Story] = (),
    since: float = 0.0,
    limit: int = SHOWN,
) -> list[StoryAsked]:
    """What readers asked since `since`, per story: of `stories`, else of every story asked
    about (the most asked first)."""
    asks: dict[str | None, list[Ask]] = defaultdict(list)
    for ask in log.asks(since):
        asks[ask.story].append(ask)
    marks: dict[str | None, list[Mark]] = defaultdict(list)
    for mark in log.marks(since):
        marks[mark.story].append(mark)
    if stories:
        keys: list[str | None] = [s.id for s in stories]
    else:
        keys = sorted(set(asks) | set(marks), key=lambda k: (-len(asks[k]), k or ""))
    out = []
    for key in keys:
        story = catalog.get(key) if key else None
        title = story.label if story else (key or "no story in particular")
        these, voted = asks.get(key, []), marks.get(key, [])
        outcomes = Counter(a.outcome for a in these)
        votes = Counter(m.vote for m in voted)
        # A hedged question whose quote its reader marked 👍 was answered after all.
        confirmed = {m.ask for m in voted if m.vote == "good"}
        unanswered = [a for a in these if a.outcome in UNANSWERED and a.id not in confirmed]
        out.append(
            StoryAsked(
                key,
                title,
                len(these),
                len({a.asker for a in these}),
                {o: outcomes[o] for o in OUTCOMES},
                {v: votes[v] for v in ("good", "bad")},
                group_questions(unanswered, encoder)[:limit],
                rejected_quotes(voted)[:limit],
            )
        )
    return out


def render_report(stories: Sequence[StoryAsked], days: int, since: float | None = None) -> str:
    """The report as Telegram HTML (the CLI prints it as plain text)."""
    if days <= 0:
        return "Nothing readers ask is kept here (STORYBOT_QUESTION_RETENTION is 0)."
    when = (
        f"since {datetime.datetime.fromtimestamp(since, datetime.UTC):%d %b %Y, %H:%M} UTC"
        if since
        else f"in the last {days} day{'s' if days != 1 else ''}"
    )
    return render("asked", stories=stories, when=when, days=days)


def exported(
    log: AskedLog,
    store: Store,
    catalog: Catalog,
    stories_dir: Path,
    stories: Sequence[Story] = (),
    since: float = 0.0,
) -> dict[str, Any]:
    """The marked questions (of `stories`, else all) as an evaluation set: questions.json's
    shape, with `stories_dir` (absolute) naming the folder their story files are in.

    Gold must be in the story as it is now (`store`, the served build): a sentence an update
    rewrote or removed since it was marked is listed under `outdated` instead, and a question
    left without gold, or whose story is gone, is `unlabelled`. Only stories still served are
    listed, so the evaluation can read every one.
    """
    wanted = {s.id for s in stories}
    tally: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    wording: dict[tuple[str, str], str] = {}
    for mark in log.marks(since):
        if not mark.file or (wanted and mark.story not in wanted):
            continue
        key = (mark.file, normal(mark.question))
        wording.setdefault(key, mark.question)
        tally[key][mark.sentence][mark.vote] += 1
    questions = []
    for (file, normalised), sentences in tally.items():
        article = store.articles.get(file)
        liked = [s for s, v in sentences.items() if v["good"] > v["bad"]]
        gold = [s for s in liked if article is not None and s in article.body]
        entry: dict[str, Any] = {
            "story": file,
            "q": wording[(file, normalised)],
            "kind": "answerable" if gold else "unlabelled",
            "gold": gold,
        }
        for extra, found in (
            ("rejected", [s for s, v in sentences.items() if v["bad"] > v["good"]]),
            ("outdated", [s for s in liked if s not in gold]),
        ):
            if found:
                entry[extra] = found
        questions.append(entry)
    listed = []
    for file in sorted({q["story"] for q in questions} & set(store.articles)):
        story = catalog.of_file(file)
        listed.append({"file": file, "title": story.title if story else file})
    return {
        "exported_by": EXPORTED_BY,
        "stories_dir": str(Path(stories_dir).resolve()),
        "stories": listed,
        "questions": questions,
    }


def write_export(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` whole (a temporary file renamed into place), replacing only an
    earlier export: any other file there is left untouched (ExportRefused)."""
    if path.exists():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            earlier = None
        if not isinstance(earlier, dict) or earlier.get("exported_by") != EXPORTED_BY:
            raise ExportRefused(f"{path} exists and is not an earlier export; choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=1)
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
