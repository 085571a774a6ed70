"""The conversation: what a message to the bot means, and the reply it gets, in every front end.

The terminal chat (`bot/chat.py`) and Telegram (`bot/telegram/handlers.py`) both read a message
with `parse` and answer it with `Conversation.respond`, so they understand the same commands —
`/ask`, `/summary [topic] [N]`, `/whatsnew`, `/story [N|id|all]`, `/help` (and `/start`) — give
an unknown command the same helpful reply, follow up the same way (`bot.followup`; the front end
says which earlier answer a message replies to) and meet a greeting or thanks with a short
friendly reply instead of searching the stories for "hello".

What a chat has seen and the story it follows live in the per-chat state (`bot.state`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.answer import Answer, topics
from bot.engine import Engine
from bot.followup import Earlier, follow_up
from bot.state import ChatState, follow_story, followed_story
from bot.templates import render
from index.limits import MAX_SENTENCES
from index.splitter import sentence_key
from index.stories import Story, display_date, quoted_ref

SEEN_BUILD = "seen_build"
EVERY_STORY = frozenset({"all", "every", "any", "*"})
MAX_SMALL_TALK_WORDS = 6
GREETINGS = frozenset(
    "hello hi hey hiya howdy hallo greetings yo morning afternoon evening".split()
)
THANKS = frozenset("thanks thank thx ty cheers ta".split())
# Words that may sit beside a greeting or thanks without making it a question.
POLITE = frozenset(
    "you so much a lot very many there good all everyone again ok okay great bot storybot dear "
    "and".split()
)
_WORD = re.compile(r"[^\W\d_]+")

Kind = Literal[
    "question", "ask", "summary", "whatsnew", "story", "help", "unknown", "greeting", "thanks"
]


@dataclass(frozen=True)
class Command:
    """One message, understood: its kind, its text (the question, topic, story reference or the
    unknown command's name) and, for `/summary`, the number of sentences asked for."""

    kind: Kind
    text: str = ""
    count: int | None = None


@dataclass(frozen=True)
class Reply:
    """What the bot says back (HTML; None: nothing), the Answer behind it, and what a reply to
    it follows up on."""

    html: str | None
    answer: Answer | None = None
    earlier: Earlier | None = None


def summary_args(args: Sequence[str]) -> tuple[str | None, int | None]:
    """`/summary [topic] [N]` arguments: a trailing whole number is N (clamped to 1..10).

    >>> summary_args(["ceasefire", "talks", "3"])
    ('ceasefire talks', 3)
    """
    count = None
    if args and args[-1].isdecimal():
        count = max(1, min(int(args[-1]), MAX_SENTENCES))
        args = args[:-1]
    return " ".join(args) or None, count


def small_talk(text: str) -> Literal["greeting", "thanks"] | None:
    """Whether a message is only a greeting or a thanks (a few polite words, no question).

    >>> small_talk("Thanks!"), small_talk("hi there"), small_talk("Hi, who is Witkoff?")
    ('thanks', 'greeting', None)
    """
    words = _WORD.findall(text.casefold())
    if not words or len(words) > MAX_SMALL_TALK_WORDS:
        return None
    if any(w not in GREETINGS | THANKS | POLITE for w in words):
        return None
    if any(w in THANKS for w in words):
        return "thanks"
    return "greeting" if any(w in GREETINGS for w in words) else None


def parse(text: str, username: str | None = None) -> Command | None:
    """What a message asks for; None for a command addressed to another bot (`/ask@other`).

    >>> parse("/summary@storybot Crimea 2", "storybot")
    Command(kind='summary', text='Crimea', count=2)
    >>> parse("/ask Who is Rubio?").text, parse("/foo").kind
    ('Who is Rubio?', 'unknown')
    """
    text = text.strip()
    if not text.startswith("/"):
        return Command(small_talk(text) or "question", text)
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    name, _, target = word[1:].partition("@")
    if target and username and target.lower() != username.lower():
        return None
    match name.lower():
        case "start" | "help":
            return Command("help")
        case "ask":
            return Command(small_talk(rest) or "ask", rest)
        case "summary":
            topic, count = summary_args(rest.split())
            return Command("summary", topic or "", count)
        case "whatsnew":
            return Command("whatsnew")
        case "story" | "stories":
            return Command("story", rest)
        case _:
            return Command("unknown", name)


class Conversation:
    """Replies to parsed messages from the engine, keeping each chat's state."""

    def __init__(self, engine: Engine, state: ChatState) -> None:
        self.engine = engine
        self.state = state

    def following(self, chat_id: int) -> Story | None:
        """The story this chat follows, if it still is in the index."""
        story_id = followed_story(self.state, chat_id)
        return self.engine.catalog.get(story_id) if story_id else None

    def respond(
        self,
        chat_id: int,
        command: Command,
        earlier: Earlier | None = None,
        username: str | None = None,
        may_summarise: Callable[[], Reply | None] | None = None,
    ) -> Reply:
        """The reply to `command` in chat `chat_id`.

        `earlier` is what the message replies to (a follow-up); `username` is the bot's in
        Telegram (None in the terminal); `may_summarise`, called just before a summary is
        made, returns the reply to send instead (a group's cooldown) or None to go ahead.
        """
        story = self.following(chat_id)
        scope = [story] if story else []
        match command.kind:
            case "help":
                return Reply(self.help(chat_id, username))
            case "greeting" | "thanks":
                return Reply(render("small_talk", kind=command.kind, topics=self.topics(story)))
            case "unknown":
                return Reply(render("unknown_command", command=command.text))
            case "story":
                return Reply(self.story(chat_id, command.text))
            case "summary":
                if story is None and not command.text and len(self.engine.catalog) > 1:
                    return Reply(self.stories(chat_id, asking=True))
                blocked = may_summarise() if may_summarise else None
                if blocked is not None:
                    return blocked
                build = self.engine.store.build_id
                answer = self.engine.summary(
                    command.text or None, command.count, scope, picker="/story"
                )
                self.state.put(chat_id, SEEN_BUILD, build)
                return Reply(answer.text, answer)
            case "whatsnew":
                # Swapped in one step before anything is listed: of two /whatsnew at once (on
                # one worker or two) only one is handed the old build, so only one lists.
                build = self.engine.store.build_id
                seen = self.state.swap(chat_id, SEEN_BUILD, build)
                answer = self.engine.whatsnew(seen, scope)
                if answer.extra["build"] != build:  # a newer build was served meanwhile
                    self.state.put(chat_id, SEEN_BUILD, answer.extra["build"])
                return Reply(answer.text, answer)
            case _:
                return self.ask(command.text, earlier, scope)

    def ask(self, question: str, earlier: Earlier | None, scope: list[Story]) -> Reply:
        """Answer a question (a follow-up of `earlier` when it leans on it)."""
        text, avoid = follow_up(earlier, question)
        answer = self.engine.ask(text, avoid, scope)
        first = answer.citations[0] if answer.quotes else None
        quoted = sentence_key(first.article, first.sentence) if first else None
        return Reply(answer.text, answer, Earlier(text, quoted))

    def topics(self, story: Story | None) -> str:
        """What this chat is answered about, for greetings and help."""
        return (
            f"the story “{story.label}”"
            if story
            else topics(self.engine.store, catalog=self.engine.catalog)
        )

    def help(self, chat_id: int, username: str | None = None) -> str:
        """The help text, saying which story the chat follows, if it follows one."""
        story = self.following(chat_id)
        return render(
            "help",
            topics=self.topics(story),
            following=story.label if story else None,
            username=username,
            stories=len(self.engine.catalog),
        )

    def stories(
        self,
        chat_id: int,
        asking: bool = False,
        problem: str | None = None,
        only: Sequence[Story] | None = None,
    ) -> str:
        """The numbered list of stories (or of `only` those), marking the one followed."""
        catalog = self.engine.catalog
        story = self.following(chat_id)
        listed: list[dict[str, Any]] = [
            {
                "number": catalog.number(s),
                "title": s.title,
                "date": display_date(s.published),
                "id": s.id,
            }
            for s in (catalog.stories if only is None else only)
        ]
        return render(
            "stories",
            stories=listed,
            count=len(catalog),
            following=story.id if story else None,
            asking=asking,
            problem=problem,
        )

    def story(self, chat_id: int, ref: str) -> str:
        """`/story`: list the stories; `/story N`, `/story ID` or `/story all` picks."""
        if not ref:
            return self.stories(chat_id)
        catalog = self.engine.catalog
        if ref.casefold() in EVERY_STORY:
            follow_story(self.state, chat_id, None)
            return render("story_followed", story=None, count=len(catalog))
        found = catalog.find(ref)
        if len(found) == 1:
            follow_story(self.state, chat_id, found[0].id)
            return render("story_followed", story=found[0].label, count=len(catalog))
        if not found:
            return self.stories(chat_id, problem=f"No story matches “{quoted_ref(ref)}”.")
        problem = f"“{quoted_ref(ref)}” matches {len(found)} stories; pick one by its number or id."
        return self.stories(chat_id, problem=problem, only=found)
