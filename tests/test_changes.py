"""Noticing changes in the stories folder: once per burst of edits, after it is still."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from index.changes import folder_state, wait_for_change


def test_state_follows_story_files_only(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("One.")
    first = folder_state(tmp_path)
    (tmp_path / "notes.yaml").write_text("x: 1")  # not a story
    (tmp_path / ".hidden.txt").write_text("Hidden.")
    assert folder_state(tmp_path) == first
    (tmp_path / "a.txt").write_text("One, edited.")
    assert folder_state(tmp_path) != first


def test_a_burst_of_edits_is_one_change_after_the_folder_is_still(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("One.")
    start = folder_state(tmp_path)

    def editor() -> None:
        for i in range(5):  # five saves 0.1 s apart
            time.sleep(0.1)
            (tmp_path / f"b{i}.txt").write_text(f"Story {i}.")

    thread = threading.Thread(target=editor)
    began = time.monotonic()
    thread.start()
    state = wait_for_change(tmp_path, start, debounce=0.4, poll=0.05)
    thread.join()
    assert state is not None and len(state) == 6  # all five new files, seen at once
    assert time.monotonic() - began >= 0.5 + 0.4 - 0.1
    stopped = wait_for_change(tmp_path, state, poll=0.01, stop=lambda: True)
    assert stopped is None
