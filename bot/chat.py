"""The terminal chat: the bot's conversation on stdin/stdout, for local use without Telegram.

Each line is read as a Telegram message would be (`bot.conversation`): a question, or `/ask`,
`/summary [topic] [N]`, `/whatsnew`, `/story`, `/help`, and `/quit` to end. The previous answer
is the implicit reply, so "Who is he?" follows up on it as a Telegram reply would, and the
buttons Telegram shows under it are commands here (`bot.actions`): `/context` (and again, back
to the quote), `/another`, `/good`, `/bad`. The reply is the text the bot would send, with the
HTML turned into plain text. Piped input is answered line by line and the chat ends at end of
input. The chat's state lasts as long as the chat, and so do its questions and votes: they are
kept in a log of their own (`bot.asked`), never mixed with what readers asked the bot.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.actions import Actions, Verb, View
from bot.asked import AskedLog, SqliteAsked
from bot.conversation import Conversation, Reply, parse
from bot.engine import Engine
from bot.followup import Earlier
from bot.state import SqliteState
from bot.templates import to_plain

CHAT_ID = 0
USER = "terminal"  # the asker of every terminal question, hashed like a Telegram user's
QUIT = frozenset({"/quit", "/exit"})
ACTIONS: dict[str, Verb] = {
    "/context": "context",
    "/another": "another",
    "/good": "good",
    "/bad": "bad",
}
NOTHING_TO_ACT_ON = "Ask a question first: /context, /another, /good and /bad act on my answer."
NOTHING_QUOTED = "My last reply quotes no sentence for /context, /another, /good or /bad."


class TerminalChat:
    """One terminal conversation: its state, the answer a next line may follow up on, and the
    view of it the action commands change."""

    def __init__(self, engine: Engine, log: AskedLog | None = None) -> None:
        state = SqliteState(":memory:")
        self.conversation = Conversation(engine, state)
        self.log = log or SqliteAsked(":memory:", engine.settings.question_retention)
        self.actions = Actions(engine, state, self.log, engine.settings.button_expiry)
        self.earlier: Earlier | None = None
        self.view: View | None = None
        self.asked = 0

    def reply_to(self, line: str) -> str | None:
        """The plain-text reply to one line, or None to quit."""
        text = line.strip()
        if text.lower() in QUIT:
            return None
        verb = ACTIONS.get(text.lower())
        if verb is not None:
            return self.act(verb)
        command = parse(text)
        reply = (
            self.conversation.respond(CHAT_ID, command, self.earlier)
            if command is not None
            else Reply(None)
        )
        self.earlier = reply.earlier
        if reply.answer is not None and reply.earlier is not None:
            self.asked += 1
            story = self.conversation.following(CHAT_ID)
            question = reply.earlier.question
            self.view = self.actions.answered(
                CHAT_ID, self.asked, question, reply.answer, USER, story
            )
        return to_plain(reply.html) if reply.html else ""

    def act(self, verb: Verb) -> str:
        """What an action command does to the last answer, as plain text."""
        view = self.view
        if view is None:
            return NOTHING_QUOTED if self.asked else NOTHING_TO_ACT_ON
        if verb == "context" and view.context:
            verb = "quote"
        press = self.actions.press(CHAT_ID, view.key, verb, view.candidate, view.context)
        self.view = press.view or (None if press.drop else view)
        lines = [to_plain(press.html)] if press.html is not None else []
        if press.notice:
            lines.append(press.notice)
        return "\n\n".join(lines)

    def close(self) -> None:
        """Close the log of what was asked."""
        self.log.close()

    def greeting(self) -> str:
        """The help text an interactive chat opens with."""
        return to_plain(self.conversation.help(CHAT_ID))


def run_chat(engine: Engine, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Read questions until end of input (or /quit) and print each answer (default: on the
    standard streams of the moment of the call, which a test runner may have replaced)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    chat = TerminalChat(engine)
    interactive = stdin.isatty()
    if interactive:
        print(chat.greeting(), file=stdout)
    try:
        _converse(chat, stdin, stdout, interactive)
    finally:
        chat.close()


def _converse(chat: TerminalChat, stdin: TextIO, stdout: TextIO, interactive: bool) -> None:
    """Answer lines until end of input or /quit."""
    while True:
        if interactive:
            print("\n> ", end="", file=stdout, flush=True)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            break
        if not line:
            break
        if not line.strip():
            continue
        text = chat.reply_to(line)
        if text is None:
            break
        if not interactive:
            print(f"> {line.strip()}", file=stdout)
        print(text, file=stdout, flush=True)
        if not interactive:
            print(file=stdout)
