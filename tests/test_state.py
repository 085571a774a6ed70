"""Per-chat state: values persist, cooldown slots are taken once per interval."""

from __future__ import annotations

from pathlib import Path

from bot.state import SqliteState


def test_values_survive_reopening(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "state.db")
    state.put(-100, "seen", "build-1")
    state.close()
    again = SqliteState(tmp_path / "state.db")
    assert again.get(-100, "seen") == "build-1"
    assert again.get(-100, "other") is None
    assert again.get(-200, "seen") is None
    again.close()


def test_acquire_allows_once_per_interval_per_chat() -> None:
    state = SqliteState()
    assert state.acquire(1, "summary", 60, now=1000.0) == 0.0
    assert state.acquire(1, "summary", 60, now=1030.0) == 30.0
    assert state.acquire(2, "summary", 60, now=1030.0) == 0.0
    assert state.acquire(1, "summary", 60, now=1061.0) == 0.0
