"""The actions under an answer — Context, Another sentence, 👍/👎 — for Telegram's buttons and the
terminal chat's /context, /another, /good and /bad.

When a question is answered, `Actions.answered` logs it (`bot.asked`) and, for a reply that
quotes a sentence, keeps in the per-chat state what the buttons need: the question, the build,
the reply as sent and its candidates (the answer's citations, best first). It is kept under a
short key, the asking message's id, in a ring of SLOTS per chat as follow-up records are, so a
button's data (`ctx:0:1234`) stays far inside Telegram's 64 bytes and any worker can act on it.
`Actions.press` turns a press into what the message shows next and a short notice:

- Context: the shown sentence in bold inside its paragraph, verbatim; Quote goes back.
- Another sentence: the next candidate; when none is left, a notice says so and nothing changes.
  (The candidates are the answer's own ranking, not a new search with `avoid`: that passes
  over a sentence only when the next is nearly as good, and a reader who asks for another
  sentence wants one.)
- 👍/👎: one vote per candidate shown, taken by a `swap` of its state key, so a second press
  (on any worker) is "already counted" and the other thumb changes the vote; the button then
  shows ✓. Not offered when STORYBOT_QUESTION_RETENTION is 0, since nothing would be kept.

A press gets a notice instead, never an exception, when the record is gone or older than
STORYBOT_BUTTON_EXPIRY, when the index was rebuilt since (Context and Another: the candidates
belong to the old build; a vote still counts, for the sentence the reader saw), or in a group
when the presser is not the asker (the record keeps a salted hash of the asker, not the id).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bot.answer import Answer, Citation
from bot.asked import Ask, AskedLog, Mark, asker_hash
from bot.engine import Engine
from bot.state import ChatState
from bot.templates import render
from index.splitter import paragraphs
from index.store import Store
from index.stories import Story

SLOTS = 256
RECORD_PREFIX = "buttons:"
VOTE_PREFIX = "buttons-vote:"
BUTTON_PREFIXES = (RECORD_PREFIX, VOTE_PREFIX)  # expire after STORYBOT_BUTTON_EXPIRY in Redis
QUESTION_KINDS = frozenset({"answer", "related", "declined"})  # replies to a question
MAX_CONTEXT_CHARS = 3000  # a paragraph longer than this is shown around the sentence

Verb = Literal["context", "quote", "another", "good", "bad"]
CODES: dict[Verb, str] = {
    "context": "ctx",
    "quote": "quo",
    "another": "nxt",
    "good": "up",
    "bad": "dn",
}
_VERBS: dict[str, Verb] = {code: verb for verb, code in CODES.items()}
# `<verb>:<candidate>[c]:<key>`; `c`: the paragraph is shown.
DATA_PATTERN = r"^(?:ctx|quo|nxt|up|dn):\d{1,2}c?:\d{1,19}$"
_DATA = re.compile(r"(\w+):(\d+)(c?):(\d+)")

EXPIRED = "These buttons have expired. Ask the question again to get fresh ones."
FOREIGN = "These buttons are for the reader who asked. Ask your own question to get yours."
REBUILT = (
    "The story has been updated since this answer. Ask again to be answered from the latest "
    "version."
)
NONE_LEFT = "No other sentence comes close: that was the last one."
COUNTED = {
    "good": "Thanks! Counted: this sentence answered the question.",
    "bad": "Thanks! Counted: this sentence did not answer the question.",
}
ALREADY = "Already counted. Thanks!"
NOT_KEPT = "Votes are not kept here (STORYBOT_QUESTION_RETENTION is 0)."


@dataclass(frozen=True)
class View:
    """What an answer's message shows: which candidate, in its paragraph or not, the vote on it,
    and whether 👍/👎 are offered."""

    key: int
    candidate: int = 0
    context: bool = False
    vote: str | None = None
    voting: bool = True

    def data(self, verb: Verb) -> str:
        """A button's callback data: `ctx:0:1234` (at most 26 bytes)."""
        return f"{CODES[verb]}:{self.candidate}{'c' if self.context else ''}:{self.key}"

    def buttons(self) -> list[list[tuple[str, str]]]:
        """Rows of (label, callback data)."""
        rows = [
            [
                ("Quote", self.data("quote"))
                if self.context
                else ("Context", self.data("context")),
                ("Another sentence", self.data("another")),
            ]
        ]
        if self.voting:
            rows.append(
                [
                    ("👍 ✓" if self.vote == "good" else "👍", self.data("good")),
                    ("👎 ✓" if self.vote == "bad" else "👎", self.data("bad")),
                ]
            )
        return rows


def parse_data(data: str) -> tuple[Verb, int, bool, int] | None:
    """`ctx:0:1234` → ("context", 0, False, 1234); None for data that is not a button's."""
    match = _DATA.fullmatch(data)
    if match is None or match[1] not in _VERBS:
        return None
    return _VERBS[match[1]], int(match[2]), bool(match[3]), int(match[4])


@dataclass(frozen=True)
class Press:
    """What a press does: a notice for the presser; the message's new text (None: unchanged);
    its buttons from now on (None: unchanged); `drop`: take the buttons away."""

    notice: str | None = None
    html: str | None = None
    view: View | None = None
    drop: bool = False


@dataclass(frozen=True)
class Record:
    """What an answer's buttons act on, kept in the per-chat state."""

    key: int
    ask: str
    question: str
    build: str
    html: str
    citations: list[Citation]
    owner: str | None
    at: float

    def dump(self) -> str:
        data: dict[str, Any] = {**asdict(self), "citations": [asdict(c) for c in self.citations]}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def load(cls, raw: str | None, key: int) -> Record | None:
        """The record of `key` from its JSON; None when the slot holds another's, or a shape
        this version cannot read (it expires like a missing one)."""
        try:
            data = json.loads(raw) if raw else None
            if not isinstance(data, dict) or data.get("key") != key:
                return None
            citations = [Citation(**c) for c in data.pop("citations")]
            return cls(**data, citations=citations)
        except (ValueError, TypeError, KeyError):
            return None


def context_html(store: Store, citation: Citation) -> str:
    """The quoted sentence in bold inside its paragraph, verbatim (around the sentence when the
    paragraph is very long), with its source."""
    article = store.articles.get(citation.article)
    start, end = citation.start, citation.end
    before = after = ""
    if article is not None and article.body[start:end] == citation.sentence:
        body = article.body
        span = next(((s, e) for s, e in paragraphs(body) if s <= start and end <= e), None)
        if span is not None:
            room = max(0, MAX_CONTEXT_CHARS - (end - start)) // 2
            before, after = body[span[0] : start], body[end : span[1]]
            if len(before) > room:
                before = "…" + before[len(before) - room :].partition(" ")[2]
            if len(after) > room:
                after = after[:room].rpartition(" ")[0] + "…"
    return render(
        "context", citation=citation, before=before, sentence=citation.sentence, after=after
    )


class Actions:
    """Answers' buttons over the engine, the per-chat state and the log of what was asked."""

    def __init__(
        self, engine: Engine, state: ChatState, log: AskedLog, expiry: float = 86400.0
    ) -> None:
        self.engine, self.state, self.log, self.expiry = engine, state, log, expiry
        self._salt: bytes | None = None

    def owner(self, chat_id: int, user: object | None) -> str | None:
        """The asker of a group's answer as its record keeps them: a salted hash."""
        if user is None:
            return None
        return asker_hash(self.salt(), f"buttons:{chat_id}", user)

    def answered(
        self,
        chat_id: int,
        key: int,
        question: str,
        answer: Answer,
        user: object | None = None,
        following: Story | None = None,
    ) -> View | None:
        """Log a question's answer and keep what its buttons need; the buttons to show under
        it, or None (a reply that quotes no sentence, or no question at all).

        `key` is the asking message's id; `user` who asked (None: the group itself, whose
        buttons anyone may press); `following` the story the chat follows, if any.
        """
        if answer.kind not in QUESTION_KINDS:
            return None
        first = answer.citations[0] if answer.citations else None
        story = following.id if following else (first.story if first else None)
        file = following.file if following else (first.article if first else None)
        ask_id = uuid.uuid4().hex[:16]
        now = time.time()
        if self.log.keeps:
            asker = asker_hash(self.salt(), story, user if user is not None else chat_id)
            self.log.add(Ask(ask_id, question, answer.kind, story, file, asker, now))
        if not answer.quotes:  # buttons only under a reply that quotes a sentence
            return None
        record = Record(
            key,
            ask_id,
            question,
            self.engine.store.build_id,
            answer.text,
            list(answer.citations),
            self.owner(chat_id, user),
            now,
        )
        self.state.put(chat_id, f"{RECORD_PREFIX}{key % SLOTS}", record.dump())
        return View(key, voting=self.log.keeps)

    def sent_as(self, chat_id: int, key: int, html: str) -> None:
        """The answer of `key` went out as `html` (a comment's reply quoting its post, say):
        Quote brings that back."""
        slot = f"{RECORD_PREFIX}{key % SLOTS}"
        record = Record.load(self.state.get(chat_id, slot), key)
        if record is not None:
            self.state.put(chat_id, slot, replace(record, html=html).dump())

    def salt(self) -> bytes:
        """The log's salt, read once."""
        if self._salt is None:
            self._salt = self.log.salt()
        return self._salt

    def press(
        self,
        chat_id: int,
        key: int,
        verb: Verb,
        candidate: int,
        context: bool = False,
        user: object | None = None,
        private: bool = True,
        now: float | None = None,
    ) -> Press:
        """What pressing `verb` on the message showing `candidate` (in its paragraph when
        `context`) of answer `key` does, for `user` (in a group, only the asker may)."""
        now = time.time() if now is None else now
        record = Record.load(self.state.get(chat_id, f"{RECORD_PREFIX}{key % SLOTS}"), key)
        if record is None or now - record.at > self.expiry:
            return Press(EXPIRED, drop=True)
        if not 0 <= candidate < len(record.citations):
            return Press(EXPIRED, drop=True)
        if not private and record.owner and record.owner != self.owner(chat_id, user):
            return Press(FOREIGN)
        if verb in ("good", "bad"):
            return self.vote(chat_id, record, verb, candidate, context, now)
        if record.build != self.engine.store.build_id:
            return Press(REBUILT)
        if verb == "another":
            if candidate + 1 >= len(record.citations):
                return Press(NONE_LEFT)
            candidate, context = candidate + 1, False
        else:
            context = verb == "context"
        view = View(key, candidate, context, self.vote_on(chat_id, key, candidate), self.log.keeps)
        return Press(None, self.html(record, candidate, context), view)

    def html(self, record: Record, candidate: int, context: bool) -> str:
        """The message showing `candidate`: the reply as sent for the first, the next ones
        quoted in turn, or the candidate in its paragraph."""
        citation = record.citations[candidate]
        if context:
            return context_html(self.engine.store, citation)
        if candidate == 0:
            return record.html
        return render(
            "another",
            citation=citation,
            number=candidate + 1,
            count=len(record.citations),
            question=record.question,
        )

    def vote_on(self, chat_id: int, key: int, candidate: int) -> str | None:
        """The vote on `candidate` of answer `key`, if any."""
        raw = self.state.get(chat_id, f"{VOTE_PREFIX}{key % SLOTS}:{candidate}")
        owner, _, vote = (raw or "").partition(":")
        return vote if owner == str(key) else None

    def vote(
        self, chat_id: int, record: Record, vote: Verb, candidate: int, context: bool, now: float
    ) -> Press:
        """Count a 👍/👎 on `candidate` once, however often it is pressed, on any worker."""
        if not self.log.keeps:
            return Press(NOT_KEPT)
        mine = f"{record.key}:{vote}"
        old = self.state.swap(chat_id, f"{VOTE_PREFIX}{record.key % SLOTS}:{candidate}", mine)
        if old == mine:
            return Press(ALREADY)
        c = record.citations[candidate]
        self.log.mark(
            Mark(
                record.ask,
                candidate,
                vote,
                record.question,
                c.sentence,
                c.paragraph,
                c.story or None,
                c.article,
                now,
            )
        )
        return Press(COUNTED[vote], view=View(record.key, candidate, context, vote))
