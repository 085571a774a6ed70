"""The `storybot` CLI with several stories, end to end through CliRunner: `stories`, `--story`,
summaries of one story, and the JSON fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.answer import QUOTING_KINDS
from bot.cli import cli
from support import NEWSROOM, SEED_STORIES, numbered, run_cli

SEED = "2025-04-23-london-talks"
FOLLOW_UP = "2025-04-24-london-talks"
BUDGET = "2025-05-02-budget-vote"
FIRE = "2025-03-10-harbour-fire"
WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


def test_stories_json_lists_each_story_with_its_id_and_dates(newsroom_args: list[str]) -> None:
    result = run_cli(["stories", "--json", *newsroom_args])
    assert result.exit_code == 0
    stories = {s["id"]: s for s in json.loads(result.output)}
    assert list(stories) == [FIRE, SEED, FOLLOW_UP, BUDGET], "in file order"
    for story in stories.values():
        assert set(story) == {"id", "title", "file", "published", "updated", "sentences"}
    assert stories[SEED] == {
        "id": SEED,
        "title": "London talks",
        "file": f"{SEED}.txt",
        "published": "2025-04-23",
        "updated": "2025-04-23",
        "sentences": 16,
    }
    assert stories[FOLLOW_UP]["title"] == "London talks"
    assert stories[FOLLOW_UP]["updated"].startswith("2025-04-24")
    assert stories[BUDGET]["sentences"] == 4
    plain = run_cli(["stories", *newsroom_args]).output.splitlines()
    assert len(plain) == 4 and plain[1].startswith(SEED) and "16 sentences" in plain[1]


def test_ask_story_answers_from_that_story_only(newsroom_args: list[str]) -> None:
    question = "Who is Steve Witkoff?"
    everywhere = json.loads(run_cli(["ask", "--json", *newsroom_args, question]).output)
    assert everywhere["kind"] in QUOTING_KINDS
    assert WITKOFF in everywhere["citations"][0]["sentence"]
    budget = json.loads(
        run_cli(["ask", "--json", *newsroom_args, "--story", BUDGET, question]).output
    )
    assert budget["answered"] is False and budget["quoted"] is None
    assert {c["story"] for c in budget["citations"]} <= {BUDGET}
    both = run_cli(["ask", "--json", *newsroom_args, "--story", BUDGET, "--story", "1", question])
    assert {c["story"] for c in json.loads(both.output)["citations"]} <= {BUDGET, FIRE}


def test_same_titled_stories_are_cited_apart_and_a_shared_sentence_once(
    newsroom_args: list[str],
) -> None:
    obj = json.loads(run_cli(["ask", "--json", *newsroom_args, "Who is Steve Witkoff?"]).output)
    sentences = [c["sentence"] for c in obj["citations"]]
    assert sum(WITKOFF in s for s in sentences) == 1, "both London talks files carry it"
    assert len(sentences) == 3
    first = obj["citations"][0]
    date = "23 Apr 2025" if first["story"] == SEED else "24 Apr 2025"
    assert f"— London talks, {date}, paragraph {first['paragraph']}" in obj["plain"]
    assert obj["plain"] == obj["plain"].strip() and "<blockquote>" in obj["text"]
    assert "<" not in obj["plain"]


def test_an_unknown_story_is_a_clear_error(newsroom_args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["ask", *newsroom_args, "--story", "sourdough", "Who?"])
    assert result.exit_code == 2
    assert "'sourdough' is no story here" in result.output and SEED in result.output
    assert "Traceback" not in result.output
    ambiguous = CliRunner().invoke(cli, ["summary", *newsroom_args, "--story", "london"])
    assert ambiguous.exit_code == 2 and "matches several stories" in ambiguous.output


def test_show_prints_the_stored_text_that_citations_index(newsroom_args: list[str]) -> None:
    asked = json.loads(
        run_cli(["ask", "--json", *newsroom_args, "Who thanked the delegations?"]).output
    )
    texts = {}
    for citation in asked["citations"]:
        shown = run_cli(["show", "--json", *newsroom_args, citation["story"]])
        assert shown.exit_code == 0, shown.output
        story = json.loads(shown.output)
        assert list(story) == ["id", "title", "file", "url", "published", "updated", "text"]
        assert (story["id"], story["file"]) == (citation["story"], citation["article"])
        assert story["text"][citation["start"] : citation["end"]] == citation["sentence"]
        texts[story["id"]] = story["text"]
    assert FOLLOW_UP in texts and "title:" not in texts[FOLLOW_UP], "front matter is not text"
    plain = run_cli(["show", *newsroom_args, "4"]).output
    budget = json.loads(run_cli(["show", "--json", *newsroom_args, f"{BUDGET}.md"]).output)
    assert plain == (
        "Parliament passes the 2026 budget\n"
        f"{BUDGET}.md (id {BUDGET}; 2025-05-02)\n"
        "\n"
        f"{budget['text']}\n"
    ), "a list number, a file name and the id name the same story"
    header = run_cli(["show", *newsroom_args, FOLLOW_UP]).output.splitlines()[1]
    assert (
        header == f"{FOLLOW_UP}.md (id {FOLLOW_UP}; 2025-04-24, updated 2025-04-24 18:00:00+00:00)"
    )


def test_show_of_an_unknown_story_lists_the_ids(newsroom_args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["show", *newsroom_args, "sourdough"])
    assert result.exit_code == 2
    assert "'sourdough' is no story here" in result.output
    assert all(story in result.output for story in (SEED, FOLLOW_UP, BUDGET, FIRE))
    assert "Traceback" not in result.output
    ambiguous = CliRunner().invoke(cli, ["show", *newsroom_args, "london"])
    assert ambiguous.exit_code == 2 and "matches several stories" in ambiguous.output
    # A number is a list number: 0 is none (before: the story whose id has a "0" in it).
    zero = CliRunner().invoke(cli, ["show", *newsroom_args, "0"])
    assert zero.exit_code == 2 and "'0' is no story here" in zero.output


def test_summary_of_several_stories_is_of_the_latest_one_and_says_so(
    newsroom_args: list[str],
) -> None:
    obj = json.loads(run_cli(["summary", "--json", *newsroom_args]).output)
    assert obj["story"] == BUDGET and obj["question"] is None
    assert {c["story"] for c in obj["citations"]} == {BUDGET}, "never a mix of stories"
    lines = obj["plain"].splitlines()
    assert lines[0] == "Summary of “Parliament passes the 2026 budget”"
    assert lines[1].startswith("The most recently updated of 4 stories; --story ID picks")


def test_summary_story_names_that_story_in_the_header(newsroom_args: list[str]) -> None:
    result = run_cli(["summary", *newsroom_args, "--story", FOLLOW_UP, "-n", "2"])
    lines = result.output.splitlines()
    assert lines[0] == "Summary of “London talks, 24 Apr 2025”"
    assert len(numbered(result.output)) == 2
    assert all("(London talks, 24 Apr 2025, ¶" in line for line in numbered(result.output))
    two = json.loads(
        run_cli(["summary", "--json", *newsroom_args, "--story", SEED, "--story", FIRE]).output
    )
    assert two["story"] == SEED, "the more recently updated of the two"
    assert "of 2 stories" in two["plain"]


def test_a_topic_summary_is_of_the_story_it_is_about_and_not_padded(
    newsroom_args: list[str], seed_args: list[str]
) -> None:
    obj = json.loads(run_cli(["summary", "--json", *newsroom_args, "Crimea"]).output)
    assert obj["story"] == SEED and obj["topic"] == "Crimea" and obj["question"] == "Crimea"
    assert obj["plain"].startswith("What “London talks, 23 Apr 2025” says about “Crimea”")
    assert "Of 4 stories, this one says most about it" in obj["plain"]
    assert 1 <= len(obj["citations"]) < 5, "fewer than five when fewer are about Crimea"
    assert "Crimea" in obj["citations"][0]["sentence"]
    alone = json.loads(run_cli(["summary", "--json", *seed_args, "Crimea"]).output)
    assert [c["sentence"] for c in alone["citations"]] == [c["sentence"] for c in obj["citations"]]
    budget = json.loads(run_cli(["summary", "--json", *newsroom_args, "budget", "-n", "10"]).output)
    assert budget["story"] == BUDGET and len(budget["citations"]) < 4


def test_whatsnew_json_names_the_story_that_changed(tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    shutil.copytree(SEED_STORIES, stories)
    for story in NEWSROOM.iterdir():
        shutil.copy(story, stories / story.name)
    folders = ["--stories", str(stories), "--index", str(tmp_path / "idx")]
    assert run_cli(["index", *folders]).exit_code == 0
    budget = stories / f"{BUDGET}.md"
    budget.write_text(budget.read_text() + "\nThe vote came after a 14-hour debate.\n")
    assert run_cli(["index", *folders]).exit_code == 0
    obj = json.loads(run_cli(["whatsnew", "--json", *folders]).output)
    assert obj["story"] == BUDGET and obj["stories"] == [BUDGET]
    assert obj["question"] is None and obj["quoted"] is None
    (added,) = obj["citations"]
    assert added["story"] == BUDGET and added["sentence"] == "The vote came after a 14-hour debate."
    assert "New: The vote came after a 14-hour debate." in obj["plain"]
    budget_only = json.loads(run_cli(["whatsnew", "--json", *folders, "--story", BUDGET]).output)
    assert budget_only["citations"] == obj["citations"] and budget_only["story"] == BUDGET
    seed_only = json.loads(run_cli(["whatsnew", "--json", *folders, "--story", SEED]).output)
    assert seed_only["citations"] == [] and seed_only["story"] == SEED
    assert seed_only["plain"].startswith("Nothing new since the previous update")
    unknown = CliRunner().invoke(cli, ["whatsnew", *folders, "--story", "sourdough"])
    assert unknown.exit_code == 2 and "'sourdough' is no story here" in unknown.output


def test_a_decline_over_several_stories_says_stories(
    newsroom_args: list[str], seed_args: list[str]
) -> None:
    question = "What is the boiling point of mercury in kelvin?"
    several = run_cli(["ask", *newsroom_args, question]).output
    one = run_cli(["ask", *seed_args, question]).output
    assert "That's not in the stories." in several
    assert "That's not in the story." in one
