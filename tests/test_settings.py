"""Settings: where each is read from, and README's Configuration table generated from them."""

from __future__ import annotations

import pytest

from bot.settings import (
    TABLE_END,
    TABLE_START,
    BotSettings,
    env_name,
    settings_table,
    with_settings_table,
)
from support import ROOT


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("token", "TELEGRAM_BOT_TOKEN"),
        ("base_url", "TELEGRAM_BASE_URL"),
        ("port", "PORT"),
        ("stories", "STORYBOT_STORIES"),
        ("reader", "STORYBOT_READER"),
        ("summary_cooldown", "STORYBOT_SUMMARY_COOLDOWN"),
    ],
)
def test_env_name_is_the_alias_or_the_prefixed_field(field: str, variable: str) -> None:
    assert env_name(field) == variable


def test_every_setting_has_a_row_and_a_meaning() -> None:
    table = settings_table()
    for name, field in BotSettings.model_fields.items():
        assert field.description, f"BotSettings.{name} needs Field(description=...)"
        assert f"| `{env_name(name)}` |" in table


def test_a_stale_table_is_regenerated_and_text_around_it_kept() -> None:
    stale = f"intro\n{TABLE_START}\n| `STORYBOT_GONE` | `1` | removed |\n{TABLE_END}\nafter\n"
    fresh = with_settings_table(stale)
    assert fresh == f"intro\n{TABLE_START}\n{settings_table()}{TABLE_END}\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        with_settings_table("a README without the markers")


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme == with_settings_table(readme), (
        "README.md's Configuration table is out of date: run `make docs` "
        "(python -m bot.settings README.md)"
    )
