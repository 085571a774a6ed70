"""The `storybot` CLI against real files in tmp_path, through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bot.answer import QUOTING_KINDS
from bot.cli import cli
from bot.settings import BotSettings
from index.limits import MAX_SENTENCES
from support import ROOT, write_bad_stories

CITATION_KEYS = ("article", "title", "url", "paragraph", "sentence", "start", "end", "score")


@pytest.fixture
def folders(seed_settings: BotSettings, seed_engine: object) -> list[str]:
    """--stories/--index options pointing at the session's built seed index."""
    return ["--stories", str(seed_settings.stories), "--index", str(seed_settings.index)]


def run(args: list[str], stdin: str | None = None) -> click.testing.Result:
    result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)
    return result


def test_every_command_has_help_with_an_example() -> None:
    assert isinstance(cli, click.Group)
    for name, command in cli.commands.items():
        result = run([name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, name
        assert command.help


# What `storybot --help` must not wait for: each of these takes a noticeable part of a second.
HEAVY = {"numpy", "faiss", "onnxruntime", "torch", "transformers", "telegram", "pydantic"}


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from bot.cli import cli\n"
        "for args in [[], *([name] for name in cli.commands)]:\n"
        "    try:\n"
        "        cli([*args, '--help'], prog_name='storybot')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('loaded:', *sorted({m.split('.')[0] for m in sys.modules} & HEAVY))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: storybot run" in result.stdout
    assert result.stdout.splitlines()[-1] == "loaded:"


def test_ask_json_contract_and_offsets(folders: list[str], seed_settings: BotSettings) -> None:
    result = run(["ask", "--json", *folders, "Who is Steve Witkoff?", "How do I bake bread?"])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 2
    for obj in lines:
        assert {"question", "answered", "confidence", "text", "citations"} <= set(obj)
        assert isinstance(obj["confidence"], float)
        assert obj["citations"], "declined answers still list the closest sentences"
        for c in obj["citations"]:
            assert set(c) >= set(CITATION_KEYS)
            body = (seed_settings.stories / c["article"]).read_text(encoding="utf-8")
            assert body[c["start"] : c["end"]] == c["sentence"]
    answered, declined = lines
    assert answered["kind"] in QUOTING_KINDS
    assert answered["answered"] == (answered["kind"] == "answer")
    assert "Steve Witkoff" in answered["citations"][0]["sentence"]
    assert answered["citations"][0]["sentence"] in answered["plain"]
    assert declined["answered"] is False and declined["kind"] == "declined"


def test_ask_reads_questions_from_stdin(folders: list[str]) -> None:
    stdin = "Who is Steve Witkoff?\n\n   \nWhat is the weather in Paris?\n"
    result = run(["ask", "--json", *folders, "-"], stdin=stdin)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["question"] for line in lines] == [
        "Who is Steve Witkoff?",
        "What is the weather in Paris?",
    ]


def test_ask_plain_prints_the_quote_and_source(folders: list[str]) -> None:
    result = run(["ask", *folders, "Why did Rubio cancel?"])
    assert result.exit_code == 0
    assert "London talks, paragraph" in result.output
    assert "<blockquote>" not in result.output


def test_summary_json_has_the_ask_shape(folders: list[str]) -> None:
    result = run(["summary", *folders, "--sentences", "3", "--json"])
    obj = json.loads(result.output)
    assert obj["answered"] is True
    assert len(obj["citations"]) == 3
    assert set(obj) == {
        *("question", "answered", "confidence", "text", "citations"),
        *("kind", "plain", "quoted", "story", "topic"),
    }
    assert obj["question"] is None and obj["topic"] is None, "never the command, /summary"
    assert obj["story"] == "2025-04-23-london-talks" and obj["quoted"] is None
    assert obj["plain"].startswith("Summary of “London talks”\n1. ")
    assert "<" not in obj["plain"] and obj["text"].startswith("<b>Summary of")


def test_summary_length_defaults_to_the_setting_and_has_one_bound(folders: list[str]) -> None:
    env = {"STORYBOT_SUMMARY_SENTENCES": "2"}
    two = CliRunner().invoke(cli, ["summary", "--json", *folders], env=env)
    assert len(json.loads(two.output)["citations"]) == 2, "no -n: the setting's length"
    longest = run(["summary", "--json", *folders, "-n", str(MAX_SENTENCES)])
    assert len(json.loads(longest.output)["citations"]) == MAX_SENTENCES
    over = CliRunner().invoke(cli, ["summary", *folders, "-n", str(MAX_SENTENCES + 1)])
    assert over.exit_code == 2 and f"1<=x<={MAX_SENTENCES}" in over.output
    with pytest.raises(ValidationError, match=f"less than or equal to {MAX_SENTENCES}"):
        BotSettings(summary_sentences=MAX_SENTENCES + 1)


def test_index_warns_about_bad_files_and_strict_fails(stories_dir: Path, tmp_path: Path) -> None:
    (stories_dir / "bad.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    args = ["index", "--stories", str(stories_dir), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Indexed 1 article, 16 sentences, 14 passages in " in result.output
    assert "skipped bad.txt" in result.output
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code != 0
    assert "--strict" in strict.output


def test_index_tells_each_stage_then_sums_up_in_one_line(stories_dir: Path, tmp_path: Path) -> None:
    args = ["index", "--stories", str(stories_dir), "--index", str(tmp_path / "idx")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    stages = [
        "1 article: 16 sentences, 14 passages",
        "Embedding 16 sentences and their word pieces",
        "Embedding 14 passages",
        "Saving build ",
        "Indexed 1 article, 16 sentences, 14 passages in ",
    ]
    lines = first.output.splitlines()
    found = [next(i for i, line in enumerate(lines) if line.startswith(s)) for s in stages]
    assert found == sorted(found), first.output
    assert lines[-1].endswith(f"s (30 embedded, 0 reused) → {tmp_path / 'idx'}")
    again = CliRunner().invoke(cli, args)
    assert "Embedding" not in again.output, "nothing changed, so nothing is embedded"
    assert again.output.splitlines()[-1].endswith(f"s (0 embedded, 30 reused) → {tmp_path / 'idx'}")


def test_index_of_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    args = ["index", "--stories", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "no readable stories" in result.output
    assert all(suffix in result.output for suffix in (".txt", ".md", ".markdown", ".html"))
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["index"], ["ask", "Who?"]])
def test_a_missing_stories_folder_is_named_as_missing(tmp_path: Path, command: list[str]) -> None:
    folders = ["--stories", str(tmp_path / "nowhere"), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(cli, [command[0], *folders, *command[1:]])
    assert result.exit_code == 1
    assert f"Error: no such folder: {tmp_path / 'nowhere'} (the stories folder)" in result.output
    assert "Traceback" not in result.output


def test_index_names_every_bad_file_indexes_the_rest_and_strict_fails(
    stories_dir: Path, tmp_path: Path
) -> None:
    bad = write_bad_stories(stories_dir)
    args = ["index", "--stories", str(stories_dir), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Indexed 1 article, " in result.output
    for name, words in bad.items():
        (line,) = [x for x in result.output.splitlines() if f"warning: skipped {name}:" in x]
        assert words in line
    assert "Traceback" not in result.output
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code == 1
    assert f"{len(bad)} story file(s) skipped (--strict)" in strict.output


def test_chat_answers_piped_questions_and_exits(folders: list[str]) -> None:
    result = run(["chat", *folders], stdin="Where is Witkoff going?\n/summary ceasefire\n")
    assert result.exit_code == 0
    assert "Steve Witkoff" in result.output
    assert "What “London talks” says about “ceasefire”" in result.output


def test_whatsnew_json_lists_changed_and_added_sentences(stories_dir: Path, tmp_path: Path) -> None:
    folders = ["--stories", str(stories_dir), "--index", str(tmp_path / "idx")]
    assert run(["index", *folders]).exit_code == 0
    first = json.loads(run(["whatsnew", "--json", *folders]).output)
    assert first["answered"] is False and first["citations"] == []
    story = stories_dir / "2025-04-23-london-talks.txt"
    body = story.read_text(encoding="utf-8")
    story.write_text(
        body.replace("on April 23", "on Wednesday, April 23") + "\nThe talks ended at 6 p.m.\n",
        encoding="utf-8",
    )
    assert run(["index", *folders]).exit_code == 0
    result = run(["whatsnew", "--json", *folders])
    obj = json.loads(result.output)
    assert {"question", "answered", "confidence", "text", "citations"} <= set(obj)
    assert obj["answered"] is True and obj["since"] == first["build"]
    changed, added = obj["citations"]
    assert (changed["status"], added["status"]) == ("changed", "added")
    assert added["sentence"] == "The talks ended at 6 p.m." and "previous" not in added
    assert "on April 23" in changed["previous"] and "on Wednesday, April 23" in changed["sentence"]
    for c in obj["citations"]:
        assert set(c) >= set(CITATION_KEYS)
        assert story.read_text(encoding="utf-8")[c["start"] : c["end"]] == c["sentence"]
    plain = run(["whatsnew", *folders]).output
    assert plain.startswith("What's new since the previous update")
    assert "Before: U.S., U.K., German" in plain


def test_whatsnew_since_what_is_not_a_build_id_is_an_error_naming_the_builds(
    folders: list[str],
) -> None:
    result = run(["whatsnew", "--since", "nope", *folders])
    assert result.exit_code == 2
    assert "'nope' is not a build id" in result.output
    assert "Nothing new" not in result.output
    current = json.loads(run(["whatsnew", "--json", *folders]).output)["build"]
    assert current in result.output, "the builds it knows are listed"
    assert "storybot whatsnew --json" in result.output
    since_2000 = run(["whatsnew", "--since", "20000101-000000.000000000", *folders])
    assert since_2000.exit_code == 0
    assert "New: " in since_2000.output, "any build-id time works: all of the story is newer"
