"""A full disk and read-only folders (issue 20, rows 7 and 9): one `Error:` line, never a
traceback; a failed build leaves nothing behind and the build before it keeps serving.

The disks are real: a small tmpfs, remounted read-only where a test needs one. Mounting needs
root (or CAP_SYS_ADMIN); where it is not allowed the tests skip, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.settings import BotSettings
from index.store import current_build, load_store
from support import NEWSROOM, run_cli, run_env, storybot_run

Mount = Callable[..., Path]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Mount]:
    """`disk(size, read_only=False)`: a tmpfs of `size` mounted in tmp_path (skips where mounting
    is not allowed); unmounted after the test."""
    mounted: list[Path] = []

    def mount(
        size: str, read_only: bool = False, prepare: Callable[[Path], object] = print
    ) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs root")
        mounted.append(point)
        if read_only:
            prepare(point)
            subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        return point

    try:
        yield mount
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_disk_is_one_line_leaves_nothing_behind_and_the_served_build_stays(
    disk: Mount, tmp_path: Path
) -> None:
    stories = tmp_path / "stories"
    shutil.copytree(NEWSROOM, stories)
    index = disk("512k") / "index"
    folders = ["--stories", str(stories), "--index", str(index)]
    first = run_cli(["index", *folders])
    assert first.exit_code == 0, first.output
    served = current_build(index)
    assert served is not None
    for n in range(40):  # about 1.7 MB of index: three times the disk
        for story in NEWSROOM.iterdir():
            (stories / f"copy{n}-{story.name}").write_bytes(story.read_bytes())
    full = run_cli(["index", *folders])
    assert full.exit_code == 1, full.output
    errors = full.stderr.strip().splitlines()
    assert errors[-1].startswith(f"Error: disk full: {index.parent}/index.builds ran out of space")
    assert errors[-1].endswith(
        f"what it wrote was removed, and the index still serves build {served.name}"
    )
    assert "Traceback" not in full.output
    assert [p.name for p in (index.parent / "index.builds").iterdir()] == [served.name]
    assert current_build(index) == served
    assert load_store(index).build_id == served.name  # whole, checksums and all
    for copy in stories.glob("copy*"):
        copy.unlink()
    stories.joinpath("2025-05-02-budget-vote.md").write_text(
        NEWSROOM.joinpath("2025-05-02-budget-vote.md").read_text() + "\nA late amendment failed.\n"
    )
    again = run_cli(["index", *folders])  # space again: the next build goes through
    assert again.exit_code == 0, again.output
    assert current_build(index) != served


def test_a_read_only_index_folder_is_one_error_line(disk: Mount, tmp_path: Path) -> None:
    read_only = disk("1m", read_only=True, prepare=lambda point: (point / "var").mkdir())
    result = run_cli(
        ["index", "--stories", str(NEWSROOM), "--index", str(read_only / "var" / "index")]
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot write the build lock {read_only}/var/index.lock (Read-only file system); "
        "choose an index folder storybot can write (--index or STORYBOT_INDEX)"
    )
    assert "Traceback" not in result.output


def test_a_read_only_chat_state_is_one_error_line(
    disk: Mount, seed_settings: BotSettings, tmp_path: Path
) -> None:
    read_only = disk("1m", read_only=True)
    token = "918273645:AAZebraQuokka_DoNotLeak_7f3c9e1b2d4a"
    state = str(read_only / "state.db")
    env = run_env(seed_settings, tmp_path, "http://127.0.0.1:9", token, STORYBOT_STATE=state)
    result = storybot_run(env, tmp_path)  # fails before it would reach the Bot API
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot open the chat state {read_only}/state.db (unable to open database "
        "file); set STORYBOT_STATE to a file storybot can write"
    )
    assert "Traceback" not in result.stdout + result.stderr
