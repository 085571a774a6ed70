"""`make install` says what it is doing, shows pip's errors, and reinstalls only when needed.

The real Makefile runs in a copy of the project whose `.venv/bin/python` is a stand-in that
records its arguments and plays pip: the recipe's plumbing (step lines, error output, the stamp)
is what is tested, without minutes of real installs.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from support import ROOT

PIP_ERROR = "ERROR: No matching distribution found for storybot-no-such-package"
STAND_IN = f"""#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
case "$*" in
  *" -e . "*) if [ -n "$FAIL_EDITABLE" ]; then echo "{PIP_ERROR}" >&2; exit 1; fi ;;
esac
exit 0
"""
STEPS = ["Installing torch 2.13.0 (CPU)...", "Installing storybot and dev tools..."]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile and pyproject.toml with a stand-in venv python."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STAND_IN)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def make_install(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Run as a top-level make even under `make test`, whose MAKEFLAGS would leak in.
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", "install"],
        cwd=project,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def stamps(project: Path) -> list[Path]:
    return list((project / ".venv").glob(".installed-*"))


def test_a_failing_install_shows_the_steps_and_pips_error_and_leaves_no_stamp(
    project: Path,
) -> None:
    result = make_install(project, FAIL_EDITABLE="1")
    assert result.returncode != 0
    assert [line for line in result.stdout.splitlines() if line in STEPS] == STEPS
    assert PIP_ERROR in result.stderr, "pip's own error is what a reader needs"
    assert stamps(project) == []


def test_a_good_install_is_one_line_per_step_and_a_second_run_does_nothing(
    project: Path,
) -> None:
    first = make_install(project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "Upgrading pip...",
        *STEPS,
        "Installed into .venv.",
    ]
    assert first.stderr == ""
    (stamp,) = stamps(project)
    calls = (project / ".venv" / "bin" / "calls.log").read_text().splitlines()
    assert len(calls) == 3 and "torch==2.13.0" in calls[1] and "-e . --group dev" in calls[2]
    second = make_install(project)
    assert second.returncode == 0
    assert "Installing" not in second.stdout
    assert (project / ".venv" / "bin" / "calls.log").read_text().splitlines() == calls
    assert stamps(project) == [stamp]
