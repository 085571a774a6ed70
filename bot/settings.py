"""The bot's settings: the index settings plus Telegram and answering knobs.

`python -m bot.settings` prints them as README's Configuration table; `make docs` rewrites the
table in README.md, and tests/test_settings.py fails when the two differ.
"""

import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from index.errors import BadToken
from index.limits import MAX_SENTENCES, SUMMARY_SENTENCES
from index.settings import IndexSettings

TELEGRAM_API = "https://api.telegram.org"
# A token as @BotFather issues it: the bot's numeric id, a colon, then the secret (35 characters
# today; 30 leaves room without letting a truncated paste through).
TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")
TOKEN_EXAMPLE = "123456789:AAE…"
MAX_CONNECT_WAIT = 60.0  # seconds: the start-up backoff doubles up to this, then stays


class BotSettings(IndexSettings):
    """Everything the bot, the terminal chat and the CLI read from the environment."""

    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "token"),
        description="Bot token from @BotFather; without it the terminal chat runs.",
    )
    base_url: str = Field(
        default=TELEGRAM_API,
        validation_alias=AliasChoices("TELEGRAM_BASE_URL", "base_url"),
        description="Bot API server (tests use a local fake).",
    )
    connect_retries: int = Field(
        default=10,
        ge=0,
        description="Start-up retries while the Bot API server is unreachable, one log line "
        "each, before giving up (0: give up at once).",
    )
    connect_backoff: float = Field(
        default=1.0,
        gt=0,
        description="Seconds before the first start-up retry; each wait doubles, to at most "
        f"{MAX_CONNECT_WAIT:g}.",
    )
    state: Path = Field(
        default=Path("var/state.db"), description="Per-chat state (SQLite file, or `:memory:`)."
    )
    citations: int = Field(default=3, ge=1, le=10, description="Sentences listed per answer.")
    answer_cache: int = Field(
        default=256,
        ge=0,
        description="Answers a worker keeps per index build, for questions asked again word "
        "for word (0 keeps none: every question is answered afresh).",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to; unset means long polling.",
    )
    port: int = Field(
        default=8080,
        validation_alias=AliasChoices("PORT", "port"),
        description="Port the webhook server listens on (hosting platforms set PORT).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret Telegram sends with each webhook call; generated when unset "
        "(required with `STORYBOT_REDIS_URL`: every worker must accept the same one).",
    )
    webhook_listen: str = Field(
        default="0.0.0.0", description="Address the webhook server listens on (with `PORT`)."
    )
    webhook_max_connections: int = Field(
        default=40,
        ge=1,
        le=100,
        description="Connections Telegram may open to the webhook at once (`setWebhook`), "
        "for all workers together.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=100,
        description="How many `storybot run` workers share the bot token: each sends at most "
        "1/N of Telegram's flood limits (30 messages a second, 20 a minute per group).",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis shared by several workers (rate limits, cooldowns, per-chat state, "
        "repeated updates, published builds); unset: one worker, nothing shared, no server.",
    )
    redis_prefix: str = Field(
        default="storybot",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of every Redis key and channel, so bots (or tests) can share a Redis.",
    )
    query_encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="`onnx`: questions are encoded by the model's ONNX export (fast start, no "
        "torch); `torch`: by sentence-transformers.",
    )
    models: Path | None = Field(
        default=None,
        description="Folder for the model's ONNX export, made once per model and reused; "
        "unset: `models/` beside the index folder.",
    )
    reader: str = Field(
        default="",
        description="Trained reader folder; empty means the shipped index/reader, `off` "
        "answers from retrieval alone.",
    )
    summary_sentences: int = Field(
        default=SUMMARY_SENTENCES,
        ge=1,
        le=MAX_SENTENCES,
        description="Sentences in a summary that asks for no number (/summary, storybot summary).",
    )
    summary_cooldown: float = Field(
        default=60.0, ge=0, description="Seconds between two /summary replies in one group."
    )
    follow_interval: float = Field(
        default=600.0,
        ge=0,
        description="Seconds between two updates posted to a chat that used /follow; what "
        "changes in between goes out merged into the next.",
    )
    channels: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated channels whose posts become stories in "
        "`stories/telegram/` (ids like -1001234567890, or @usernames); the bot must be an admin "
        "of each. Empty reads none.",
    )
    button_expiry: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds the buttons under an answer (Context, Another sentence, 👍/👎) keep "
        "working; a press after that gets a notice to ask again.",
    )
    question_retention: int = Field(
        default=30,
        ge=0,
        description="Days the questions readers asked, their outcome and their 👍/👎 are kept "
        "(for /asked and `storybot asked`), without user ids; 0 keeps nothing and shows no "
        "👍/👎.",
    )
    allowed_chats: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated chat ids the bot serves (a user's id for a private chat); "
        "empty serves everyone.",
    )
    admins: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), description="Comma-separated user ids allowed the admin commands."
    )
    rate_limit: int = Field(
        default=10, ge=0, description="Questions per user per minute; 0 turns the limit off."
    )

    @field_validator("allowed_chats", "admins", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        """`"12, -100345"` → {12, -100345}; lists and sets pass through."""
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("channels", mode="before")
    @classmethod
    def _channel_list(cls, value: Any) -> Any:
        """`"-1001234567890, @Newsroom"` → {"-1001234567890", "@newsroom"} (usernames are
        case-insensitive); anything else is refused by name."""
        parts = value.replace(";", ",").split(",") if isinstance(value, str) else value
        channels = set()
        for part in parts:
            name = str(part).strip()
            if re.fullmatch(r"-?[0-9]+", name):
                channels.add(str(int(name)))
            elif re.fullmatch(r"@?[A-Za-z][A-Za-z0-9_]{3,31}", name):
                channels.add("@" + name.removeprefix("@").lower())
            elif name:
                raise ValueError(f"{name!r} is not a channel id (like -1001234567890) or @username")
        return frozenset(channels)

    def reads_channel(self, chat_id: int, username: str | None) -> bool:
        """Whether STORYBOT_CHANNELS names this channel, by id or by @username."""
        named = username is not None and f"@{username.lower()}" in self.channels
        return named or str(chat_id) in self.channels

    def bot_token(self) -> str:
        """The token, or BadToken (which never quotes it) unless it has a bot token's shape."""
        if self.token is None:
            raise BadToken("TELEGRAM_BOT_TOKEN is not set")
        token = self.token.get_secret_value()
        if not TOKEN_SHAPE.fullmatch(token):
            raise BadToken(
                f"TELEGRAM_BOT_TOKEN is not a bot token ({_token_flaw(token)}); a token from "
                f"@BotFather is digits, a colon, then 30 or more letters, digits, _ or -, "
                f"like {TOKEN_EXAMPLE}"
            )
        return token

    def api_urls(self) -> tuple[str, str]:
        """PTB's `base_url` and `base_file_url` for the configured Bot API server."""
        root = self.base_url.rstrip("/")
        for suffix in ("/bot", "/file/bot"):
            root = root.removesuffix(suffix)
        return f"{root}/bot", f"{root}/file/bot"


def _token_flaw(token: str) -> str:
    """What is wrong with a malformed token, in words that reveal none of it."""
    bot_id, colon, secret = token.partition(":")
    if not token:
        return "it is empty"
    if token != token.strip():
        return "it has spaces or a line break around it"
    if token[0] in "\"'" or token[-1] in "\"'":
        return "it is in quotes"
    if token.lower().startswith("bot"):
        return "it starts with 'bot', which belongs only in Bot API URLs"
    if not colon:
        return "it has no colon"
    if not bot_id.isdigit():
        return "the part before the colon is not a number"
    if len(secret) < 30:
        return f"the part after the colon has only {len(secret)} characters"
    return "the part after the colon has characters other than letters, digits, _ or -"


TABLE_START = "<!-- settings table: generated from bot/settings.py by `make docs` -->"
TABLE_END = "<!-- end of settings table -->"


def env_name(field: str) -> str:
    """The environment variable a field is read from: its first alias, else the prefixed name."""
    alias = BotSettings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{BotSettings.model_config.get('env_prefix', '')}{field}".upper()


def _default(value: Any) -> str:
    """A default as the table shows it: `None` → —, an empty value → empty, `60.0` → `60`."""
    if value is None:
        return "—"
    if isinstance(value, str | frozenset) and not value:
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def settings_table() -> str:
    """Every setting as a Markdown table row: variable, default, meaning (its description)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in BotSettings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name)}` | {_default(field.default)} | {meaning} |")
    return "\n".join(rows) + "\n"


def with_settings_table(text: str) -> str:
    """`text` (README.md) with the table between its two marker lines regenerated."""
    head, start, rest = text.partition(TABLE_START + "\n")
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"no {TABLE_START!r} … {TABLE_END!r} markers")
    return head + start + settings_table() + end + tail


if __name__ == "__main__":  # `python -m bot.settings [README.md]`: print, or rewrite the file
    if len(sys.argv) > 1:
        readme = Path(sys.argv[1])
        readme.write_text(with_settings_table(readme.read_text()))
    else:
        print(settings_table(), end="")
