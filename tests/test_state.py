"""Per-chat state: values persist, cooldown slots are taken once per interval."""

from __future__ import annotations

from pathlib import Path

from bot.state import SqliteState
from support import swap_concurrently


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


def test_swap_hands_each_old_value_to_one_caller() -> None:
    # /whatsnew swaps the build a chat has seen: of two at once, only one gets the old build.
    state = SqliteState()
    assert state.swap(5, "seen_build", "b0") is None
    olds = swap_concurrently(state, 5)
    assert sorted([*olds, state.get(5, "seen_build")]) == sorted(
        ["b0", *(f"b{i}" for i in range(1, 41))]
    )


def test_sets_keep_order_and_each_member_once(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "state.db")
    for chat in (30, 10, 20, 10):
        state.enlist("followers", chat, True)
    state.enlist("followers", 99, False)  # not in: nothing happens
    assert state.members("followers") == [30, 10, 20]
    state.enlist("followers", 30, False)
    assert SqliteState(tmp_path / "state.db").members("followers") == [10, 20]
