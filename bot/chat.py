"""The terminal chat: the bot's answer path on stdin/stdout, for local use without Telegram.

Each line is a question (or `/summary [topic]`, `/whatsnew`, `/help`, `/quit`); the reply is the
same text the bot would send, with the HTML turned into plain text. Piped input is answered line
by line and the chat ends at end of input.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.answer import Answer, topics
from bot.engine import Engine
from bot.templates import render, to_plain


def reply_to(engine: Engine, line: str) -> Answer | str | None:
    """The reply to one chat line: an Answer, a plain help text, or None to quit."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    match command.lower():
        case "/quit" | "/exit":
            return None
        case "/help" | "/start":
            return to_plain(render("help", topics=topics(engine.store)))
        case "/summary":
            return engine.summary(rest.strip() or None)
        case "/whatsnew":
            return engine.whatsnew()
        case _:
            return engine.ask(text)


def run_chat(engine: Engine, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Read questions until end of input (or /quit) and print each answer."""
    interactive = stdin.isatty()
    if interactive:
        print(to_plain(render("help", topics=topics(engine.store))), file=stdout)
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
        reply = reply_to(engine, line)
        if reply is None:
            break
        text = reply if isinstance(reply, str) else to_plain(reply.text)
        if not interactive:
            print(f"> {line.strip()}", file=stdout)
        print(text, file=stdout, flush=True)
        if not interactive:
            print(file=stdout)
