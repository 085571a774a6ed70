"""Follow-ups: a reply to one of the bot's answers is read in the light of the question it answered.

"Who is he?" means nothing on its own; as a reply to the answer to "Who is the US envoy?" it asks
about the envoy. Two rules, both about the reply's own words:

1. A reply that leans on the earlier question — it has a pronoun ("he", "it", "they", "that") or
   is only a few words ("When?", "And Rubio?") — is searched as the earlier question followed by
   the reply; a reply that stands on its own is searched as it is.
2. A reply that asks the earlier question again — the same question word ("who" after "who") and
   no content word the earlier question lacked — means the quoted sentence did not answer it, so
   that sentence is passed over when another is nearly as good (`bot.answer.pass_over`).
   "When?" after "What did Trump threaten?" asks something new and may get the same sentence.

The combined text is remembered for the bot's new answer, so a chain of follow-ups keeps its
subject (capped at MAX_CONTEXT_CHARS, oldest words dropped first). What each of the bot's
messages answered lives in the per-chat state (`bot.state`), in a ring of SLOTS keys per chat:
bounded, and each write is a single `put`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from bot.state import ChatState
from index.lexical import tokenize, words

SLOTS = 256
SHORT_WORDS = 3
MAX_CONTEXT_CHARS = 300
PRONOUNS = frozenset(
    """he him his himself she her hers herself it its itself they them their theirs themselves
    this that these those there then""".split()
)
QUESTION_WORDS = frozenset("who whom whose what which where when why how".split())


@dataclass(frozen=True)
class Earlier:
    """What one of the bot's messages answered: the question and the quoted sentence's id."""

    question: str
    quoted: str | None = None


# Follow-up records are kept under these keys (a ring of SLOTS per chat); a shared store lets
# them expire, while a chat's choices (its story, what it follows) are kept.
RECORD_PREFIX = "question:"


def remember(state: ChatState, chat_id: int, message_id: int, earlier: Earlier) -> None:
    """Record what the bot's message `message_id` answered."""
    value = json.dumps({"message": message_id, **asdict(earlier)}, ensure_ascii=False)
    state.put(chat_id, f"{RECORD_PREFIX}{message_id % SLOTS}", value)


def recall(state: ChatState, chat_id: int, message_id: int) -> Earlier | None:
    """What the bot's message `message_id` answered, if it is still remembered."""
    raw = state.get(chat_id, f"{RECORD_PREFIX}{message_id % SLOTS}")
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("message") != message_id:
        return None
    question, quoted = data.get("question"), data.get("quoted")
    if not isinstance(question, str):
        return None
    return Earlier(question, quoted if isinstance(quoted, str) else None)


def _words(text: str) -> list[str]:
    """The words, each cut at its apostrophe (`he's` → `he`, a pronoun)."""
    return [word.split("'")[0] for word in words(text)]


def leans_on_context(question: str) -> bool:
    """Whether a question needs the earlier one to make sense: a pronoun, or very short."""
    words = _words(question)
    return len(words) <= SHORT_WORDS or any(w in PRONOUNS for w in words)


def asks_again(earlier: str, question: str) -> bool:
    """Whether `question` repeats `earlier`: same question word, no new content word.

    >>> asks_again("Who is the US envoy?", "Who is he?"), asks_again("Who is he?", "When?")
    (True, False)
    """
    asked = next((w for w in _words(question) if w in QUESTION_WORDS), None)
    if asked is None or asked not in _words(earlier):
        return False
    return not set(tokenize(question)) - set(tokenize(earlier)) - QUESTION_WORDS - PRONOUNS


def with_context(earlier: str | None, question: str) -> str:
    """The text to search for a reply: `earlier` + `question` when the reply leans on it.

    >>> with_context("Who is the US envoy?", "Who is he?")
    'Who is the US envoy? Who is he?'
    >>> with_context("Who is the US envoy?", "Which ministers were in the delegation?")
    'Which ministers were in the delegation?'
    """
    if not earlier or not question.strip() or not leans_on_context(question):
        return question
    context = " ".join(earlier.split())
    if len(context) > MAX_CONTEXT_CHARS:
        context = context[-MAX_CONTEXT_CHARS:].partition(" ")[2] or context[-MAX_CONTEXT_CHARS:]
    return f"{context} {question.strip()}"


def follow_up(earlier: Earlier | None, question: str) -> tuple[str, str | None]:
    """The text to search for a reply to the bot, and the sentence id to pass over (or None)."""
    if earlier is None:
        return question, None
    avoid = earlier.quoted if asks_again(earlier.question, question) else None
    return with_context(earlier.question, question), avoid
