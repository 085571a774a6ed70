"""The terminal chat: the bot's conversation on stdin/stdout, for local use without Telegram.

Each line is read as a Telegram message would be (`bot.conversation`): a question, or `/ask`,
`/summary [topic] [N]`, `/whatsnew`, `/story`, `/help`, and `/quit` to end. The previous answer
is the implicit reply, so "Who is he?" follows up on it as a Telegram reply would. The reply is
the text the bot would send, with the HTML turned into plain text. Piped input is answered line
by line and the chat ends at end of input. The chat's state lasts as long as the chat.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.conversation import Conversation, Reply, parse
from bot.engine import Engine
from bot.followup import Earlier
from bot.state import SqliteState
from bot.templates import to_plain

CHAT_ID = 0
QUIT = frozenset({"/quit", "/exit"})


class TerminalChat:
    """One terminal conversation: its state, and the answer a next line may follow up on."""

    def __init__(self, engine: Engine) -> None:
        self.conversation = Conversation(engine, SqliteState(":memory:"))
        self.earlier: Earlier | None = None

    def reply_to(self, line: str) -> str | None:
        """The plain-text reply to one line, or None to quit."""
        text = line.strip()
        if text.lower() in QUIT:
            return None
        command = parse(text)
        reply = (
            self.conversation.respond(CHAT_ID, command, self.earlier)
            if command is not None
            else Reply(None)
        )
        self.earlier = reply.earlier
        return to_plain(reply.html) if reply.html else ""

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
