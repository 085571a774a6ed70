"""The bot's settings: the index settings plus Telegram and answering knobs."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from index.settings import IndexSettings

TELEGRAM_API = "https://api.telegram.org"


class BotSettings(IndexSettings):
    """Everything the bot, the terminal chat and the CLI read from the environment."""

    token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "token")
    )
    base_url: str = Field(
        default=TELEGRAM_API, validation_alias=AliasChoices("TELEGRAM_BASE_URL", "base_url")
    )
    state: Path = Field(
        default=Path("var/state.db"), description="Per-chat state (SQLite file, or :memory:)."
    )
    citations: int = Field(default=3, ge=1, le=10, description="Sentences listed per answer.")
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
        description="Secret Telegram sends with each webhook call; generated when unset.",
    )
    query_encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="Encode questions with the model's ONNX export (fast start, no torch) or "
        "with sentence-transformers.",
    )
    reader: str = Field(
        default="",
        description="Trained reader folder; empty means the shipped index/reader, `off` "
        "answers from retrieval alone.",
    )
    summary_sentences: int = Field(default=5, ge=1, le=10)
    summary_cooldown: float = Field(
        default=60.0, ge=0, description="Seconds between two /summary replies in one group."
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

    def api_urls(self) -> tuple[str, str]:
        """PTB's `base_url` and `base_file_url` for the configured Bot API server."""
        root = self.base_url.rstrip("/")
        for suffix in ("/bot", "/file/bot"):
            root = root.removesuffix(suffix)
        return f"{root}/bot", f"{root}/file/bot"
