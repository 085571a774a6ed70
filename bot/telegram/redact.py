"""Redaction: the bot token never leaves the process in logs, error messages or crash output.

The token travels in every Bot API URL (`/bot<token>/sendMessage`, which httpx logs and network
errors may quote) and PTB writes it into `InvalidToken`'s message ("The token `…` was rejected").
So redaction happens where text leaves the process, not where it is made: a log-record factory
covers every logger and every handler (including ones added later, such as pytest's caplog or a
hosting platform's shipper), and `sys.excepthook` covers an uncaught exception's traceback.

Each secret is masked in three forms: the whole token, its URL-encoded form (`%3A` for `:`), and
the part after the colon (the bot id before it is public, the rest is the credential); and any
text shaped like a bot token is masked too, registered or not. The CLI's `Error:` lines go
through the same `redact`.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

MASK = "<token>"
# A bot token whether or not it is the configured one (TELEGRAM_BASE_URL may carry another):
# the bot's id, a colon (or %3A), 30 or more of the characters @BotFather uses.
_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{3,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
_SECRETS: set[str] = set()
_installed = False


def secret_forms(token: str) -> set[str]:
    """The spellings of `token` that must never be printed."""
    forms = {token, token.replace(":", "%3A"), token.replace(":", "%3a")}
    _, _, credential = token.partition(":")
    if len(credential) >= 16:  # shorter halves could collide with ordinary words
        forms.add(credential)
    return {form for form in forms if form}


def redact(text: str) -> str:
    """`text` with every registered secret, and anything shaped like a bot token, replaced by
    `<token>`: the one function every log record, error line and crash output goes through."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return _TOKEN_SHAPE.sub(MASK, text)


def _leaks(text: str) -> bool:
    return any(secret in text for secret in _SECRETS) or _TOKEN_SHAPE.search(text) is not None


def _install() -> None:
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)  # type: ignore[arg-type]
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call; logging reports it on emit
            return record
        if _leaks(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if _leaks(text):
                record.exc_text, record.exc_info = redact(text), None
        if record.stack_info and _leaks(record.stack_info):
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(redacting_record)
    previous_hook = sys.excepthook

    def redacting_hook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        if _leaks(text):
            sys.stderr.write(redact(text))
        else:
            previous_hook(kind, value, tb)

    sys.excepthook = redacting_hook


def redact_in_logs(secret: str) -> None:
    """Mask `secret` in every log record and in the traceback of an uncaught exception."""
    global _installed
    if not secret:
        return
    _SECRETS.update(secret_forms(secret))
    if not _installed:
        _install()
        _installed = True
