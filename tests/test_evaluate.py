"""`storybot eval` and `storybot tune` through click's CliRunner, on a tiny set in tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from support import SEED_STORIES

QUESTIONS = {
    "story": "2025-04-23-london-talks.txt",
    "answerable": [
        {
            "question": "Who is Steve Witkoff?",
            "gold": ["His envoy, Steve Witkoff, is expected to visit Russia"],
        },
        {
            "question": "Why was the meeting downgraded?",
            "gold": ["The meeting was to be held at a ministerial level"],
        },
    ],
    "unanswerable": [{"question": "How do I bake sourdough bread?", "kind": "off-topic"}],
}


def test_eval_prints_a_table_for_a_tiny_set(tmp_path: Path) -> None:
    shutil.copytree(SEED_STORIES, tmp_path / "stories")
    seed = tmp_path / "questions.json"
    seed.write_text(json.dumps(QUESTIONS))
    env = {"STORYBOT_INDEX": str(tmp_path / "index"), "STORYBOT_QUERY_ENCODER": "torch"}
    args = ["eval", "--set", "seed", "--seed", str(seed), "--stories", str(tmp_path / "stories")]
    args += ["--cache", str(tmp_path / "cache")]
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 0, result.output
    header, _rule, row = result.output.strip().splitlines()
    assert header.startswith("| set | questions (ans/unans) | P@1 | MRR@10 | R@5 |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "questions"
    assert cells[1] == "2/1"
    assert float(cells[2]) == 1.0  # both questions cite their gold sentence first
    assert cells[8] == "1.00"  # the off-topic question is declined
    assert list((tmp_path / "cache").iterdir())  # the index was cached under --cache


def test_eval_reports_a_missing_set_without_a_traceback(tmp_path: Path) -> None:
    args = ["eval", "--set", "test", "--squad", str(tmp_path), "--cache", str(tmp_path / "c")]
    result = CliRunner(env={"STORYBOT_INDEX": str(tmp_path / "index")}).invoke(cli, args)
    assert result.exit_code == 1
    assert "cannot read the evaluation set" in result.output


def test_tune_refuses_the_test_set(tmp_path: Path) -> None:
    (tmp_path / "test.json").write_text("{}")
    result = CliRunner().invoke(cli, ["tune", "--dev", str(tmp_path / "test.json")])
    assert result.exit_code == 1
    assert "not allowed" in result.output
