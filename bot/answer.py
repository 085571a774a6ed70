"""Answers: retrieve, choose the sentence that answers, decide answered/declined, render.

One `Answer` is what the bot sends, what the terminal prints and what `--json` serialises.
Nothing is generated beyond the templates: the reply quotes a story sentence verbatim or declines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from bot.links import text_fragment_url
from bot.templates import render, to_plain
from index.embedder import Encoder
from index.lexical import words
from index.reader import Reader, reread
from index.search import Hit, Query, SearchResult, rank, read
from index.store import Store
from index.stories import Catalog, slug
from index.versions import ChangeStatus

MAX_QUESTION_CHARS = 1000
NEARLY = 0.9
# What a reply is (`kind` in --json): a quoted answer; a hedge (on topic, the reader not sure
# the quote answers); not in the story; no question left after cleaning; a summary; a what's-new
# list.
AnswerKind = Literal["answer", "related", "declined", "empty", "summary", "whatsnew"]
QUOTING_KINDS = frozenset({"answer", "related"})  # the replies that quote a sentence for a question


@dataclass(frozen=True)
class Citation:
    """One quoted sentence and where it comes from; `body[start:end] == sentence`.

    `story` is the story's id (`index.stories`); `label` is how replies name the story: its
    title, with its date or id when another story has the same title.
    """

    article: str
    title: str
    url: str | None
    paragraph: int
    sentence: str
    start: int
    end: int
    score: float
    link: str | None = None
    status: ChangeStatus | None = None
    previous: str | None = None
    story: str = ""
    label: str = ""

    @property
    def source(self) -> str:
        """The story as a reply names it."""
        return self.label or self.title

    def to_json(self) -> dict[str, Any]:
        """The public `--json` shape of a citation; `status`/`previous` only when an update
        added or changed the sentence."""
        data = asdict(self)
        del data["label"]  # presentation: `text` shows it
        data["score"] = round(self.score, 4)
        for key in ("status", "previous"):
            if data[key] is None:
                del data[key]
        return data


@dataclass(frozen=True)
class Answer:
    """A reply: the question, whether the story answers it, how sure we are, and the sources."""

    question: str
    answered: bool
    confidence: float
    citations: list[Citation]
    text: str
    kind: AnswerKind = "answer"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quotes(self) -> bool:
        """Whether the reply quotes a sentence for the question: as its answer, or as the
        closest the story comes (a hedge); a decline lists sentences only as what it covers."""
        return self.kind in QUOTING_KINDS and bool(self.citations)

    @property
    def quoted(self) -> int | None:
        """Which citation the reply quotes as its answer: 0, or None when it quotes none as
        the answer (declined: the citations are the closest sentences; a summary or what's-new
        list quotes every citation)."""
        return 0 if self.kind == "answer" and self.answered and self.citations else None

    def to_json(self) -> dict[str, Any]:
        """The public `--json` shape: question (null for none), answered, confidence, kind,
        text (Telegram HTML), plain (the same as plain text), quoted, citations (and any
        `extra` fields, which never replace those)."""
        data = {
            "question": self.question or None,
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "kind": self.kind,
            "text": self.text,
            "plain": to_plain(self.text),
            "quoted": self.quoted,
            "citations": [c.to_json() for c in self.citations],
        }
        return {**data, **{k: v for k, v in self.extra.items() if k not in data}}


def topics(store: Store, limit: int = 3, catalog: Catalog | None = None) -> str:
    """A short phrase naming the store's stories, for "not in the story" replies and greetings:
    `the story “London talks”`, `the stories “A”, “B”, “C” and 2 more`."""
    stories = [s for s in (catalog or Catalog.of(store)).stories if s.file in store.articles]
    if not stories:
        return "the stories"
    named = ", ".join(f"“{s.label}”" for s in stories[:limit])
    if len(stories) == 1:
        return f"the story {named}"
    more = len(stories) - min(limit, len(stories))
    return f"the stories {named}" + (f" and {more} more" if more > 0 else "")


def cite(store: Store, index: int, score: float, catalog: Catalog | None = None) -> Citation:
    """A Citation for the store's sentence number `index`; a sentence that an update of the
    story changed gets status "changed" and its earlier wording.

    `catalog` names the stories (default: the store's own); a substore is cited with the served
    store's catalog, so that its citations carry the same labels as everywhere else.
    """
    sentence = store.sentences[index]
    article = store.articles[sentence.article]
    story = (catalog or Catalog.of(store)).of_file(article.id)
    previous = store.revised.get(sentence.key)
    link = (
        text_fragment_url(article.url, article.body, sentence.start, sentence.end)
        if article.url
        else None
    )
    return Citation(
        article=article.id,
        title=article.title,
        url=article.url,
        paragraph=sentence.paragraph,
        sentence=sentence.text,
        start=sentence.start,
        end=sentence.end,
        score=score,
        link=link,
        status=None if previous is None else "changed",
        previous=previous,
        story=story.id if story else slug(article.id),
        label=story.label if story else article.title,
    )


def clean_question(text: str) -> str:
    """Whitespace collapsed, control characters dropped, length capped."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:MAX_QUESTION_CHARS]


def distinct(hits: list[Hit], limit: int) -> list[Hit]:
    """Up to `limit` hits, best first, each saying something the better ones do not: the same
    sentence in a story and in its follow-up is listed once.

    "The same" is word for word (case, spacing and punctuation aside), not close in meaning:
    two sentences that differ only in a date or a figure embed almost alike, yet both can be
    the one that answers.
    """
    kept: list[Hit] = []
    seen: set[tuple[str, ...]] = set()
    for hit in hits:
        if len(kept) == limit:
            break
        statement = tuple(words(hit.sentence.text))
        if statement in seen:
            continue
        kept.append(hit)
        seen.add(statement)
    return kept


def from_result(
    store: Store, result: SearchResult, citations: int = 3, catalog: Catalog | None = None
) -> Answer:
    """Turn a search result into a rendered Answer (answer or decline)."""
    catalog = catalog or Catalog.of(store)
    cited = [cite(store, hit.index, hit.score, catalog) for hit in distinct(result.hits, citations)]
    kind: AnswerKind
    if result.answered and cited:
        changed = cited[0].status == "changed"
        text = render(
            "answer",
            citations=cited,
            changed=changed,
            previous=cited[0].previous,
        )
        kind = "answer"
    else:
        text = render(
            "not_in_story",
            citations=cited,
            related=result.related,
            topics=topics(store, catalog=catalog),
            several=len(store.articles) > 1,
        )
        kind = "related" if result.related else "declined"
    return Answer(
        question=result.question,
        answered=bool(result.answered and cited),
        confidence=result.confidence,
        citations=cited,
        text=text,
        kind=kind,
    )


def pass_over(result: SearchResult, avoid: str) -> SearchResult:
    """`result` without its best sentence if that is `avoid` and the next is nearly as good.

    For a follow-up that asks the same question again: the sentence already quoted did not
    satisfy the reader. The confidence stays that of the best sentence, which is why the next
    one must score at least NEARLY times as high.
    """
    hits = result.hits
    if len(hits) < 2 or hits[0].sentence.key != avoid or hits[0].score <= 0:
        return result
    if hits[1].score < NEARLY * hits[0].score:
        return result
    return replace(result, hits=hits[1:])


def read_question(encoder: Encoder, question: str) -> Query | None:
    """The cleaned question encoded, or None when nothing is left of it to ask."""
    cleaned = clean_question(question)
    return read(encoder, cleaned) if cleaned else None


def answer_query(
    store: Store,
    question: str,
    query: Query | None,
    citations: int = 3,
    avoid: str | None = None,
    reader: Reader | None = None,
    catalog: Catalog | None = None,
) -> Answer:
    """Answer `question`, already encoded as `query`, from the store: retrieve candidates,
    let the reader (when given) choose among the best of them, decide, render."""
    if query is None:
        text = render("empty_question", topics=topics(store, catalog=catalog))
        return Answer(question, False, 0.0, [], text, kind="empty")
    result = rank(store, query.vector, query.text, k=max(citations, 10), qtokens=query.tokens)
    if reader is not None:
        result = reread(store, result, reader)
    if avoid is not None:
        result = pass_over(result, avoid)
    return replace(from_result(store, result, citations, catalog), question=question)


def answer_question(
    store: Store,
    encoder: Encoder,
    question: str,
    citations: int = 3,
    avoid: str | None = None,
    reader: Reader | None = None,
) -> Answer:
    """Answer one question from the store, citing the sentence that answers it."""
    query = read_question(encoder, question)
    return answer_query(store, question, query, citations, avoid, reader)
