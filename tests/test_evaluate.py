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
    header, _rule, row = result.output.strip().splitlines()[:3]
    assert header.startswith("| set | questions (ans/unans) | P@1 | MRR@10 | R@5 |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "seed"
    assert cells[1] == "2/1"
    assert float(cells[2]) == 1.0  # both questions cite their gold sentence first
    assert cells[8] == "1.00"  # the off-topic question is declined
    assert list((tmp_path / "cache").iterdir())  # the index was cached under --cache


NEWS = {
    "2025-04-23-london-talks.txt": "London talks\n\nThe talks were held in London on "
    "Wednesday. Rubio cancelled his trip.",
    "2025-03-10-harbour-fire.txt": "Harbour fire\n\nA fire broke out in the harbour on "
    "Monday. Nobody was hurt.",
}


def questions_file(folder: Path, stories_dir: str | None = None) -> Path:
    """A set in newsqa's shape: two stories, an answerable, a not-in-story and an off-topic
    question, and one still to be judged (which the evaluation leaves out)."""
    stories = folder / (stories_dir or "stories")
    stories.mkdir(parents=True)
    for name, text in NEWS.items():
        (stories / name).write_text(text, encoding="utf-8")
    data: dict[str, object] = {
        "stories": [{"file": name} for name in NEWS],
        "questions": [
            {
                "story": "2025-03-10-harbour-fire.txt",
                "q": "was anyone hurt in the fire",
                "kind": "answerable",
                "gold": ["Nobody was hurt."],
            },
            {
                "story": "2025-03-10-harbour-fire.txt",
                "q": "how much damage did the fire do?",
                "kind": "not_in_story",
                "gold": [],
            },
            {"story": "2025-04-23-london-talks.txt", "q": "best pizza?", "kind": "off_topic"},
            {"story": "2025-04-23-london-talks.txt", "q": "who?", "kind": "unlabelled"},
        ],
    }
    if stories_dir:
        data["stories_dir"] = str(stories)
    path = folder / "asked.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_questions_file_is_scored_per_story_and_as_one_newsroom(tmp_path: Path) -> None:
    path = questions_file(tmp_path / "set", stories_dir="elsewhere")
    env = {"STORYBOT_INDEX": str(tmp_path / "index"), "STORYBOT_QUERY_ENCODER": "torch"}
    args = ["eval", "--set", str(path), "--cache", str(tmp_path / "cache")]
    args += ["--risk-plot", str(tmp_path / "risk.png")]
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    ranking = [line for line in lines if line.startswith("| asked")]
    # Three tables (ranking, replies, risk–coverage), each with the per-story and newsroom rows.
    assert [line.split("|")[1].strip() for line in ranking] == ["asked", "asked (newsroom)"] * 3
    cells = [c.strip() for c in ranking[0].strip("|").split("|")]
    assert cells[1] == "1/2"  # the unlabelled question is left out
    assert float(cells[2]) == 1.0  # "Nobody was hurt." quoted first
    assert cells[8] == "1.00"  # the off-topic question declined
    assert any(line.startswith("| set (coverage / risk) | ≥ 0 |") for line in lines)
    assert (tmp_path / "risk.png").read_bytes()[:4] == b"\x89PNG"


def test_a_questions_file_with_gold_missing_from_its_story_is_refused(tmp_path: Path) -> None:
    path = questions_file(tmp_path)
    data = json.loads(path.read_text())
    data["questions"][0]["gold"] = ["Three people were hurt."]
    path.write_text(json.dumps(data))
    args = ["eval", "--set", str(path), "--cache", str(tmp_path / "cache")]
    result = CliRunner(env={"STORYBOT_INDEX": str(tmp_path / "index")}).invoke(cli, args)
    assert result.exit_code == 1
    assert "gold sentence not in 2025-03-10-harbour-fire.txt" in result.output


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
