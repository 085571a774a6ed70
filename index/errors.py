"""Every exception storybot raises (the index library's and the bot's); the CLI and the bot
translate them at the edges."""

import errno


class StorybotError(Exception):
    """Base class: a problem worth a friendly one-line message, not a traceback."""


class IndexNotBuilt(StorybotError):
    """No index exists in the index folder yet."""


class IndexMismatch(StorybotError):
    """The saved index was built by another format or model than this code expects."""


class IndexCorrupt(StorybotError):
    """A file of the saved index is missing, truncated or fails its checksum."""


class EmptyCorpus(StorybotError):
    """The stories folder holds no readable article."""


class IndexBusy(StorybotError):
    """Another build holds the index lock."""


class NotAnIndex(StorybotError):
    """The index path holds something a build did not make; building there would destroy it."""


class BadArticle(StorybotError):
    """One story file cannot be read; it is reported by name and skipped."""


class BadToken(StorybotError):
    """TELEGRAM_BOT_TOKEN cannot be a bot token; refused before anything connects."""


class TelegramUnreachable(StorybotError):
    """The Bot API server did not answer at start-up, however often it was retried."""


class UnknownBuild(StorybotError):
    """A build id given by hand (whatsnew --since) is not one; the message lists known ones."""


class BadEvalSet(StorybotError):
    """An evaluation file is missing, malformed or points at text that is not in its story."""


class TrainingInputMissing(StorybotError):
    """Training needs a file or model that is missing, cannot be fetched or does not match."""


class BadSettings(StorybotError):
    """The settings contradict each other (for example several workers without a shared
    webhook secret); the message says which to set."""


class NotOurs(StorybotError):
    """A story file storybot would write (a channel post's) is in the way: storybot did not
    write it, or someone edited it since; it is left as it is."""


class ExportRefused(StorybotError):
    """An export's file exists and is not an earlier export, so it is left untouched."""


class CannotWrite(StorybotError):
    """A file storybot writes (the index, its lock, the chat state, a story) cannot be written:
    a full disk, a read-only file system, no permission; the message names it and says why."""


def os_reason(exc: OSError) -> str:
    """What an OSError means for whoever can fix it, in a few words: `disk full`, else its
    strerror (`Read-only file system`, `Permission denied`)."""
    if exc.errno == errno.ENOSPC:
        return "disk full"
    return exc.strerror or str(exc)
